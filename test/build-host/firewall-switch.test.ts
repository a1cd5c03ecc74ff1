/**
 * The host-side dead-man switch (providers/host/ufw-switch.ts) as a state machine, on a real
 * testbed host with real ufw: one pending change at most, settle-before-arm, a switch never undoes
 * a change it did not arm, confirm stops it, boot settles a change whose switch died, uninstall
 * gives back the original firewall and leaves no g8os file.
 */
import * as assert from "assert";
import { pollUntil } from "../../providers/shared/retry";
import {
  armCommand,
  confirmCommand,
  parseArm,
  parseStatus,
  policyCommand,
  RESTORE_BOUND_SEC,
  statusCommand,
  SWITCH_PATH,
  switchScript,
  uninstallCommand,
} from "../../providers/host/ufw-switch";
import { useTestbed, type TestHost } from "../testbed";
import { resetHost } from "./fixtures";

describe("ufw dead-man switch state machine (testbed host)", function () {
  this.timeout(180_000);
  const tb = useTestbed(this, { hosts: 4, services: [] });
  let host: TestHost;
  const policy = { interfaceName: "ztswitch0", sshPort: 22 };

  const sh = async (cmd: string) => {
    const r = await tb().exec(host.name, cmd);
    return { ...r, out: r.stdout.trim() };
  };
  const ok = async (cmd: string) => {
    const r = await sh(cmd);
    assert.strictEqual(r.code, 0, `${cmd}: ${r.stdout} ${r.stderr}`);
    return r.out;
  };
  const status = async (token = "") => parseStatus(await ok(statusCommand(token || undefined)))!;
  /** Process groups of running switches (`switch fire`) on this host. */
  const switches = async () =>
    (
      await sh(
        // The machine's pid namespace is shared: count only processes in this host's network namespace.
        `for p in $(pgrep -f '[s]witch fire'); do [ "$(readlink /proc/$p/ns/net)" = "$(readlink /proc/self/ns/net)" ] && echo $p; done; true`,
      )
    ).out
      .split("\n")
      .filter(Boolean).length;
  const ufwActive = async () => /Status: active/.test(await ok("ufw status"));
  const marker = async () => (await ok("ufw show added")).includes("4321/tcp");

  before(async () => {
    host = tb().host("g8t-h4");
    await resetHost(tb(), host);
    await sh("rm -rf /var/lib/g8os/firewall");
  });
  beforeEach(async () => {
    // Start from what a user had: ufw inactive with one rule of their own, no g8os state.
    await sh(`[ -f ${SWITCH_PATH} ] && sh ${SWITCH_PATH} uninstall; rm -rf /var/lib/g8os/firewall`);
    await resetHost(tb(), host);
    await ok("ufw allow 4321/tcp >/dev/null");
    const r = await tb().exec(host.name, `mkdir -p /var/lib/g8os/firewall && cat > ${SWITCH_PATH}`, {
      stdin: switchScript(),
    });
    assert.strictEqual(r.code, 0, r.stderr);
  });
  after(async () => {
    if (!host) return;
    await sh(`[ -f ${SWITCH_PATH} ] && sh ${SWITCH_PATH} uninstall; rm -rf /var/lib/g8os/firewall`);
    await resetHost(tb(), host);
  });

  it("arm, policy, then the switch restores the original firewall after T", async () => {
    // T outlasts the policy step (ufw takes seconds per command on a loaded machine).
    const a = parseArm(await ok(armCommand("aa01", 20)))!;
    assert.strictEqual(a.token, "aa01");
    assert.strictEqual(a.deadline - a.hostNow, 20);
    assert.match(await ok(policyCommand("aa01", policy)), /applied aa01/);
    assert.ok(await ufwActive());
    assert.ok(!(await marker()), "the lockdown replaced the user's rule");
    assert.deepStrictEqual(
      (await ok("ls /etc/ufw")).split("\n").filter((f) => /\.\d{8}_\d{6}$/.test(f)),
      [],
      "ufw's reset backups are removed",
    );
    await pollUntil(
      async () => ((await status("aa01")).outcome === "reverted" ? true : { pending: "waiting" }),
      {
        timeoutMs: 40_000,
        intervalMs: 500,
        what: "the switch to fire",
      },
    );
    assert.ok(!(await ufwActive()), "back to inactive");
    assert.ok(await marker(), "the user's rule is back");
    assert.strictEqual(await switches(), 0);
  });

  it("a policy still running at its deadline stops before its next ufw step; the switch restores within the bound", async () => {
    // Slow ufw (2 s a command), as under emulation or with the session that ran it killed.
    const slow = `/tmp/g8t-slow-ufw-${host.name}`;
    await ok(
      `mkdir -p ${slow} && printf '#!/bin/sh\\nsleep 2\\nexec /usr/sbin/ufw "$@"\\n' > ${slow}/ufw && chmod +x ${slow}/ufw`,
    );
    try {
      const a = parseArm(await ok(armCommand("dd01", 5)))!;
      const r = await sh(`PATH=${slow}:$PATH ${policyCommand("dd01", policy)}`);
      assert.strictEqual(r.code, 5, `policy exit status: ${r.stdout} ${r.stderr}`);
      assert.match(r.out, /deadline passed before: ufw /);
      await pollUntil(
        async () => ((await status("dd01")).outcome === "reverted" ? true : { pending: "waiting" }),
        { timeoutMs: (5 + RESTORE_BOUND_SEC + 10) * 1000, intervalMs: 500, what: "the switch to fire" },
      );
      const revertedAt = Number(await ok("stat -c %Y /var/lib/g8os/firewall/outcome.dd01"));
      assert.ok(
        revertedAt <= a.deadline + RESTORE_BOUND_SEC,
        `restored ${revertedAt - a.deadline} s after the deadline (bound ${RESTORE_BOUND_SEC} s)`,
      );
      assert.ok(!(await ufwActive()), "back to inactive");
      assert.ok(await marker(), "the user's rule is back");
      assert.deepStrictEqual(
        (await ok("ls /etc/ufw")).split("\n").filter((f) => /\.\d{8}_\d{6}$/.test(f)),
        [],
        "no reset backups left",
      );
    } finally {
      await sh(`rm -rf ${slow}`);
    }
  });

  it("arming the same token again is a no-op: one switch, one deadline", async () => {
    const first = parseArm(await ok(armCommand("bb01", 60)))!;
    const again = parseArm(await ok(armCommand("bb01", 60)))!;
    assert.ok(again.again, "reported as already armed");
    assert.strictEqual(again.deadline, first.deadline);
    assert.strictEqual(await switches(), 1);
  });

  it("a new apply settles an unconfirmed change first: back to the confirmed state, its switch gone", async () => {
    await ok(armCommand("cc01", 60));
    await ok(policyCommand("cc01", policy));
    assert.ok(await ufwActive());
    const out = await ok(armCommand("cc02", 60));
    assert.match(out, /^settled cc01$/m);
    assert.ok(!(await ufwActive()), "the unconfirmed lockdown was undone, not taken as 'previous'");
    assert.ok(await marker());
    assert.strictEqual((await status("cc01")).outcome, "cancelled");
    assert.strictEqual((await status()).pending?.token, "cc02");
    assert.strictEqual(await switches(), 1, "only the new switch runs");
    // cc01's policy may no longer run: it is not armed.
    const late = await sh(policyCommand("cc01", policy));
    assert.strictEqual(late.code, 4);
    assert.match(late.out, /not armed: cc01/);
  });

  it("confirm keeps the change and stops the switch; asked again it still says confirmed", async () => {
    const a = parseArm(await ok(armCommand("dd01", 20)))!;
    await ok(policyCommand("dd01", policy));
    assert.strictEqual(await ok(confirmCommand("dd01")), "confirmed");
    assert.strictEqual(await switches(), 0);
    assert.strictEqual(await ok(confirmCommand("dd01")), "confirmed", "a retried confirm");
    // Past the old deadline: nothing may fire.
    await pollUntil(async () => ((await status()).hostNow > a.deadline + 2 ? true : { pending: "before" }), {
      timeoutMs: 40_000,
      intervalMs: 1000,
      what: "the old deadline to pass",
    });
    assert.ok(await ufwActive(), "the confirmed lockdown stays");
    assert.strictEqual((await status()).pending, undefined);
  });

  it("a re-apply over a confirmed lockdown reverts to that lockdown, not to the original", async () => {
    await ok(armCommand("ee01", 60));
    await ok(policyCommand("ee01", policy));
    await ok(confirmCommand("ee01"));
    // T outlasts the policy (a policy past its deadline stops before its next step).
    await ok(armCommand("ee02", 10));
    assert.match(await ok(policyCommand("ee02", { interfaceName: "ztother0", sshPort: 22 })), /applied ee02/);
    assert.match(await ok("ufw status"), /ztother0/, "the re-apply is in place until T");
    await pollUntil(
      async () => ((await status("ee02")).outcome === "reverted" ? true : { pending: "waiting" }),
      {
        timeoutMs: 40_000,
        intervalMs: 500,
        what: "the switch to fire",
      },
    );
    const rules = await ok("ufw status");
    assert.match(rules, /on ztswitch0/, "the confirmed policy is back");
    assert.doesNotMatch(rules, /ztother0/);
  });

  it("a switch never undoes a change it did not arm", async () => {
    await ok(armCommand("ff02", 60));
    await ok(policyCommand("ff02", policy));
    // A stale switch of another token wakes up now: it must leave ff02's change alone.
    await ok(`sh ${SWITCH_PATH} fire ff01 0`);
    assert.ok(await ufwActive());
    assert.strictEqual((await status()).pending?.token, "ff02");
  });

  it("a change whose switch died (reboot) is undone at boot, and by the next arm", async () => {
    await ok(armCommand("ab01", 60));
    await ok(policyCommand("ab01", policy));
    await sh("pkill -f '[s]witch fire ab01'");
    assert.strictEqual(await switches(), 0);
    await ok(`sh ${SWITCH_PATH} boot`);
    assert.ok(!(await ufwActive()));
    assert.strictEqual((await status("ab01")).outcome, "reverted-at-boot");

    await ok(armCommand("ab02", 60));
    await ok(policyCommand("ab02", policy));
    await sh("pkill -f '[s]witch fire ab02'");
    // Same token, switch gone: the policy refuses, and a re-arm starts from the confirmed state.
    assert.strictEqual((await sh(policyCommand("ab02", policy))).code, 4);
    const again = parseArm(await ok(armCommand("ab02", 60)))!;
    assert.ok(!again.again, "re-armed with a live switch");
    assert.ok(!(await ufwActive()), "the unswitched change was undone before re-arming");
    assert.strictEqual(await switches(), 1);
  });

  it("uninstall gives back the original firewall and removes /var/lib/g8os", async () => {
    await ok(armCommand("ac01", 60));
    await ok(policyCommand("ac01", policy));
    await ok(confirmCommand("ac01"));
    assert.match(await ok(uninstallCommand()), /uninstalled/);
    assert.ok(!(await ufwActive()));
    assert.ok(await marker(), "the user's own rule is back");
    assert.strictEqual((await sh("ls -A /var/lib/g8os")).out, "", "nothing of g8os left");
    assert.strictEqual(await switches(), 0);
  });
});
