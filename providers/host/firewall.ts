/**
 * `ZerotierOnlySsh`: closes a host to everything but ZeroTier with ufw, lockout-proof.
 *
 * Order of an apply (create, or update when the policy changed or drifted):
 * 1. prove a NEW SSH connection over the ZeroTier address works (else fail, ufw untouched);
 * 2. save /etc/ufw and arm the dead-man switch (ufw.ts) on the host;
 * 3. set the policy (deny incoming; SSH allowed only on the ZeroTier interface) and enable ufw;
 * 4. confirm over a NEW ZeroTier connection; if that fails, wait for the switch to restore the old
 *    firewall, then fail with what to check: the host is reachable on its bootstrap address again;
 * 5. verify from here that SSH on every other address is refused.
 */
import * as pulumi from "@pulumi/pulumi";
import { OperationError, resourceLabel } from "../shared/errors";
import { containsUnknown, diffFields, partialCreateError, plainOutputs } from "../shared/dynamic";
import { tcpProbe } from "../shared/net";
import { isHostKeyMismatch } from "../shared/ssh";
import { pollUntil } from "../shared/retry";
import { collectFailures, intInRange, ipv4, nonEmptyString } from "../shared/validate";
import { connectionFailures, onHost, readOnHost, type HostConnection } from "./connection";
import {
  armDeadManCommand,
  backupCommand,
  confirmCommand,
  outcomeCommand,
  parseUfwStatus,
  policyCommands,
  UFW_RESET,
  type UfwPolicy,
} from "./ufw";

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
}

export interface ZerotierOnlySshOutputs extends ZerotierOnlySshInputs {
  /** False when a refresh found ufw off or the policy changed by hand: the next up re-applies. */
  enforced: boolean;
  /** Addresses verified to refuse SSH after the apply. */
  closedAddresses: string[];
}

const KIND = "ZerotierOnlySsh";

function policyOf(i: ZerotierOnlySshInputs): UfwPolicy {
  return { interfaceName: i.interfaceName, sshPort: i.sshPort ?? 22 };
}

/** The ZeroTier address with the FIRST key only (the deploy key): that pair must work, nothing else counts. */
function overZerotier(i: ZerotierOnlySshInputs): HostConnection {
  return {
    ...i.connection,
    addresses: [{ host: i.zerotierAddress, port: i.sshPort ?? 22 }],
    privateKeys: i.connection.privateKeys.slice(0, 1),
  };
}

async function apply(name: string, i: ZerotierOnlySshInputs): Promise<ZerotierOnlySshOutputs> {
  const label = resourceLabel(KIND, name);
  const port = i.sshPort ?? 22;
  const wait = i.confirmTimeoutSec ?? 90;
  const crypto = require("crypto") as typeof import("crypto");
  const token = crypto.randomBytes(8).toString("hex");

  // 1. ZeroTier path first: never touch the firewall of a host we could not reach afterwards.
  // The interface may come up a little after the controller assigned the IP: poll with a deadline.
  await pollUntil(
    async () => {
      try {
        await onHost(overZerotier(i), label, (s) =>
          s.exec("true", { step: "SSH over ZeroTier before changing ufw" }),
        );
        return true;
      } catch (err) {
        return { pending: (err as Error).message };
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
      `SSH over ZeroTier to ${i.zerotierAddress}:${port} (ufw was not changed)`,
      (err as Error).message,
      "that the member is authorised and the host shows status OK in `zerotier-cli listnetworks`",
    );
  });

  // 2 + 3. Backup, arm, apply, all in one session on whichever address answers.
  await onHost(i.connection, label, async (s) => {
    await s.exec(backupCommand(token), { write: true, step: "save /etc/ufw" });
    await s.exec(armDeadManCommand(token, wait), { write: true, step: "arm the ufw dead-man switch" });
    for (const cmd of policyCommands(policyOf(i))) await s.exec(cmd, { write: true, step: cmd });
  });

  // 4. Confirm over a new ZeroTier connection, or let the switch restore and report.
  const confirmed = await onHost(overZerotier(i), label, async (s) => {
    await s.exec(confirmCommand(token), { write: true, step: "confirm the firewall change" });
    return true;
  }).catch(() => false);
  if (!confirmed) {
    const outcome = await pollUntil(
      async () => {
        const r = await onHost(i.connection, label, (s) =>
          s.exec(outcomeCommand(token), { check: false }),
        ).catch(() => undefined);
        const o = r?.stdout.trim();
        return o === "reverted" ? o : { pending: o ? `outcome ${o}` : "host not reachable yet" };
      },
      { timeoutMs: (wait + 60) * 1000, intervalMs: 3000, what: "the dead-man switch to restore ufw" },
    ).catch((e: Error) => `unknown (${e.message})`);
    throw new OperationError(
      label,
      `SSH over ZeroTier to ${i.zerotierAddress}:${port} after enabling ufw`,
      `no new connection was accepted; the dead-man switch ${outcome === "reverted" ? "restored the previous firewall" : `state: ${outcome}`}, so the host stays reachable on its bootstrap address`,
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
  });
  if (stillOpen.length > 0) {
    throw partialCreateError(
      new OperationError(
        label,
        "verify SSH is closed outside ZeroTier",
        `${stillOpen.join(", ")} still accept(s) SSH on port ${port}`,
        "other firewalls or port forwards in front of the host",
      ),
      `${name}`,
      outs,
    );
  }
  return outs;
}

export const zerotierOnlySshProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return {
      inputs: news,
      failures: [
        ...connectionFailures("connection", news.connection),
        ...collectFailures([
          { path: "zerotierAddress", value: news.zerotierAddress, check: ipv4 },
          { path: "interfaceName", value: news.interfaceName, check: nonEmptyString },
          { path: "sshPort", value: news.sshPort, check: intInRange(1, 65535), optional: true },
          {
            path: "confirmTimeoutSec",
            value: news.confirmTimeoutSec,
            check: intInRange(10, 3600),
            optional: true,
          },
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
      changes: d.changes || olds.enforced === false,
      replaces: d.changed.includes("connection") && newHost ? ["connection"] : [],
      deleteBeforeReplace: false,
    };
  },

  async create(inputs) {
    const name = `${inputs.zerotierAddress}`;
    return { id: `ufw@${name}`, outs: await apply(name, inputs as ZerotierOnlySshInputs) };
  },

  async update(_id, olds, news) {
    const o = olds as ZerotierOnlySshOutputs;
    const n = news as ZerotierOnlySshInputs;
    const policyChanged =
      o.enforced === false ||
      o.interfaceName !== n.interfaceName ||
      (o.sshPort ?? 22) !== (n.sshPort ?? 22) ||
      o.zerotierAddress !== n.zerotierAddress;
    // A new key or address list alone changes how we connect, not the host: no remote write.
    if (!policyChanged)
      return { outs: plainOutputs({ ...n, enforced: true, closedAddresses: o.closedAddresses }) };
    return { outs: await apply(n.zerotierAddress, n) };
  },

  async read(id, props) {
    const p = props as ZerotierOnlySshOutputs;
    return readOnHost(p.connection, resourceLabel(KIND, p.zerotierAddress), { id, props }, async (s) => {
      const st = parseUfwStatus(
        (await s.exec("ufw status verbose", { step: "ufw status" })).stdout,
        policyOf(p),
      );
      return { id, props: { ...p, enforced: st.enforced } };
    });
  },

  async delete(_id, props) {
    const p = props as ZerotierOnlySshOutputs;
    // Back to no firewall: the host is no longer g8os-managed.
    try {
      await onHost(p.connection, resourceLabel(KIND, p.zerotierAddress), async (s) => {
        await s.exec(UFW_RESET, { write: true, step: "reset ufw" });
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
  connection: pulumi.Input<HostConnection>;
  zerotierAddress: pulumi.Input<string>;
  interfaceName: pulumi.Input<string>;
  sshPort?: pulumi.Input<number>;
  confirmTimeoutSec?: pulumi.Input<number>;
  reachTimeoutSec?: pulumi.Input<number>;
}

/** ufw on a host: SSH only over ZeroTier, applied with a dead-man switch. */
export class ZerotierOnlySsh extends pulumi.dynamic.Resource {
  declare readonly enforced: pulumi.Output<boolean>;
  declare readonly closedAddresses: pulumi.Output<string[]>;

  constructor(name: string, args: ZerotierOnlySshArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      zerotierOnlySshProvider,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        enforced: undefined,
        closedAddresses: undefined,
      },
      { ...opts, additionalSecretOutputs: ["connection"] },
      "host",
      "ZerotierOnlySsh",
    );
  }
}
