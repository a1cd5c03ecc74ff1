/**
 * `ZerotierHostJoin`: puts a Linux host on a ZeroTier network over SSH: makes sure zerotier-one is
 * installed, joins the network, and reports the node id to authorise. It is also the host's first
 * contact, so it pins the SSH host key (`hostKeySha256` output) that later resources verify.
 */
import type * as pulumi from "@pulumi/pulumi";
import { errorMessage, OperationError, resourceLabel } from "../shared/errors";
import { plainOutputs } from "../shared/dynamic";
import type { SshSession } from "../shared/ssh";
import { hexId, nonEmptyString } from "../shared/validate";
import { declareResource, optional, required, type KitInputs } from "../shared/resource-kit";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import {
  zerotierInterfaceName,
  zerotierJoin,
  zerotierLeave,
  zerotierNetworkStatus,
  zerotierNodeInfo,
} from "./node";
import {
  connectionFailures,
  connectionFix,
  onHost,
  readOnHost,
  type HostConnection,
} from "../shared/host-connection";

/**
 * Default install: the `zerotier-one` package from the host's apt sources (add ZeroTier's apt
 * repository, download.zerotier.com/debian/<codename>, beforehand, or override the command).
 */
export const DEFAULT_ZEROTIER_INSTALL =
  "apt-get install -y --no-install-recommends zerotier-one && (systemctl enable --now zerotier-one || service zerotier-one start)";

const fields = {
  /**
   * How to reach the host (bootstrap address and key). Required; secret in state.
   * `hostKeySha256` unset = pin the key seen on first contact. A change updates in place.
   */
  connection: required<HostConnection>({ secret: true, fix: connectionFix("connection") }),
  /**
   * The 16-hex ZeroTier network id to join. Required; a change moves the host (joins the new one,
   * leaves the old).
   */
  networkId: required<string>({ validate: hexId(16) }),
  /** Shell command run when `zerotier-cli` is missing. Default `DEFAULT_ZEROTIER_INSTALL` (apt `zerotier-one`). */
  installCommand: optional<string>({ validate: nonEmptyString }),
};

/**
 * The ZerotierHostJoin declaration: type token host:ZerotierHostJoin (unchanged: URNs of existing
 * stacks), though the resource lives here; messages name it by network id.
 */
export const zerotierHostJoinKit = declareResource({
  kind: "ZerotierHostJoin",
  module: "host",
  type: "ZerotierHostJoin",
  fields,
  outputs: ["nodeId", "interfaceName", "hostKeySha256", "joined"],
  labelField: "networkId",
  // The kit reported a missing connection; this checks what is there.
  rules: (news) =>
    news.connection === undefined || news.connection === null
      ? []
      : connectionFailures("connection", news.connection),
});

export type ZerotierHostJoinInputs = KitInputs<typeof fields>;

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

const KIND = zerotierHostJoinKit.decl.kind;

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
    return zerotierHostJoinKit.check(news);
  },

  async diff(_id, olds, news) {
    const d = zerotierHostJoinKit.diff(olds, news);
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

/** ZerotierHostJoin's arguments, derived from the fields (each property's doc is its field's). */
export type ZerotierHostJoinArgs = KitArgs<typeof fields>;

/** A host joined to a ZeroTier network (the member still needs authorising: see ZerotierMember). */
export class ZerotierHostJoin extends KitResource {
  declare readonly nodeId: pulumi.Output<string>;
  declare readonly interfaceName: pulumi.Output<string>;
  declare readonly hostKeySha256: pulumi.Output<string>;

  constructor(name: string, args: ZerotierHostJoinArgs, opts?: pulumi.CustomResourceOptions) {
    super(zerotierHostJoinKit, zerotierHostJoinProvider, name, { ...args }, opts);
  }
}
