/**
 * The firewall lockout drills of test/build-host/firewall-drills.test.ts, once each on a build-node
 * VM's in-guest ufw: the stack's own ZerotierOnlySsh inputs (from its state) applied again to the
 * guest, starting from the confirmed lockdown the stack made, while a watcher inside the guest
 * (guest-drill.ts) breaks things at the moment a command starts or finishes. Outages end by
 * themselves (the link and the agent come back after a delay), a deauthorised member is
 * re-authorised through the controller: what an operator can do without the VM's console.
 *
 * A trial is a lockout when, once the guest's switch has settled and the fault has healed, neither
 * SSH over ZeroTier nor the guest's libvirt address answers. After the trials, `refresh` + `up`
 * through the harness converge and a preview shows nothing left to change.
 */
import { strict as assert } from "assert";
import { zerotierOnlySshProvider } from "../../providers/host";
import { errorMessage } from "../../providers/shared/errors";
import { pollUntil } from "../../providers/shared/retry";
import { withSsh, type SshSession } from "../../providers/shared/ssh";
import { RESTORE_BOUND_SEC } from "../../providers/host/ufw-switch";
import type { ZerotierClient } from "../../providers/zerotier/client";
import { canLogIn } from "../build-host/fixtures";
import { findResource, type Harness } from "../harness";
import type { ZerotierStandInInfo } from "../testbed/zerotier/service";
import { DRILL_DIR, startGuestWatcher, stopGuestWatcher, type GuestRule } from "./guest-drill";

export interface GuestDrillContext {
  h: Harness;
  zt: ZerotierClient;
  ztInfo: ZerotierStandInInfo;
  /** The VM's ZeroTier address and its libvirt (bootstrap) address. */
  ztIp: string;
  leaseIp: () => Promise<string>;
  /** The name of the firewall resource in the stack (URN suffix). */
  firewall: string;
  member: string;
}

/** Confirmation timeout of a drill apply: a healthy apply's policy step under TCG fits well inside. */
const T = 45;
/** An outage lasts this long: past the switch's deadline and its restore. */
const OUTAGE_SEC = T + RESTORE_BOUND_SEC + 15;

const RESET = "*ufw --force reset*";
const ENABLE = "*ufw --force enable*";
const CONFIRM = "*switch confirm *";
const POLICY = "*switch policy *";

interface Drill {
  name: string;
  /** One set of rules per apply (two applies = a two-fault sequence). */
  rounds: GuestRule[][];
  /** A test-side reaction to a logged match: `name` fired → `react`. */
  reaction?: { on: string; react: (c: GuestDrillContext) => Promise<void> };
  /** Heals the fault by remote means once the switch's deadline and restore bound have passed. */
  heal?: (c: GuestDrillContext) => Promise<void>;
}

/**
 * G8OS_TEST_VM_DRILLS=1 runs every drill (about 30 min more under TCG), a comma list runs the
 * drills whose names start with one of its words (e.g. `kill@enable,two faults`); unset runs none. Not part of the
 * default VM suite: CI's time budget.
 */
const DRILLS_WANTED = process.env.G8OS_TEST_VM_DRILLS ?? "";
export const GUEST_DRILLS_ENABLED = DRILLS_WANTED !== "";
const wanted = (name: string) =>
  DRILLS_WANTED === "1" || DRILLS_WANTED.split(",").some((n) => n.trim() !== "" && name.startsWith(n.trim()));

export function defineGuestFirewallDrills(ctx: () => GuestDrillContext): void {
  if (!GUEST_DRILLS_ENABLED) return;
  const results: string[] = [];
  let seq = 0;

  const deployKey = () =>
    String(findResource(ctx().h.stateDecrypted(), "deploy-key").outputs.privateKeyOpenssh);
  const fwInputs = () => findResource(ctx().h.stateDecrypted(), ctx().firewall).inputs;
  const dev = () => String(fwInputs().interfaceName);
  const memberOf = () => {
    const m = findResource(ctx().h.state(), ctx().member).outputs;
    return { networkId: String(m.networkId), memberId: String(m.memberId) };
  };
  const authorize = async (authorized: boolean) => {
    const { networkId, memberId } = memberOf();
    await ctx().zt.upsertMember(networkId, memberId, { authorized, ipAssignments: [ctx().ztIp] });
  };

  /**
   * Runs `fn` in a session on whichever path answers (ZeroTier first, then the libvirt address),
   * waiting for one. Only connecting is retried: a failure of `fn` itself is the test's failure.
   */
  async function onGuest<T>(fn: (s: SshSession) => Promise<T>, timeoutMs = 5 * 60_000): Promise<T> {
    const key = deployKey();
    let last = "no SSH path answers";
    const r = await pollUntil(
      async () => {
        for (const host of [ctx().ztIp, await ctx().leaseIp()]) {
          let connected = false;
          try {
            const value = await withSsh(
              { host, privateKey: key, connectTimeoutMs: 20_000 },
              { label: "drill", attempts: 1 },
              (s) => {
                connected = true;
                return fn(s);
              },
            );
            return { value };
          } catch (err) {
            if (connected && !(err as { connectionLost?: boolean }).connectionLost) throw err;
            last = `${host}: ${errorMessage(err)}`;
          }
        }
        return { pending: last };
      },
      { timeoutMs, intervalMs: 3000, what: "an SSH path to the guest" },
    );
    return (r as { value: T }).value;
  }

  async function applyOnce(rules: GuestRule[], reaction: Drill["reaction"], id: string): Promise<string> {
    const c = ctx();
    await onGuest((s) => startGuestWatcher(s, id, rules));
    // A reaction waits over its own ZeroTier session for the match, then acts from here.
    const reacting = reaction
      ? withSsh({ host: c.ztIp, privateKey: deployKey() }, { label: "drill reaction" }, (s) =>
          s.exec(
            `for i in $(seq 3000); do [[ $(<${DRILL_DIR}/${id}/log) == *"fired ${reaction.on} "* ]] && exit 0; sleep 0.05; done; exit 1`,
            { step: `wait for ${reaction.on}`, check: false },
          ),
        ).then(async (r) => {
          if (r.code !== 0) return `reaction: ${reaction.on} never fired`;
          await reaction.react(c);
          return `reacted to ${reaction.on}`;
        })
      : Promise.resolve("");
    let outcome: string;
    try {
      const r = await zerotierOnlySshProvider.create!({ ...fwInputs(), confirmTimeoutSec: T } as never);
      assert.strictEqual((r.outs as { enforced: boolean }).enforced, true);
      outcome = "ok";
    } catch (err) {
      const msg = errorMessage(err);
      const label = `ZerotierOnlySsh "${String(fwInputs().displayName ?? c.ztIp)}"`;
      assert.ok(msg.includes(label), `names the resource (${label}): ${msg}`);
      assert.ok(msg.includes(c.ztIp), `names the ZeroTier address: ${msg}`);
      if (/lock SSH down|confirm the lockdown/.test(msg)) assert.match(msg, /Now: /, msg);
      assert.doesNotMatch(msg, /exit status -1|\(no output\)/, msg);
      outcome = `failed: ${msg.slice(0, 300)}`;
    }
    const reacted = await reacting.catch((err: unknown) => `reaction failed: ${errorMessage(err)}`);
    return reacted ? `${outcome} (${reacted})` : outcome;
  }

  async function trial(d: Drill): Promise<void> {
    const id = `t${++seq}`;
    let watchersStopped = false;
    try {
      await runTrial(d, id);
      watchersStopped = true;
    } finally {
      // A failed trial's watchers would go on scanning /proc for minutes, starving the next trials
      // under TCG: stop them whatever happened (best effort, the guest may be unreachable).
      if (!watchersStopped)
        await onGuest(async (s) => {
          for (const n of d.rounds.keys()) await stopGuestWatcher(s, `${id}-${n}`).catch(() => []);
        }, 60_000).catch(() => undefined);
    }
  }

  async function runTrial(d: Drill, id: string): Promise<void> {
    const applies: string[] = [];
    for (const [n, rules] of d.rounds.entries())
      applies.push(await applyOnce(rules, n === 0 ? d.reaction : undefined, `${id}-${n}`));
    // A fault that does not end by itself (a deauthorised member) leaves no SSH path to watch the
    // switch through: it is healed once the switch's deadline and restore bound have passed.
    if (d.heal) {
      await new Promise((r) => setTimeout(r, (T + RESTORE_BOUND_SEC) * 1000));
      await d.heal(ctx());
    }
    // The switch settles (nothing pending) whatever the fault did, within its deadline + restore.
    await onGuest(
      (s) =>
        pollUntil(
          async () =>
            (await s.exec("test -e /var/lib/g8os/firewall/pending", { check: false })).code === 0
              ? { pending: "a change is pending" }
              : true,
          {
            timeoutMs: (T + RESTORE_BOUND_SEC + 30) * 1000,
            intervalMs: 2000,
            what: "the guest's switch to settle",
          },
        ),
      (OUTAGE_SEC + 120) * 1000,
    );
    const key = deployKey();
    const reachable = await pollUntil(
      async () =>
        (await canLogIn(ctx().ztIp, key)) || (await canLogIn(await ctx().leaseIp(), key))
          ? true
          : { pending: "no SSH path" },
      { timeoutMs: (OUTAGE_SEC + 120) * 1000, intervalMs: 3000, what: "any SSH path to the guest" },
    ).then(
      () => true,
      () => false,
    );
    results.push(
      `${reachable ? "ok     " : "LOCKOUT"} ${d.name}: ${applies.map((a) => a.slice(0, 120)).join(" | ")}`,
    );
    assert.ok(reachable, `LOCKOUT in "${d.name}": ${applies.join(" | ")}`);

    // What happened in the guest: every armed fault fired, no switch outlives the settle, ufw on.
    const seen = await onGuest(async (s) => {
      const logs: string[] = [];
      for (const n of d.rounds.keys()) logs.push(...(await stopGuestWatcher(s, `${id}-${n}`)));
      const strays = await s.exec(
        // Not counting this shell itself: its own command line holds the pattern.
        "n=0; for f in /proc/[0-9]*/cmdline; do [[ $f == /proc/$$/cmdline ]] && continue; mapfile -d '' -t a < $f 2>/dev/null; [[ \"${a[*]}\" == *'switch fire'* ]] && n=$((n+1)); done; echo $n",
        { check: false },
      );
      const ufw = await s.exec("ufw status");
      return { logs, strays: Number(strays.stdout.trim()), ufw: ufw.stdout };
    });
    for (const rules of d.rounds)
      for (const r of rules)
        assert.ok(
          seen.logs.some((l) => l.startsWith(`fired ${r.name} `)),
          `the fault "${r.name}" fired in the guest: ${seen.logs.join("; ")}`,
        );
    assert.strictEqual(seen.strays, 0, "no switch outlives the settle");
    assert.match(seen.ufw, /Status: active/, "the guest stays locked down (its last confirmed firewall)");
  }

  const drills: Drill[] = [
    {
      name: "kill@reset",
      rounds: [[{ name: "kill-reset", pattern: RESET, moment: "start", action: { kind: "kill-session" } }]],
    },
    {
      name: "kill@enable",
      rounds: [[{ name: "kill-enable", pattern: ENABLE, moment: "start", action: { kind: "kill-session" } }]],
    },
    {
      name: "kill@confirm",
      rounds: [
        [{ name: "kill-confirm", pattern: CONFIRM, moment: "start", action: { kind: "kill-session" } }],
      ],
    },
    {
      name: "link-down@enabled",
      rounds: [
        [
          {
            name: "link-down",
            pattern: ENABLE,
            moment: "exit",
            action: { kind: "link-down", dev: "", healAfterSec: OUTAGE_SEC },
          },
        ],
      ],
    },
    {
      name: "link-down@confirm",
      rounds: [
        [
          {
            name: "link-down-confirm",
            pattern: CONFIRM,
            moment: "start",
            action: { kind: "link-down", dev: "", healAfterSec: OUTAGE_SEC },
          },
        ],
      ],
    },
    {
      name: "agent-stop@enabled",
      rounds: [
        [
          {
            name: "agent-stop",
            pattern: ENABLE,
            moment: "exit",
            action: { kind: "agent-stop", healAfterSec: OUTAGE_SEC },
          },
        ],
      ],
    },
    {
      name: "deauth@enabled",
      rounds: [[{ name: "enabled", pattern: ENABLE, moment: "exit", action: { kind: "log" } }]],
      reaction: { on: "enabled", react: () => authorize(false) },
      heal: () => authorize(true),
    },
    {
      name: "two faults: a change left pending, then the link down after enable",
      rounds: [
        [
          {
            name: "kill-policy",
            pattern: POLICY,
            moment: "start",
            action: { kind: "kill-session" },
            every: true,
          },
        ],
        [
          {
            name: "link-down-2",
            pattern: ENABLE,
            moment: "exit",
            action: { kind: "link-down", dev: "", healAfterSec: OUTAGE_SEC },
          },
        ],
      ],
    },
  ];

  for (const d of drills.filter((x) => wanted(x.name))) {
    it(`in the guest, drill ${d.name}: no lockout`, async () => {
      // The NIC's name is known once the stack is up.
      for (const rules of d.rounds)
        for (const r of rules) if (r.action.kind === "link-down") r.action = { ...r.action, dev: dev() };
      // Said at once: a drill's failure is otherwise only printed once the whole suite ends.
      await trial(d).catch((err: unknown) => {
        console.log(`      drill ${d.name} failed: ${errorMessage(err)}`);
        throw err;
      });
    });
  }

  it("in the guest, after the drills: the member deauthorised again is repaired by the stack through a controller 503 burst; refresh + up converge; preview shows no change", async () => {
    const c = ctx();
    await authorize(false);
    const r = await fetch(`${c.ztInfo.url}/_fault`, {
      method: "POST",
      body: JSON.stringify({ status: 503, count: 3, pathPrefix: "/controller" }),
    });
    assert.strictEqual(r.status, 200);
    await c.h.refreshOk();
    await c.h.upOk();
    const m = memberOf();
    assert.equal(
      (await c.zt.getMember(m.networkId, m.memberId))?.authorized,
      true,
      "re-authorised by the stack",
    );
    assert.ok(await canLogIn(c.ztIp, deployKey()), "SSH over ZeroTier again");
    const p = await c.h.previewOk();
    assert.deepEqual(
      p.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn.split("::").pop()}`),
      [],
      "converged",
    );
    console.log(
      `\n  in-guest firewall drills: ${results.length} trials, ${results.filter((l) => l.startsWith("LOCKOUT")).length} lockouts`,
    );
    for (const l of results) console.log(`    ${l}`);
  });
}
