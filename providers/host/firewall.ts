/**
 * `ZerotierOnlySsh`: closes a host to everything but ZeroTier with ufw, lockout-proof.
 *
 * Order of an apply (create, or update when the policy changed or drifted):
 * 1. prove a NEW SSH connection over the ZeroTier address works (else fail, ufw untouched);
 * 2. install the host-side switch (ufw-switch.ts) and arm it: it first settles any change an
 *    earlier apply left unconfirmed, then restores the last confirmed firewall after T seconds
 *    unless this apply confirms;
 * 3. set the policy and enable ufw (inside the switch, under its lock);
 * 4. confirm over a NEW ZeroTier connection, retried until shortly before the deadline; if that
 *    fails, wait for the switch's outcome and say what the firewall is now;
 * 5. verify from here that SSH on every other address is refused.
 *
 * Refresh reports drift (ufw off, policy changed, any rule g8os did not make, the host no longer
 * answering over ZeroTier); the next `up` repairs it through the same switch.
 */
import * as pulumi from "@pulumi/pulumi";
import { errorMessage, OperationError, resourceLabel } from "../shared/errors";
import { containsUnknown, diffFields, partialCreateError, plainOutputs } from "../shared/dynamic";
import { tcpProbe } from "../shared/net";
import { isHostKeyMismatch, type SshSession } from "../shared/ssh";
import { pollUntil, sleep } from "../shared/retry";
import { collectFailures, intInRange, ipv4, nonEmptyString } from "../shared/validate";
import { connectionFailures, onHost, type HostConnection } from "./connection";
import { driftReasons, parseUfwStatus, type UfwPolicy } from "./ufw";
import {
  armCommand,
  confirmCommand,
  parseArm,
  parseStatus,
  policyCommand,
  RESTORE_BOUND_SEC,
  statusCommand,
  STATE_DIR,
  SWITCH_PATH,
  switchScript,
  uninstallCommand,
  type SwitchStatus,
} from "./ufw-switch";

export interface ZerotierOnlySshInputs {
  /** How to reach the host: the ZeroTier address first, the bootstrap address after it. */
  connection: HostConnection;
  /** The host's address on the ZeroTier network. */
  zerotierAddress: string;
  /** The ZeroTier interface on the host (`zt` + 8 chars). */
  interfaceName: string;
  /** SSH port. Default 22. */
  sshPort?: number;
  /** Seconds the dead-man switch waits for confirmation before restoring. Default 90. */
  confirmTimeoutSec?: number;
  /** Seconds to wait for SSH over ZeroTier to answer before touching ufw. Default 120. */
  reachTimeoutSec?: number;
  /** Name used in messages (the host or VM name). Default the ZeroTier address. */
  displayName?: string;
}

export interface ZerotierOnlySshOutputs extends ZerotierOnlySshInputs {
  /** False when a refresh found drift (ufw off, policy changed, foreign rules): the next up re-applies. */
  enforced: boolean;
  /** Addresses verified to refuse SSH after the apply. */
  closedAddresses: string[];
  /** Rules a refresh found that g8os did not make (the next up removes them). */
  foreignRules?: string[];
  /** False when a refresh could not reach the host over ZeroTier: the next up waits until it does. */
  zerotierReachable?: boolean;
}

const KIND = "ZerotierOnlySsh";

function policyOf(i: ZerotierOnlySshInputs): UfwPolicy {
  return { interfaceName: i.interfaceName, sshPort: i.sshPort ?? 22 };
}

function labelOf(i: ZerotierOnlySshInputs): string {
  return resourceLabel(KIND, i.displayName ?? i.zerotierAddress);
}

/** "host 10.147.17.5 (ZeroTier), 203.0.113.10": addresses are not secrets and help the operator. */
function whereOf(i: ZerotierOnlySshInputs): string {
  const others = i.connection.addresses.map((a) => a.host).filter((h) => h !== i.zerotierAddress);
  return `host ${i.zerotierAddress} (ZeroTier)${others.length ? `, bootstrap ${others.join(", ")}` : ""}`;
}

/** The ZeroTier address with the FIRST key only (the deploy key): that pair must work, nothing else counts. */
function overZerotier(i: ZerotierOnlySshInputs): HostConnection {
  return {
    ...i.connection,
    addresses: [{ host: i.zerotierAddress, port: i.sshPort ?? 22 }],
    privateKeys: i.connection.privateKeys.slice(0, 1),
  };
}

/** An inner error's message without the resource label it repeats. */
function detailOf(err: unknown, label: string): string {
  return errorMessage(err).split(`${label}: `).join("");
}

function clock(unixSec: number): string {
  return new Date(unixSec * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

/** Waits until SSH over ZeroTier answers, or fails saying so (ufw untouched by this step). */
async function waitOverZerotier(i: ZerotierOnlySshInputs, before: string): Promise<void> {
  const label = labelOf(i);
  await pollUntil(
    async () => {
      try {
        await onHost(overZerotier(i), label, (s) => s.exec("true", { step: "SSH over ZeroTier" }));
        return true;
      } catch (err) {
        return { pending: errorMessage(err) };
      }
    },
    {
      timeoutMs: (i.reachTimeoutSec ?? 120) * 1000,
      intervalMs: 2000,
      what: `SSH over ZeroTier to ${i.zerotierAddress}`,
    },
  ).catch((err: unknown) => {
    throw new OperationError(
      label,
      `SSH over ZeroTier to ${i.zerotierAddress}:${i.sshPort ?? 22} ${before}`,
      `${detailOf(err, label)} (${whereOf(i)})`,
      "that the host's member is authorised and the host shows status OK in `zerotier-cli listnetworks`, " +
        "and that this machine (the one running `pulumi up`) is an authorised member of the same network " +
        "and online there too (its `zerotier-cli listnetworks` shows the network OK)",
    );
  });
}

/** Asks the host's switch what its firewall is now (any address); undefined when unreachable. */
async function askSwitch(i: ZerotierOnlySshInputs, token: string): Promise<SwitchStatus | undefined> {
  try {
    const r = await onHost(i.connection, labelOf(i), (s) =>
      s.exec(statusCommand(token), { step: "ask the ufw dead-man switch" }),
    );
    return parseStatus(r.stdout);
  } catch {
    return undefined;
  }
}

/** One sentence: what the host's firewall is now and when it reverts, for every failure after arming. */
function describe(st: SwitchStatus | undefined, token: string, deadline: number | undefined): string {
  const by = (d: number) => `${clock(d)} (then up to ${RESTORE_BOUND_SEC} s to restore)`;
  if (!st) {
    return deadline
      ? `the host could not be reached to check it; if this apply's lockdown is on, the dead-man switch restores the last confirmed firewall at ${by(deadline)}`
      : `the host could not be reached to check it; if the dead-man switch was armed, it restores the last confirmed firewall within its confirmation timeout plus ${RESTORE_BOUND_SEC} s`;
  }
  const ufw = `ufw is ${st.ufwActive ? "active" : "inactive"}`;
  if (st.pending?.token === token)
    return `${ufw} with this apply's unconfirmed change; the dead-man switch restores the last confirmed firewall at ${by(st.pending.deadline)}`;
  if (st.outcome === "reverted" || st.outcome === "reverted-at-boot")
    return `the dead-man switch restored the last confirmed firewall; ${ufw}`;
  if (st.outcome === "cancelled") return `a later apply undid this change; ${ufw}`;
  if (st.outcome === "confirmed") return `the change was confirmed; ${ufw}`;
  if (st.pending) return `${ufw}; another apply's change is pending until ${by(st.pending.deadline)}`;
  return `${ufw}; no change is pending`;
}

/** Writes the switch script (idempotent: same content every time for one version of g8os). */
async function installSwitch(s: SshSession): Promise<void> {
  await s.exec(`mkdir -p ${STATE_DIR} && chmod 0700 ${STATE_DIR}`, {
    write: true,
    step: "create the dead-man switch's directory",
  });
  await s.writeFile(SWITCH_PATH, switchScript(), "0700", { step: "install the ufw dead-man switch" });
}

async function apply(i: ZerotierOnlySshInputs): Promise<ZerotierOnlySshOutputs> {
  const label = labelOf(i);
  const port = i.sshPort ?? 22;
  const wait = i.confirmTimeoutSec ?? 90;
  const crypto = require("crypto") as typeof import("crypto");
  const token = crypto.randomBytes(8).toString("hex");

  // 1. ZeroTier path first: never touch the firewall of a host we could not reach afterwards.
  await waitOverZerotier(i, "(ufw was not changed)");

  // 2 + 3. Install, arm, apply, in one session on whichever address answers. A session that dies
  // is retried on the next address: arming the same token again is a no-op on the host.
  let localDeadline: number | undefined;
  try {
    await onHost(i.connection, label, async (s) => {
      await installSwitch(s);
      const r = await s.exec(armCommand(token, wait), { write: true, step: "arm the ufw dead-man switch" });
      const armed = parseArm(r.stdout);
      if (!armed)
        throw new OperationError(
          label,
          "arm the ufw dead-man switch",
          `unexpected answer: ${r.stdout.trim()}`,
        );
      localDeadline = Math.floor(Date.now() / 1000) + (armed.deadline - armed.hostNow);
      await s.exec(policyCommand(token, policyOf(i)), {
        write: true,
        step: "set the ufw policy and enable ufw",
      });
    });
  } catch (err) {
    const now = await askSwitch(i, token);
    const detail = detailOf(err, label);
    throw new OperationError(
      label,
      "lock SSH down to ZeroTier",
      `${detail}. Now: ${describe(now, token, localDeadline)} (${whereOf(i)})`,
      /deadline passed before/.test(detail)
        ? `a longer confirmation timeout than ${wait} s (confirmTimeoutSec; g8os:firewallConfirmTimeoutSec in the build stack): this host's ufw steps outlasted it`
        : "the host's network path, then run `pulumi up` again: the next apply settles this one first",
    );
  }

  // 4. Confirm over a new ZeroTier connection; retried while the switch still waits.
  let outcome = "unknown";
  const confirmBy = (localDeadline ?? 0) - 2;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await onHost(overZerotier(i), label, (s) =>
        s.exec(confirmCommand(token), { write: true, step: "confirm the firewall change", check: false }),
      );
      outcome = r.stdout.trim().split("\n").pop() ?? "";
      break;
    } catch (err) {
      outcome = `no confirmation: ${detailOf(err, label)}`;
      if (Date.now() / 1000 >= confirmBy || attempt >= 20) break;
      await sleep(1000);
    }
  }
  if (outcome !== "confirmed") {
    // The switch restores the last confirmed firewall: wait for it, then say what the host has now.
    const settled = await pollUntil(
      async () => {
        const s = await askSwitch(i, token);
        // Wrapped: a SwitchStatus has a `pending` key, which pollUntil would read as "not yet".
        return s && s.pending?.token !== token
          ? { status: s }
          : { pending: s ? "still pending" : "host not reachable yet" };
      },
      {
        timeoutMs: Math.max(0, (localDeadline ?? 0) - Date.now() / 1000 + RESTORE_BOUND_SEC + 15) * 1000,
        intervalMs: 2000,
        what: "the dead-man switch to restore ufw",
      },
    ).catch(() => undefined);
    const st = settled?.status;
    throw new OperationError(
      label,
      `confirm the lockdown over ZeroTier (${i.zerotierAddress}:${port})`,
      `${outcome.replace(/^not-pending /, "the switch no longer waits: ")}. Now: ${describe(st, token, localDeadline)} (${whereOf(i)})`,
      `that ${i.interfaceName} is the host's ZeroTier interface (ip link) and carries ${i.zerotierAddress}`,
    );
  }

  // 5. Everything that is not ZeroTier must now refuse SSH.
  const others = i.connection.addresses.filter((a) => a.host !== i.zerotierAddress);
  const stillOpen: string[] = [];
  for (const a of others)
    if ((await tcpProbe(a.host, a.port ?? port, 3000)) === "open") stillOpen.push(a.host);
  const outs = plainOutputs({
    ...i,
    enforced: stillOpen.length === 0,
    closedAddresses: others.map((a) => a.host).filter((h) => !stillOpen.includes(h)),
    foreignRules: [],
    zerotierReachable: true,
  });
  if (stillOpen.length > 0) {
    throw partialCreateError(
      new OperationError(
        label,
        "verify SSH is closed outside ZeroTier",
        `${stillOpen.join(", ")} still accept(s) SSH on port ${port}; ufw is active and confirmed (${whereOf(i)})`,
        "other firewalls or port forwards in front of the host",
      ),
      `ufw@${i.zerotierAddress}`,
      outs,
    );
  }
  return outs;
}

/** Drift found by a refresh that makes the next up act. */
function drifted(o: Partial<ZerotierOnlySshOutputs>): boolean {
  return o.enforced === false || (o.foreignRules?.length ?? 0) > 0 || o.zerotierReachable === false;
}

export const zerotierOnlySshProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return {
      inputs: news,
      failures: [
        ...connectionFailures("connection", news.connection),
        ...collectFailures([
          {
            path: "zerotierAddress",
            value: news.zerotierAddress,
            check: ipv4,
            fix: "set zerotierAddress to the host's ZeroTier IPv4 address (its member's assigned IP), like 10.147.17.1",
          },
          {
            path: "interfaceName",
            value: news.interfaceName,
            check: nonEmptyString,
            fix: "set interfaceName to the host's ZeroTier interface, zt + 8 characters (ZerotierHostJoin's interfaceName)",
          },
          { path: "sshPort", value: news.sshPort, check: intInRange(1, 65535), optional: true },
          {
            path: "confirmTimeoutSec",
            value: news.confirmTimeoutSec,
            check: intInRange(10, 3600),
            optional: true,
          },
          { path: "displayName", value: news.displayName, check: nonEmptyString, optional: true },
        ]),
      ],
    };
  },

  async diff(_id, olds, news) {
    const d = diffFields(olds, news, {
      updateOn: ["zerotierAddress", "interfaceName", "sshPort", "connection", "confirmTimeoutSec"],
    });
    // A new host key (recycled VM) is a new host to lock down: a replace, asked for here because
    // the engine applies `replaceOnChanges` only to keys a provider reports, and a dynamic
    // provider reports none (see test/harness/replace-on-changes.test.ts). Unknown = maybe new.
    const conn = news.connection as HostConnection | string | undefined;
    const newKey = typeof conn === "string" ? conn : conn?.hostKeySha256;
    const oldKey = (olds.connection as HostConnection | undefined)?.hostKeySha256;
    const newHost = containsUnknown(newKey) || (newKey ?? "") !== (oldKey ?? "");
    return {
      changes: d.changes || drifted(olds),
      replaces: d.changed.includes("connection") && newHost ? ["connection"] : [],
      deleteBeforeReplace: false,
    };
  },

  async create(inputs) {
    const i = inputs as ZerotierOnlySshInputs;
    return { id: `ufw@${i.zerotierAddress}`, outs: await apply(i) };
  },

  async update(_id, olds, news) {
    const o = olds as ZerotierOnlySshOutputs;
    const n = news as ZerotierOnlySshInputs;
    const policyChanged =
      o.enforced === false ||
      (o.foreignRules?.length ?? 0) > 0 ||
      o.interfaceName !== n.interfaceName ||
      (o.sshPort ?? 22) !== (n.sshPort ?? 22) ||
      o.zerotierAddress !== n.zerotierAddress;
    if (policyChanged) return { outs: await apply(n) };
    const outs = plainOutputs({
      ...n,
      enforced: true,
      closedAddresses: o.closedAddresses,
      foreignRules: [],
      zerotierReachable: true,
    });
    // Cut off from ZeroTier at the last refresh (member deauthorised, network re-created): the
    // path is repaired by the resources this one depends on; end only when it works again.
    if (o.zerotierReachable === false) {
      await waitOverZerotier(n, "after the ZeroTier path was repaired");
      // State from before the cut-off says nothing about ufw now: look, and re-apply if needed.
      const st = await onHost(overZerotier(n), labelOf(n), async (s) =>
        parseUfwStatus((await s.exec("ufw status verbose", { step: "ufw status" })).stdout, policyOf(n)),
      );
      if (!st.enforced) return { outs: await apply(n) };
    }
    // Otherwise a new key or address list changes how we connect, not the host: no remote write.
    return { outs };
  },

  async read(id, props) {
    const p = props as ZerotierOnlySshOutputs;
    const label = labelOf(p);
    let overZt = false;
    try {
      return await onHost(p.connection, label, async (s) => {
        overZt = s.target.host === p.zerotierAddress;
        const st = parseUfwStatus(
          (await s.exec("ufw status verbose", { step: "ufw status" })).stdout,
          policyOf(p),
        );
        const reasons = driftReasons(st);
        if (reasons.length > 0) console.error(`warning: ${label}: firewall drift: ${reasons.join("; ")}`);
        if (!overZt) console.error(`warning: ${label}: not reachable over ZeroTier (${whereOf(p)})`);
        return {
          id,
          props: plainOutputs({
            ...p,
            enforced: st.enforced,
            foreignRules: st.foreignRules,
            zerotierReachable: overZt,
          }),
        };
      });
    } catch (err) {
      // Nothing answers: keep state, but remember that the next up must wait for ZeroTier.
      console.error(`warning: ${label}: host not reachable, state kept (${errorMessage(err)})`);
      return { id, props: plainOutputs({ ...p, zerotierReachable: false }) };
    }
  },

  async delete(_id, props) {
    const p = props as ZerotierOnlySshOutputs;
    // Back to the firewall the host had before g8os, and no g8os files left.
    try {
      await onHost(p.connection, labelOf(p), async (s) => {
        await installSwitch(s);
        await s.exec(uninstallCommand(), { write: true, step: "restore the host's own firewall" });
      });
    } catch (err) {
      // Another host key at the address: not the machine this resource locked down (a recycled VM
      // answers with its new key, and has its own firewall resource). Nothing of ours is left
      // there, and that machine must not be touched.
      if (!isHostKeyMismatch(err)) throw err;
    }
  },
};

export interface ZerotierOnlySshArgs {
  /** How to reach the host: the ZeroTier address first, then the bootstrap address; keys in order (deploy key first). Secret. Required. */
  connection: pulumi.Input<HostConnection>;
  /** The host's fixed address on the ZeroTier network (IPv4). Required. */
  zerotierAddress: pulumi.Input<string>;
  /** The host's ZeroTier interface (`zt` + 8 chars), the only one SSH stays open on. Required. */
  interfaceName: pulumi.Input<string>;
  /** SSH port. Default 22, 1 to 65535. */
  sshPort?: pulumi.Input<number>;
  /** Seconds the dead-man switch waits for a confirmation over ZeroTier before restoring. Default 90, 10 to 3600. */
  confirmTimeoutSec?: pulumi.Input<number>;
  /** Seconds to wait for SSH over ZeroTier before touching ufw. Default 120. */
  reachTimeoutSec?: pulumi.Input<number>;
  /** Name of the host in messages (not secret). Default the ZeroTier address. */
  displayName?: pulumi.Input<string>;
}

/** ufw on a host: SSH only over ZeroTier, applied with a dead-man switch. */
export class ZerotierOnlySsh extends pulumi.dynamic.Resource {
  declare readonly enforced: pulumi.Output<boolean>;
  declare readonly closedAddresses: pulumi.Output<string[]>;
  declare readonly foreignRules: pulumi.Output<string[]>;
  declare readonly zerotierReachable: pulumi.Output<boolean>;

  constructor(name: string, args: ZerotierOnlySshArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      zerotierOnlySshProvider,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        enforced: undefined,
        closedAddresses: undefined,
        foreignRules: undefined,
        zerotierReachable: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
      "host",
      "ZerotierOnlySsh",
    );
  }
}
