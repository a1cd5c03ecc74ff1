/**
 * CloudInitSeed: a NoCloud seed ISO (volume id `cidata`) on the KVM host, built from user-data,
 * meta-data and an optional network-config.
 *
 * The meta-data's `instance-id` is derived from a hash of all the content: change the seed and the
 * guest's cloud-init sees a new instance on its next boot and re-runs its per-instance modules
 * (otherwise edits to cloud-init silently do nothing on an existing VM). A content change rebuilds
 * the ISO in place (same path), so the domain using it is not replaced. Create never overwrites a
 * file that is already there (another environment's seed, a leftover): it fails naming `name`.
 *
 * user-data is a secret input (it carries keys and maybe passwords): it travels base64 on SSH stdin,
 * is secret in state, and is redacted from errors.
 */
import * as pulumi from "@pulumi/pulumi";
import { resourceLabel } from "../shared/errors";
import { plainOutputs } from "../shared/dynamic";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import { declareResource, optional, required } from "../shared/resource-kit";
import { hostname, nonEmptyString, type Validator } from "../shared/validate";
import { joinPath } from "./client";
import {
  absolutePath,
  connectionFields,
  labelledFailures,
  libvirtName,
  withLibvirt,
  type ProviderProps,
} from "./common";

const KIND = "CloudInitSeed";

/** sha256 over the three documents, length-prefixed so no two splits collide. */
export function seedContentHash(userData: string, extraMetaData: string, networkConfig: string): string {
  const crypto = require("crypto") as typeof import("crypto");
  const h = crypto.createHash("sha256");
  for (const part of [userData, extraMetaData, networkConfig])
    h.update(`${Buffer.byteLength(part)}:`).update(part);
  return h.digest("hex");
}

/** meta-data document: instance-id from the content hash, the hostname, then any extra lines. */
export function seedMetaData(name: string, hostName: string, contentHash: string, extra: string): string {
  const lines = [`instance-id: iid-${name}-${contentHash.slice(0, 16)}`, `local-hostname: ${hostName}`];
  if (extra.trim()) lines.push(extra.trimEnd());
  return lines.join("\n") + "\n";
}

/** Builds the ISO; `replace` only for this resource's own file (update), never on create. */
async function buildSeed(inputs: ProviderProps, replace: boolean): Promise<Record<string, unknown>> {
  const label = resourceLabel(KIND, inputs.name);
  const path = joinPath(inputs.poolDir, `${inputs.name}.iso`);
  const extra = inputs.extraMetaData ?? "";
  const net = inputs.networkConfig ?? "";
  const contentHash = seedContentHash(inputs.userData, extra, net);
  const metaData = seedMetaData(inputs.name, inputs.hostname ?? inputs.name, contentHash, extra);
  await withLibvirt(inputs, label, (c) =>
    c.writeSeedIso(
      path,
      { userData: inputs.userData, metaData, networkConfig: net || undefined },
      [inputs.userData],
      { replace },
    ),
  );
  return plainOutputs({
    ...inputs,
    path,
    contentHash,
    instanceId: `iid-${inputs.name}-${contentHash.slice(0, 16)}`,
  });
}

const cloudInitDocument: Validator = (v) =>
  typeof v === "string" && /^#cloud-config\s*\n|^#!|^Content-Type: multipart/.test(v)
    ? undefined
    : "must be a cloud-init document starting with '#cloud-config' (or a '#!' script)";

const fields = {
  ...connectionFields,
  /** Seed name; the ISO is `<poolDir>/<name>.iso` and the instance-id starts with it. Required; replaces. */
  name: required<string>({ validate: libvirtName, change: "replace" }),
  /** Absolute directory on the KVM host for the ISO. Required; replaces. */
  poolDir: required<string>({ validate: absolutePath, change: "replace" }),
  /** cloud-init user-data (`#cloud-config ...`). Required; secret in state. A change rebuilds the ISO in place. */
  userData: required<string>({ validate: cloudInitDocument, secret: true }),
  /** Guest hostname (meta-data local-hostname). Default: `name`. */
  hostname: optional<string>({ validate: hostname }),
  /** Extra meta-data YAML lines appended after instance-id and local-hostname. Default none. */
  extraMetaData: optional<string>({ validate: nonEmptyString }),
  /** cloud-init network-config (v1 or v2 YAML). Default: cloud-init's DHCP on the first NIC. */
  networkConfig: optional<string>({ validate: nonEmptyString }),
};

/** The CloudInitSeed declaration (type token libvirt:CloudInitSeed, unchanged). */
export const seedKit = declareResource({
  kind: KIND,
  module: "libvirt",
  type: "CloudInitSeed",
  fields,
  outputs: ["path", "contentHash", "instanceId"],
  deleteBeforeReplace: true,
});

export const seedProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    const r = seedKit.check(news);
    const failures = labelledFailures(KIND, news.name, r.failures);
    return { inputs: failures.length ? news : r.inputs, failures };
  },

  async diff(_id, olds, news) {
    const d = seedKit.diff(olds, news);
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },

  async create(inputs) {
    const outs = await buildSeed(inputs, false);
    return { id: outs.path as string, outs };
  },

  async read(id, props) {
    const exists = await withLibvirt(props, resourceLabel(KIND, String(props.name)), (c) => c.fileExists(id));
    return exists ? { id, props } : {};
  },

  async update(_id, olds, news) {
    const contentChanged = ["userData", "extraMetaData", "networkConfig", "hostname"].some(
      (k) => (olds[k] ?? null) !== (news[k] ?? null),
    );
    if (!contentChanged)
      return {
        outs: plainOutputs({
          ...news,
          path: olds.path,
          contentHash: olds.contentHash,
          instanceId: olds.instanceId,
        }),
      };
    return { outs: await buildSeed(news, true) };
  },

  async delete(id, props) {
    await withLibvirt(props, resourceLabel(KIND, String(props.name)), (c) => c.removeFile(id));
  },
};

/** CloudInitSeed inputs: derived from `fields` (doc comments there). */
export type CloudInitSeedArgs = KitArgs<typeof fields>;

export class CloudInitSeed extends KitResource {
  /** Absolute path of the seed ISO on the KVM host. */
  declare readonly path: pulumi.Output<string>;
  /** sha256 of the seed content (user-data, extra meta-data, network-config). */
  declare readonly contentHash: pulumi.Output<string>;
  /** cloud-init instance-id written into meta-data. */
  declare readonly instanceId: pulumi.Output<string>;

  constructor(name: string, args: CloudInitSeedArgs, opts?: pulumi.CustomResourceOptions) {
    super(seedKit, seedProvider, name, { ...args }, opts);
  }
}
