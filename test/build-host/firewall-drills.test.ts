/**
 * Lockout drills: ZerotierOnlySsh applied for real on a testbed host joined to the ZeroTier
 * stand-in, while a watcher (drill-watcher.ts) breaks things at the worst moments, fired by host
 * events, not by sleeps: the SSH session killed during `ufw --force reset`, `enable` or the
 * confirmation; the ZeroTier link taken down after enable or as the confirmation starts; the member
 * deauthorised, the node agent stopped; controller 503/429 bursts while the member is repaired;
 * and the two-fault sequences that used to lock a host out (a failed apply leaving its change
 * pending, then a second apply within T). Each trial runs from an open host and from a confirmed
 * lockdown.
 *
 * A trial is a lockout when, once the host's switch has settled and the fault is healed by remote
 * means only (link up, member re-authorised, agent restarted), no SSH path answers. While ZeroTier
 * is still broken, a host whose change was not confirmed must answer on its bootstrap address.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { execFile } from "child_process";
import { zerotierOnlySshProvider } from "../../providers/host";
import type { HostConnection } from "../../providers/host/connection";
import { errorMessage } from "../../providers/shared/errors";
import { pollUntil } from "../../providers/shared/retry";
import { withSsh } from "../../providers/shared/ssh";
import { RESTORE_BOUND_SEC, SWITCH_PATH } from "../../providers/host/ufw-switch";
import { ZerotierClient } from "../../providers/zerotier/client";
import {
  waitForZerotierAddress,
  zerotierInterfaceName,
  zerotierJoin,
  zerotierNodeInfo,
} from "../../providers/zerotier/node";
import { findResource, Harness } from "../harness";
import { useTestbed, type TestHost } from "../testbed";
import { hostPaths } from "../testbed/hosts";
import { requireZerotierStandIn, type ZerotierStandInInfo } from "../testbed/zerotier/service";
import { HostWatcher } from "./drill-watcher";
import { canLogIn, resetHost } from "./fixtures";

/** Confirmation timeout of every drill apply: longer than a healthy apply's policy step here. */
const T = 12;
const ZT_IP = "10.214.0.240";

function ip(...args: string[]): Promise<void> {
  return new Promise((resolve) => execFile("ip", args, () => resolve()));
}

interface Fault {
  name: string;
  /** Sets the fault's triggers on a watcher. */
  arm(w: HostWatcher): void;
  /** Undoes it by remote means (what an operator or the stack can do without a console). */
  heal(): Promise<void>;
  /** Whether it leaves the ZeroTier path broken until healed. */
  breaksZerotier: boolean;
}

interface TrialResult {
  name: string;
  start: "open" | "locked";
  applies: string[];
  lockout: boolean;
  detail: string;
}

describe("firewall lockout drills (testbed host, ZeroTier stand-in)", function () {
  this.timeout(3_600_000);
  const tb = useTestbed(this, { hosts: 4, services: ["zerotier"] });
  let host: TestHost;
  let zt: ZerotierStandInInfo;
  let client: ZerotierClient;
  let networkId = "";
  let nodeId = "";
  let dev = "";
  const results: TrialResult[] = [];

  const connection = (): HostConnection => ({
    addresses: [
      { host: ZT_IP, port: 22 },
      { host: host.address, port: 22 },
    ],
    user: "root",
    privateKeys: [tb().bootstrapKey.privateKey],
    hostKeySha256: host.hostKeySha256,
  });
  const inputs = () => ({
    connection: connection(),
    zerotierAddress: ZT_IP,
    interfaceName: dev,
    sshPort: 22,
    confirmTimeoutSec: T,
    reachTimeoutSec: 30,
    displayName: "drill-host",
  });
  const stateFile = (f: string) => path.join(hostPaths(host.name).g8os, "firewall", f);
  const bootstrap = () => canLogIn(host.address, tb().bootstrapKey.privateKey);
  const overZerotier = () => canLogIn(ZT_IP, tb().bootstrapKey.privateKey);
  const authorize = (authorized: boolean) =>
    client.upsertMember(networkId, nodeId, { authorized, ipAssignments: [ZT_IP] });

  async function ztAddressPresent(): Promise<boolean> {
    const r = await tb().exec(host.name, `ip -o -4 addr show dev ${dev} 2>/dev/null`);
    return (
      r.stdout.includes(`inet ${ZT_IP}/`) &&
      !/state DOWN/.test((await tb().exec(host.name, `ip link show dev ${dev}`)).stdout)
    );
  }

  /** Everything healthy: agent running, member authorised, link up with its address. */
  async function healAll(): Promise<void> {
    await authorize(true);
    await tb().exec(host.name, "zerotier-cli listnetworks >/dev/null 2>&1; true");
    await ip("-n", host.name, "link", "set", "dev", dev, "up");
    await pollUntil(async () => ((await ztAddressPresent()) ? true : { pending: "no address yet" }), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: `${ZT_IP} on ${dev} again`,
    });
  }

  /** Back to what the user had: no g8os firewall state, ufw inactive; ZeroTier joined and healthy. */
  async function openHost(): Promise<void> {
    await tb().exec(host.name, `[ -f ${SWITCH_PATH} ] && sh ${SWITCH_PATH} uninstall >/dev/null 2>&1; true`);
    await tb().exec(host.name, "ufw --force reset >/dev/null 2>&1; rm -rf /var/lib/g8os/firewall; true");
    await healAll();
  }

  /** The host's switch has nothing pending (its own state file, read from the machine). */
  async function settled(): Promise<void> {
    await pollUntil(
      async () => (fs.existsSync(stateFile("pending")) ? { pending: "a change is pending" } : true),
      {
        timeoutMs: (T + RESTORE_BOUND_SEC + 30) * 1000,
        intervalMs: 500,
        what: "the host's dead-man switch to settle",
      },
    );
  }

  function lastOutcome(): string {
    const dir = path.dirname(stateFile("x"));
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith("outcome.")) : [];
    const newest = files
      .map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t)[0];
    return newest ? fs.readFileSync(path.join(dir, newest.f), "utf8").trim() : "none";
  }

  async function applyOnce(faults: Fault[]): Promise<string> {
    const w = new HostWatcher(host.name);
    for (const f of faults) f.arm(w);
    w.start();
    try {
      const r = await zerotierOnlySshProvider.create!(inputs());
      assert.strictEqual((r.outs as { enforced: boolean }).enforced, true);
      return "ok";
    } catch (err) {
      const msg = errorMessage(err);
      // Every failure says where the host is and what its firewall is now; a killed session is
      // reported as such, never as a bare exit status.
      assert.match(msg, /ZerotierOnlySsh "drill-host"/, msg);
      assert.ok(msg.includes(ZT_IP), `names the ZeroTier address: ${msg}`);
      if (/lock SSH down|confirm the lockdown/.test(msg)) {
        assert.match(msg, /Now: /, msg);
        assert.ok(msg.includes(host.address), `names the bootstrap address: ${msg}`);
      }
      assert.doesNotMatch(msg, /exit status -1|\(no output\)/, msg);
      return `failed: ${msg.slice(0, 400)}`;
    } finally {
      w.stop();
    }
  }

  async function trial(name: string, start: "open" | "locked", rounds: Fault[][]): Promise<void> {
    await openHost();
    if (start === "locked")
      assert.strictEqual(await applyOnce([]), "ok", "the healthy lockdown before the fault");
    const applies: string[] = [];
    for (const faults of rounds) applies.push(await applyOnce(faults));
    await settled();
    const notes: string[] = [];
    const outcome = lastOutcome();
    const broken = rounds.flat().some((f) => f.breaksZerotier) && !(await ztAddressPresent());
    let lockout = false;
    if (broken && start === "open" && outcome !== "confirmed") {
      const ok = await bootstrap();
      notes.push(`bootstrap while ZeroTier broken: ${ok}`);
      if (!ok) lockout = true;
    }
    for (const f of rounds.flat()) await f.heal();
    await healAll();
    const reachable =
      (await pollUntil(
        async () => ((await overZerotier()) || (await bootstrap()) ? true : { pending: "no path" }),
        {
          timeoutMs: 30_000,
          intervalMs: 1000,
          what: "any SSH path to the host",
        },
      ).catch(() => false)) === true;
    if (!reachable) lockout = true;
    const strays = new HostWatcher(host.name).processes(/switch fire/).length;
    if (strays > 0) notes.push(`${strays} switch(es) still running after settle`);
    assert.strictEqual(strays, 0, "no switch outlives the settle");
    // A lockdown that ended confirmed stays enforced: no earlier switch may undo it later.
    if (applies[applies.length - 1] === "ok") {
      const st = await tb().exec(host.name, "ufw status");
      assert.match(st.stdout, /Status: active/, "the confirmed lockdown is in place");
      assert.ok(!fs.existsSync(stateFile("pending")));
    }
    results.push({ name, start, applies, lockout, detail: `outcome ${outcome}; ${notes.join("; ")}` });
    assert.ok(!lockout, `LOCKOUT in "${name}" from ${start}: ${applies.join(" | ")} ${notes.join("; ")}`);
  }

  // --- faults ---
  const killSessionAt = (what: string, match: RegExp, every = false): Fault => ({
    name: `session killed during ${what}`,
    arm: (w) => w.on(match, "start", (pid) => void w.killSessionOf(pid), every),
    heal: async () => undefined,
    breaksZerotier: false,
  });
  const linkDownAt = (what: string, match: RegExp, moment: "start" | "exit"): Fault => ({
    name: `ZeroTier link down ${what}`,
    arm: (w) => w.on(match, moment, () => ip("-n", host.name, "link", "set", "dev", dev, "down")),
    heal: () => ip("-n", host.name, "link", "set", "dev", dev, "up"),
    breaksZerotier: true,
  });
  const deauthAfterEnable = (burst?: { status: number; count: number }): Fault => ({
    name: `member deauthorised after enable${burst ? `, repaired through a ${burst.status} burst` : ""}`,
    arm: (w) => w.on(/ufw --force enable/, "exit", () => authorize(false).then(() => undefined)),
    heal: async () => {
      if (burst) {
        const r = await fetch(`${zt.url}/_fault`, {
          method: "POST",
          body: JSON.stringify({ ...burst, pathPrefix: "/controller" }),
        });
        assert.strictEqual(r.status, 200);
      }
      await authorize(true);
    },
    breaksZerotier: true,
  });
  const agentStoppedAfterEnable: Fault = {
    name: "ZeroTier service stopped after enable",
    arm: (w) =>
      w.on(/ufw --force enable/, "exit", async () => {
        const pidFile = path.join(hostPaths(host.name).zerotier, "agent.pid");
        try {
          process.kill(Number(fs.readFileSync(pidFile, "utf8").trim()), "SIGTERM");
        } catch {
          // not running
        }
        // zerotier-one removes its tap device when it stops; the stand-in leaves it: do it here.
        await ip("-n", host.name, "link", "del", "dev", dev);
      }),
    heal: () =>
      tb()
        .exec(host.name, "zerotier-cli listnetworks >/dev/null 2>&1; true")
        .then(() => undefined),
    breaksZerotier: true,
  };

  const RESET = /ufw --force reset/;
  const ENABLE = /ufw --force enable/;
  const CONFIRM = /switch confirm/;
  const POLICY = /switch policy/;
  const plans: [string, Fault[][]][] = [
    ["kill@reset", [[killSessionAt("reset", RESET)]]],
    ["kill@enable", [[killSessionAt("enable", ENABLE)]]],
    ["kill@confirm", [[killSessionAt("confirm", CONFIRM)]]],
    ["link-down@enabled", [[linkDownAt("after enable", ENABLE, "exit")]]],
    ["link-down@confirm", [[linkDownAt("as the confirmation starts", CONFIRM, "start")]]],
    ["deauth@enabled", [[deauthAfterEnable()]]],
    ["agent-stop@enabled", [[agentStoppedAfterEnable]]],
    ["deauth+503-burst", [[deauthAfterEnable({ status: 503, count: 3 })]]],
    ["deauth+429-burst", [[deauthAfterEnable({ status: 429, count: 3 })]]],
    // The sequence that locked hosts out: an apply whose sessions all die while it applies (its
    // change stays pending), then a second apply within T whose ZeroTier path drops after enable.
    [
      "two faults: pending change, then link down",
      [
        [killSessionAt("the policy, every session", POLICY, true)],
        [linkDownAt("after enable", ENABLE, "exit")],
      ],
    ],
    // A pending change from a failed apply must not undo the next, confirmed lockdown.
    [
      "two applies: pending change, then healthy",
      [[killSessionAt("the policy, every session", POLICY, true)], []],
    ],
  ];

  before(async () => {
    host = tb().host("g8t-h4");
    zt = requireZerotierStandIn(tb());
    client = new ZerotierClient({ backend: "controller", apiUrl: zt.url, token: zt.token });
    await resetHost(tb(), host);
    const net = await client.createNetwork({
      name: "firewall-drills",
      private: true,
      routes: [{ target: "10.214.0.0/24", via: null }],
      ipAssignmentPools: [{ start: "10.214.0.241", end: "10.214.0.242" }],
      v4AutoAssign: false,
      dns: { domain: "", servers: [] },
    });
    networkId = net.id;
    dev = zerotierInterfaceName(networkId);
    await withSsh(
      { host: host.address, privateKey: tb().bootstrapKey.privateKey, hostKeySha256: host.hostKeySha256 },
      { label: "drill setup" },
      async (s) => {
        nodeId = (await zerotierNodeInfo(s)).nodeId;
        await zerotierJoin(s, networkId);
        await authorize(true);
        await waitForZerotierAddress(s, networkId, { timeoutMs: 60_000, intervalMs: 500 });
      },
    );
  });

  after(async () => {
    if (results.length > 0) {
      const lockouts = results.filter((r) => r.lockout).length;
      console.log(`\n  firewall drills: ${results.length} trials, ${lockouts} lockouts`);
      for (const r of results)
        console.log(
          `    ${r.lockout ? "LOCKOUT" : "ok     "} ${r.name} (from ${r.start}): ${r.applies.map((a) => a.slice(0, 90)).join(" | ")}; ${r.detail}`,
        );
    }
    if (!host) return;
    await tb().exec(host.name, `[ -f ${SWITCH_PATH} ] && sh ${SWITCH_PATH} uninstall >/dev/null 2>&1; true`);
    await tb().exec(host.name, `zerotier-cli leave ${networkId} >/dev/null 2>&1; true`);
    if (networkId) await client.deleteNetwork(networkId).catch(() => undefined);
    await resetHost(tb(), host);
  });

  for (const start of ["open", "locked"] as const) {
    for (const [name, rounds] of plans) {
      it(`${name} (from ${start === "open" ? "an open host" : "a confirmed lockdown"}): no lockout`, async () => {
        await trial(name, start, rounds);
      });
    }
  }

  /** Every file the firewall may touch on the host, with mode and content hash, sorted. */
  async function hostFiles(): Promise<string> {
    const r = await tb().exec(
      host.name,
      "find /etc/ufw /etc/default/ufw /var/lib/g8os /root/.ssh /etc/systemd/system -xdev " +
        "\\( -type f -o -type d -o -type l \\) -printf '%p %y %m\\n' 2>/dev/null | sort; " +
        "find /etc/ufw /etc/default/ufw /var/lib/g8os /root/.ssh -xdev -type f -exec sha256sum {} + 2>/dev/null | sort",
    );
    return r.stdout;
  }

  it("a rule g8os did not make is drift: refresh reports it, preview shows it, up removes it; destroy leaves the host as it was", async () => {
    await openHost();
    await tb().exec(
      host.name,
      "find /etc/ufw -maxdepth 1 -regextype posix-extended -regex '.*\\.[0-9]{8}_[0-9]{6}$' -delete",
    );
    const before = await hostFiles();
    const h = new Harness({
      program: path.join(__dirname, "programs", "firewall-zerotier.ts"),
      stack: "build-31",
      config: {
        "test:zerotierIp": ZT_IP,
        "test:address": host.address,
        "test:hostKeySha256": host.hostKeySha256,
        "test:interfaceName": dev,
        "test:confirmTimeoutSec": String(T),
        "test:privateKey": { secret: tb().bootstrapKey.privateKey },
      },
    });
    try {
      await h.upOk();
      assert.strictEqual(
        (await h.previewOk()).steps.filter((x) => x.op !== "same").length,
        0,
        "no-op preview",
      );
      const add = await tb().exec(host.name, "ufw allow 2222/tcp");
      assert.strictEqual(add.code, 0, add.stderr);

      const refreshed = await h.refreshOk();
      const fw = findResource(h.state(), "drift-host-firewall");
      assert.deepStrictEqual(fw.outputs.foreignRules, [
        "2222/tcp  ALLOW IN  Anywhere",
        "2222/tcp (v6)  ALLOW IN  Anywhere (v6)",
      ]);
      assert.strictEqual(fw.outputs.enforced, false);
      assert.match(refreshed.log, /firewall drift: rules g8os did not make: 2222\/tcp/);

      const p = await h.previewOk();
      const step = p.steps.find((x) => x.urn.endsWith("drift-host-firewall"));
      assert.strictEqual(step?.op, "update", "preview shows the repair");

      await h.upOk();
      const st = await tb().exec(host.name, "ufw status");
      assert.doesNotMatch(st.stdout, /2222/, "the foreign rule is gone");
      assert.match(st.stdout, /Status: active/);
      assert.deepStrictEqual(findResource(h.state(), "drift-host-firewall").outputs.foreignRules, []);
      assert.strictEqual((await h.previewOk()).steps.filter((x) => x.op !== "same").length, 0, "converged");

      const d = await h.destroy();
      assert.ok(!d.failed, d.errors.join("\n"));
      assert.strictEqual(await hostFiles(), before, "after destroy the host's files are as before up");
      assert.ok(await bootstrap(), "the bootstrap address answers again");
    } finally {
      await h.destroy().catch(() => undefined);
      await h.close();
    }
  });

  it("at least 20 trials ran, none locked the host out", () => {
    assert.ok(results.length >= 20, `${results.length} trials`);
    assert.deepStrictEqual(
      results.filter((r) => r.lockout).map((r) => `${r.name} from ${r.start}`),
      [],
    );
  });
});
