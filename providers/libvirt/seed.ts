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
import type { LibvirtConnectionArgs } from "./common";
import { resourceLabel } from "../shared/errors";
import { diffFields, plainOutputs } from "../shared/dynamic";
import { hostname, nonEmptyString, type FieldRule } from "../shared/validate";
import { joinPath } from "./client";
import {
  absolutePath,
  checkFailures,
  connectionRules,
  CONNECTION_REPLACE,
  CONNECTION_UPDATE,
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

export const seedProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    const rules: FieldRule[] = [
      ...connectionRules(news),
      { path: "name", value: news.name, check: libvirtName },
      { path: "poolDir", value: news.poolDir, check: absolutePath },
      {
        path: "userData",
        value: news.userData,
        check: (v) =>
          typeof v === "string" && /^#cloud-config\s*\n|^#!|^Content-Type: multipart/.test(v)
            ? undefined
            : "must be a cloud-init document starting with '#cloud-config' (or a '#!' script)",
      },
      { path: "hostname", value: news.hostname, check: hostname, optional: true },
      { path: "extraMetaData", value: news.extraMetaData, check: nonEmptyString, optional: true },
      { path: "networkConfig", value: news.networkConfig, check: nonEmptyString, optional: true },
    ];
    return { inputs: news, failures: checkFailures(KIND, news.name, rules) };
  },

  async diff(_id, olds, news) {
    const d = diffFields(olds, news, {
      replaceOn: [...CONNECTION_REPLACE, "name", "poolDir"],
      updateOn: [...CONNECTION_UPDATE, "userData", "extraMetaData", "networkConfig", "hostname"],
      deleteBeforeReplace: true,
    });
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

export interface CloudInitSeedArgs extends LibvirtConnectionArgs {
  /** Seed name; the ISO is `<poolDir>/<name>.iso` and the instance-id starts with it. */
  name: pulumi.Input<string>;
  /** Absolute directory on the KVM host for the ISO. */
  poolDir: pulumi.Input<string>;
  /** cloud-init user-data (`#cloud-config ...`). Secret: stored encrypted in state. */
  userData: pulumi.Input<string>;
  /** Guest hostname (meta-data local-hostname). Default: `name`. */
  hostname?: pulumi.Input<string>;
  /** Extra meta-data YAML lines appended after instance-id and local-hostname. */
  extraMetaData?: pulumi.Input<string>;
  /** cloud-init network-config (v1 or v2 YAML). Default: cloud-init's DHCP on the first NIC. */
  networkConfig?: pulumi.Input<string>;
}

export class CloudInitSeed extends pulumi.dynamic.Resource {
  /** Absolute path of the seed ISO on the KVM host. */
  declare readonly path: pulumi.Output<string>;
  /** sha256 of the seed content (user-data, extra meta-data, network-config). */
  declare readonly contentHash: pulumi.Output<string>;
  /** cloud-init instance-id written into meta-data. */
  declare readonly instanceId: pulumi.Output<string>;

  constructor(name: string, args: CloudInitSeedArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      seedProvider,
      name,
      {
        ...args,
        privateKey: pulumi.secret(args.privateKey),
        userData: pulumi.secret(args.userData),
        path: undefined,
        contentHash: undefined,
        instanceId: undefined,
      },
      {
        ...opts,
        additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "privateKey", "userData"],
      },
      "libvirt",
      "CloudInitSeed",
    );
  }
}
