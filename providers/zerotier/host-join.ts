/**
 * `ZerotierHostJoin`: puts a Linux host on a ZeroTier network over SSH: makes sure zerotier-one is
 * installed, joins the network, and reports the node id to authorise. It is also the host's first
 * contact, so it pins the SSH host key (`hostKeySha256` output) that later resources verify.
 */
import * as pulumi from "@pulumi/pulumi";
import { errorMessage, OperationError, resourceLabel } from "../shared/errors";
import { diffFields, plainOutputs } from "../shared/dynamic";
import type { SshSession } from "../shared/ssh";
import { collectFailures, hexId, nonEmptyString } from "../shared/validate";
import {
  zerotierInterfaceName,
  zerotierJoin,
  zerotierLeave,
  zerotierNetworkStatus,
  zerotierNodeInfo,
} from "./node";
import { connectionFailures, onHost, readOnHost, type HostConnection } from "../shared/host-connection";

/**
 * Default install: the `zerotier-one` package from the host's apt sources (add ZeroTier's apt
 * repository, download.zerotier.com/debian/<codename>, beforehand, or override the command).
 */
export const DEFAULT_ZEROTIER_INSTALL =
  "apt-get install -y --no-install-recommends zerotier-one && (systemctl enable --now zerotier-one || service zerotier-one start)";

export interface ZerotierHostJoinInputs {
  /** How to reach the host (see ZerotierHostJoinArgs.connection). */
  connection: HostConnection;
  /** 16-hex network id to join. */
  networkId: string;
  /** Shell command that installs and starts zerotier-one when `zerotier-cli` is missing. */
  installCommand?: string;
}

export interface ZerotierHostJoinOutputs extends ZerotierHostJoinInputs {
  /** 10-hex ZeroTier node id (the member id to authorise). */
  nodeId: string;
  /** The interface zerotier-one creates for this network (`zt` + 8 chars). */
  interfaceName: string;
  /** SSH host key seen on first contact (`SHA256:...`), pinned for later connections. */
  hostKeySha256: string;
  /** false when a refresh found the node no longer joined: the next up joins again. */
  joined: boolean;
}

const KIND = "ZerotierHostJoin";

async function ensureJoined(s: SshSession, i: ZerotierHostJoinInputs): Promise<string> {
  const has = await s.exec("command -v zerotier-cli", { check: false, step: "look for zerotier-cli" });
  if (has.code !== 0) {
    await s.exec(i.installCommand ?? DEFAULT_ZEROTIER_INSTALL, {
      write: true,
      step: "install zerotier-one (set installCommand, or add ZeroTier's apt repository on the host)",
    });
  }
  const info = await zerotierNodeInfo(s);
  const joined = await zerotierNetworkStatus(s, i.networkId);
  if (!joined) await zerotierJoin(s, i.networkId);
  return info.nodeId;
}

async function apply(
  name: string,
  i: ZerotierHostJoinInputs,
  pinned?: string,
): Promise<ZerotierHostJoinOutputs> {
  const connection = { ...i.connection, hostKeySha256: i.connection.hostKeySha256 ?? pinned };
  return onHost(connection, resourceLabel(KIND, name), async (s) => {
    const nodeId = await ensureJoined(s, i);
    return plainOutputs({
      ...i,
      nodeId,
      interfaceName: zerotierInterfaceName(i.networkId),
      hostKeySha256: s.hostKeySha256,
      joined: true,
    });
  });
}

export const zerotierHostJoinProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return {
      inputs: news,
      failures: [
        ...connectionFailures("connection", news.connection),
        ...collectFailures([
          { path: "networkId", value: news.networkId, check: hexId(16) },
          { path: "installCommand", value: news.installCommand, check: nonEmptyString, optional: true },
        ]),
      ],
    };
  },

  async diff(_id, olds, news) {
    const d = diffFields(olds, news, { updateOn: ["networkId", "installCommand", "connection"] });
    const drifted = olds.joined === false;
    return { changes: d.changes || drifted, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs) {
    const outs = await apply(inputs.networkId, inputs as ZerotierHostJoinInputs);
    return { id: `${outs.nodeId}@${outs.networkId}`, outs };
  },

  async update(_id, olds, news) {
    const o = olds as ZerotierHostJoinOutputs;
    const outs = await apply(news.networkId, news as ZerotierHostJoinInputs, o.hostKeySha256).catch(
      (err: unknown) => {
        if (o.networkId === news.networkId) throw err;
        // Moving networks needs the host, which may only accept SSH over the old network.
        throw new OperationError(
          resourceLabel(KIND, news.networkId),
          `move the host from ZeroTier network ${o.networkId} to ${news.networkId}`,
          errorMessage(err),
          `the host accepts SSH only over ${o.networkId}; if that network is gone for good, open the host's console, run \`ufw disable\`, then \`pulumi up\` again`,
        );
      },
    );
    // Moving to another network: leave the old one so the host is not on two build networks.
    if (o.networkId !== outs.networkId) {
      await onHost(
        { ...outs.connection, hostKeySha256: outs.hostKeySha256 },
        resourceLabel(KIND, o.networkId),
        (s) => zerotierLeave(s, o.networkId),
      );
    }
    return { outs };
  },

  async read(id, props) {
    const p = props as ZerotierHostJoinOutputs;
    const conn = { ...p.connection, hostKeySha256: p.connection.hostKeySha256 ?? p.hostKeySha256 };
    return readOnHost(conn, resourceLabel(KIND, p.networkId), { id, props }, async (s) => {
      const info = await zerotierNodeInfo(s).catch(() => undefined);
      const net = info ? await zerotierNetworkStatus(s, p.networkId) : undefined;
      return { id, props: { ...p, nodeId: info?.nodeId ?? p.nodeId, joined: !!net } };
    });
  },

  async delete(_id, props) {
    const p = props as ZerotierHostJoinOutputs;
    // Leaving ends the ZeroTier path under our feet: prefer the other addresses (the bootstrap one,
    // open again once the firewall resource is gone), ZeroTier last.
    const conn = {
      ...p.connection,
      addresses: [...p.connection.addresses].reverse(),
      hostKeySha256: p.connection.hostKeySha256 ?? p.hostKeySha256,
    };
    await onHost(conn, resourceLabel(KIND, p.networkId), async (s) => {
      if (await zerotierNetworkStatus(s, p.networkId)) await zerotierLeave(s, p.networkId);
    }).catch((err: unknown) => {
      throw new OperationError(
        resourceLabel(KIND, p.networkId),
        "leave the network",
        (err as Error).message,
        "if the host is gone for good, remove it from state with `pulumi state delete <urn>`",
      );
    });
  },
};

export interface ZerotierHostJoinArgs {
  /** How to reach the host (bootstrap address and key). Required; secret in state. `hostKeySha256` unset = pin the key seen on first contact. */
  connection: pulumi.Input<HostConnection>;
  /** The 16-hex ZeroTier network id to join. Required; a change moves the host (joins the new one, leaves the old). */
  networkId: pulumi.Input<string>;
  /** Shell command run when `zerotier-cli` is missing. Default `DEFAULT_ZEROTIER_INSTALL` (apt `zerotier-one`). */
  installCommand?: pulumi.Input<string>;
}

/** A host joined to a ZeroTier network (the member still needs authorising: see ZerotierMember). */
export class ZerotierHostJoin extends pulumi.dynamic.Resource {
  declare readonly nodeId: pulumi.Output<string>;
  declare readonly interfaceName: pulumi.Output<string>;
  declare readonly hostKeySha256: pulumi.Output<string>;

  constructor(name: string, args: ZerotierHostJoinArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      zerotierHostJoinProvider,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        nodeId: undefined,
        interfaceName: undefined,
        hostKeySha256: undefined,
        joined: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
      // The type token stays host:ZerotierHostJoin (URNs of existing stacks), though the resource lives here.
      "host",
      "ZerotierHostJoin",
    );
  }
}
