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
import { collectFailures, httpUrl, intInRange, nonEmptyString, type Validator } from "../shared/validate";
import { containsUnknown, diffFields, partialCreateError, plainOutputs } from "../shared/dynamic";
import { IpfsClient, looksLikeCid } from "./client";
import { remotePin, remotePinAlive, remoteUnpin, type RemotePinSpec, type RemotePinState } from "./remote";

export interface IpfsPinInputs {
  /** IPFS RPC API base URL, e.g. http://127.0.0.1:5001. */
  apiUrl: string;
  cid: string;
  /** Pin name (Kubo >= 0.26 and remote services show it). Default: the resource name. */
  name: string;
  /** Pin the whole DAG (default) or only the root block. */
  recursive: boolean;
  /** Remote pinning, or null for none. */
  remote: RemotePinSpec | null;
  /** Bearer token for the remote endpoint (secret). "" when none. */
  remoteToken: string;
}

export interface IpfsPinOutputs extends IpfsPinInputs {
  /** The remote pin once done, or null. */
  remotePin: RemotePinState | null;
}

const KIND = "IpfsPin";
const label = (i: { name?: unknown }): string =>
  resourceLabel(KIND, typeof i.name === "string" ? i.name : "?");
const client = (i: IpfsPinInputs): IpfsClient => new IpfsClient(i.apiUrl, { label: label(i) });

const cidValidator: Validator = (v) =>
  looksLikeCid(v) ? undefined : "must be an IPFS CID (Qm… for v0, bafy…/bafk… for v1)";
const booleanValidator: Validator = (v) => (typeof v === "boolean" ? undefined : "must be true or false");

function remoteFailures(remote: unknown): CheckFailure[] {
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

function normalise(i: Partial<IpfsPinInputs>): IpfsPinInputs {
  return {
    apiUrl: i.apiUrl!,
    cid: i.cid!,
    name: i.name!,
    recursive: i.recursive ?? true,
    remote: i.remote ?? null,
    remoteToken: i.remoteToken ?? "",
  };
}

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
    const failures = collectFailures([
      { path: "apiUrl", value: news.apiUrl, check: httpUrl },
      { path: "cid", value: news.cid, check: cidValidator },
      { path: "name", value: news.name, check: nonEmptyString },
      { path: "recursive", value: news.recursive, check: booleanValidator, optional: true },
    ]);
    failures.push(...remoteFailures(news.remote));
    if (failures.length > 0 || containsUnknown(news)) return { inputs: news, failures };
    return { inputs: normalise(news), failures };
  },
  async diff(_id: string, olds: IpfsPinOutputs, news: IpfsPinInputs) {
    const d = diffFields(
      olds as unknown as Record<string, unknown>,
      news as unknown as Record<string, unknown>,
      {
        replaceOn: ["apiUrl", "cid"],
        updateOn: ["name", "recursive", "remote", "remoteToken"],
      },
    );
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

export interface IpfsPinArgs {
  /** IPFS RPC API base URL of the node holding the content. */
  apiUrl: pulumi.Input<string>;
  cid: pulumi.Input<string>;
  /** Default: the resource name. */
  pinName?: pulumi.Input<string>;
  /** Default true. */
  recursive?: pulumi.Input<boolean>;
  /** Also pin on a pinning service or an IPFS Cluster. */
  remote?: pulumi.Input<RemotePinSpec>;
  /** Bearer token for `remote` (stored as a secret). */
  remoteToken?: pulumi.Input<string>;
}

export class IpfsPin extends pulumi.dynamic.Resource {
  declare readonly cid: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly recursive: pulumi.Output<boolean>;
  declare readonly remotePin: pulumi.Output<RemotePinState | null>;

  constructor(name: string, args: IpfsPinArgs, opts?: pulumi.CustomResourceOptions) {
    if (args.remoteToken !== undefined && args.remote === undefined) {
      throw new InputError(
        resourceLabel(KIND, name),
        "remoteToken",
        "is set but remote is not",
        "add remote: { kind, endpoint } or drop remoteToken",
      );
    }
    const { pinName, remoteToken, ...rest } = args;
    super(
      ipfsPinProvider,
      name,
      {
        ...rest,
        name: pinName ?? name,
        remoteToken: pulumi.secret(remoteToken ?? ""),
        remotePin: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "remoteToken"] },
      "ipfs",
      "Pin",
    );
  }
}
