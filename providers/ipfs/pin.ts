/**
 * IpfsPin: keeps a CID pinned on an IPFS node, and optionally on a remote pinning service or an
 * IPFS Cluster (see remote.ts).
 *
 * - create: `pin add` on the node (bounded: content the node cannot find fails with the CID named),
 *   then the remote pin, waited for until "pinned".
 * - read: the pin still exists on the node (and remotely, when configured); gone = empty id, so a
 *   refresh drops it and the next `up` pins again.
 * - diff: the CID or the node's API URL replace; name, recursive and the remote settings update.
 * - delete: unpins on the node and remotely (already gone is fine).
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, resourceLabel, type CheckFailure } from "../shared/errors";
import {
  collectFailures,
  httpUrl,
  intInRange,
  isBool,
  nonEmptyString,
  type Validator,
} from "../shared/validate";
import { containsUnknown, partialCreateError, plainOutputs } from "../shared/dynamic";
import { declareResource, required, withDefault, type KitInputs } from "../shared/resource-kit";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import { IpfsClient, looksLikeCid } from "./client";
import { remotePin, remotePinAlive, remoteUnpin, type RemotePinSpec, type RemotePinState } from "./remote";

const cidValidator: Validator = (v) =>
  looksLikeCid(v) ? undefined : "must be an IPFS CID (Qm… for v0, bafy…/bafk… for v1)";

const fields = {
  /** IPFS RPC API base URL of the node holding the content, e.g. http://127.0.0.1:5001. Replaces. */
  apiUrl: required<string>({ validate: httpUrl, change: "replace" }),
  /** The CID to keep pinned (Qm… v0 or bafy…/bafk… v1). Replaces. */
  cid: required<string>({ validate: cidValidator, change: "replace" }),
  /** Pin name (Kubo >= 0.26 and remote services show it). Default: the resource name. */
  name: required<string>({ validate: nonEmptyString }),
  /** Pin the whole DAG (true) or only the root block. Default true. */
  recursive: withDefault<boolean>(true, { validate: isBool }),
  /** Also pin on a pinning service or an IPFS Cluster (see remote.ts). Default: none (null). */
  remote: withDefault<RemotePinSpec | null>(null),
  /** Bearer token for `remote`; stored as a secret. Default "" (none). Needs `remote`. */
  remoteToken: withDefault<string>("", { secret: true }),
};

function remoteFailures(news: Record<string, unknown>): CheckFailure[] {
  const remote = news.remote;
  if (remote === undefined || remote === null || containsUnknown(remote)) return [];
  const r = remote as Partial<RemotePinSpec>;
  const kinds = ["pinning-service", "cluster"];
  const out = collectFailures([
    {
      path: "remote.kind",
      value: r.kind,
      check: (v) => (kinds.includes(v as string) ? undefined : `must be one of ${kinds.join(", ")}`),
    },
    { path: "remote.endpoint", value: r.endpoint, check: httpUrl },
    { path: "remote.replicationMin", value: r.replicationMin, check: intInRange(1, 1000), optional: true },
    { path: "remote.replicationMax", value: r.replicationMax, check: intInRange(1, 1000), optional: true },
    { path: "remote.timeoutMs", value: r.timeoutMs, check: intInRange(1000, 3_600_000), optional: true },
  ]);
  if (
    typeof r.replicationMin === "number" &&
    typeof r.replicationMax === "number" &&
    r.replicationMax < r.replicationMin
  ) {
    out.push({ property: "remote.replicationMax", reason: "must be at least remote.replicationMin" });
  }
  if (r.kind === "pinning-service" && (r.replicationMin !== undefined || r.replicationMax !== undefined)) {
    out.push({
      property: "remote.replicationMin",
      reason: "applies to kind cluster only (a pinning service decides replication itself); remove it",
    });
  }
  return out;
}

/** The IpfsPin declaration: fields, type token ipfs:Pin, the remote checks as a `rules` hook. */
export const ipfsPinKit = declareResource({
  kind: "IpfsPin",
  module: "ipfs",
  type: "Pin",
  fields,
  outputs: ["remotePin"],
  rules: remoteFailures,
});

export type IpfsPinInputs = KitInputs<typeof fields>;

export interface IpfsPinOutputs extends IpfsPinInputs {
  /** The remote pin once done, or null. */
  remotePin: RemotePinState | null;
}

const label = (i: object): string => ipfsPinKit.label(i);
const client = (i: IpfsPinInputs): IpfsClient => new IpfsClient(i.apiUrl, { label: label(i) });
const normalise = (i: object): IpfsPinInputs => ipfsPinKit.normalise(i) as unknown as IpfsPinInputs;

async function pinEverywhere(i: IpfsPinInputs): Promise<IpfsPinOutputs> {
  await client(i).pinAdd(i.cid, { recursive: i.recursive, name: i.name });
  let remote: RemotePinState | null = null;
  if (i.remote) {
    try {
      remote = await remotePin(label(i), i.remote, i.remoteToken || undefined, i.cid, i.name);
    } catch (err) {
      // The local pin exists: record it, so the next up retries the remote part only.
      throw partialCreateError(err, i.cid, { ...i, remotePin: null });
    }
  }
  return plainOutputs({ ...i, remotePin: remote });
}

export const ipfsPinProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: Partial<IpfsPinInputs>, news: Partial<IpfsPinInputs>) {
    return ipfsPinKit.check(news);
  },
  async diff(_id: string, olds: IpfsPinOutputs, news: IpfsPinInputs) {
    const d = ipfsPinKit.diff(olds, news);
    // A partial create (remote pin not done) must run update even when the inputs did not change.
    const unfinished = !!olds.remote && !olds.remotePin;
    return { changes: d.changes || unfinished, replaces: d.replaces, deleteBeforeReplace: false };
  },
  async create(raw: IpfsPinInputs) {
    const i = normalise(raw);
    return { id: i.cid, outs: await pinEverywhere(i) };
  },
  async read(id: string, props: IpfsPinOutputs) {
    const i = normalise(props);
    if (!(await client(i).pinLs(i.cid))) return { id: "", props: {} };
    if (i.remote && props.remotePin) {
      const alive = await remotePinAlive(label(i), i.remote, i.remoteToken || undefined, props.remotePin);
      if (!alive) return { id: "", props: {} };
    }
    return { id, props: plainOutputs({ ...i, remotePin: props.remotePin ?? null }) };
  },
  async update(_id: string, olds: IpfsPinOutputs, news: IpfsPinInputs) {
    const i = normalise(news);
    const o = normalise(olds);
    // A remote pin moved to another endpoint (or dropped): remove the old one first.
    if (olds.remotePin && o.remote && JSON.stringify(o.remote) !== JSON.stringify(i.remote)) {
      await remoteUnpin(label(o), o.remote, o.remoteToken || undefined, olds.remotePin);
    }
    return { outs: await pinEverywhere(i) };
  },
  async delete(_id: string, props: IpfsPinOutputs) {
    const i = normalise(props);
    if (i.remote && props.remotePin) {
      await remoteUnpin(label(i), i.remote, i.remoteToken || undefined, props.remotePin);
    }
    await client(i).pinRm(i.cid, { recursive: i.recursive });
  },
};

/** IpfsPin's arguments: the fields, with `pinName` for the pin's `name` (defaultValue: the resource name). */
export type IpfsPinArgs = Omit<KitArgs<typeof fields>, "name"> & {
  /** Pin name (Kubo >= 0.26 and remote services show it). Default: the resource name. */
  pinName?: pulumi.Input<string>;
};

export class IpfsPin extends KitResource {
  declare readonly cid: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly recursive: pulumi.Output<boolean>;
  declare readonly remotePin: pulumi.Output<RemotePinState | null>;

  constructor(name: string, args: IpfsPinArgs, opts?: pulumi.CustomResourceOptions) {
    if (args.remoteToken !== undefined && args.remote === undefined) {
      throw new InputError(
        resourceLabel(ipfsPinKit.decl.kind, name),
        "remoteToken",
        "is set but remote is not",
        "add remote: { kind, endpoint } or drop remoteToken",
      );
    }
    const { pinName, remoteToken, ...rest } = args;
    super(
      ipfsPinKit,
      ipfsPinProvider,
      name,
      { ...rest, name: pinName ?? name, remoteToken: remoteToken ?? "" },
      opts,
    );
  }
}
