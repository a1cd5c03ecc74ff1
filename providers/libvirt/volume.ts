/**
 * LibvirtVolume: a disk image file in a pool directory on the KVM host. Either
 * - a base image fetched ON the host from `sourceUrl` (http(s):// or file://) and checked against
 *   the pinned `sha256` (mismatch: clear error, nothing kept), or
 * - a copy-on-write qcow2 overlay on `backingFile` (`qemu-img create -F qcow2 -b`), optionally
 *   with a larger virtual `size`.
 * An existing file is never overwritten: a base image with the pinned digest already there is
 * adopted (and then never deleted by this resource); anything else is an error.
 * Several environments share one base image (its name carries the digest): delete keeps a base
 * image that disks in the pool still use as backing file, so destroying the environment that
 * downloaded it never breaks the disks of one that adopted it (the file stays as a cache).
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, resourceLabel } from "../shared/errors";
import { plainOutputs } from "../shared/dynamic";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import { declareResource, optional, required } from "../shared/resource-kit";
import { sha256Hex, intInRange, type Validator } from "../shared/validate";
import { dirOf, joinPath } from "./client";
import { absolutePath, connectionFields, labelledFailures, libvirtName, withLibvirt } from "./common";

const KIND = "LibvirtVolume";

const imageUrl: Validator = (v) => {
  if (typeof v !== "string") return "must be an http(s):// or file:// URL";
  try {
    const u = new URL(v);
    return ["http:", "https:", "file:"].includes(u.protocol)
      ? undefined
      : "must be an http(s):// or file:// URL";
  } catch {
    return "must be an http(s):// or file:// URL";
  }
};

const qemuSize: Validator = (v) =>
  typeof v === "string" && /^[1-9]\d*[KMGT]$/.test(v) ? undefined : 'must be a size like "20G" or "512M"';

const fields = {
  ...connectionFields,
  /** File name in `poolDir` (letters, digits, `_.-`), e.g. "build-vm.qcow2". Required; replaces. */
  name: required<string>({ validate: libvirtName, change: "replace" }),
  /** Absolute pool directory on the KVM host. Required; replaces. */
  poolDir: required<string>({ validate: absolutePath, change: "replace" }),
  /** Base image: http(s):// or file:// URL fetched on the KVM host. Exclusive with backingFile; replaces. */
  sourceUrl: optional<string>({ validate: imageUrl, change: "replace" }),
  /** Base image: pinned sha256 (64 lowercase hex). Required with sourceUrl; replaces. */
  sha256: optional<string>({ validate: sha256Hex, change: "replace" }),
  /** Overlay: absolute path of the qcow2 backing image (usually a base volume's `path`). Replaces. */
  backingFile: optional<string>({ validate: absolutePath, change: "replace" }),
  /** Overlay: virtual size like "20G". Default: the backing image's size. Replaces. */
  size: optional<string>({ validate: qemuSize, change: "replace" }),
  /** Base image: download time limit in seconds (10..86400). Default 1800. */
  downloadTimeoutSeconds: optional<number>({ validate: intInRange(10, 86400) }),
};

/** The LibvirtVolume declaration (type token libvirt:LibvirtVolume, unchanged). */
export const volumeKit = declareResource({
  kind: KIND,
  module: "libvirt",
  type: "LibvirtVolume",
  fields,
  outputs: ["path", "format", "adopted"],
  deleteBeforeReplace: true,
});

export const volumeProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    const r = volumeKit.check(news);
    const failures = labelledFailures(KIND, news.name, r.failures);
    const label = resourceLabel(KIND, String(news.name));
    const hasUrl = news.sourceUrl !== undefined;
    const hasBacking = news.backingFile !== undefined;
    if (hasUrl === hasBacking)
      failures.push({
        property: hasUrl ? "backingFile" : "sourceUrl",
        reason: `${label}: ${hasUrl ? "sourceUrl and backingFile are both set" : "neither sourceUrl nor backingFile is set"}. Fix: set exactly one of sourceUrl (a base image to download) or backingFile (an overlay)`,
      });
    if (hasUrl && news.sha256 === undefined)
      failures.push({
        property: "sha256",
        reason: `${label}: sha256 is required with sourceUrl: never boot an unverified image. Fix: set sha256 to the image's 64-hex digest from the publisher's SHA256SUMS`,
      });
    if (hasUrl && news.size !== undefined)
      failures.push({
        property: "size",
        reason: `${label}: size applies to overlays only (backingFile). Fix: remove size`,
      });
    return { inputs: failures.length ? news : r.inputs, failures };
  },

  async diff(_id, olds, news) {
    const d = volumeKit.diff(olds, news);
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },

  async create(inputs) {
    const label = resourceLabel(KIND, inputs.name);
    const path = joinPath(inputs.poolDir, inputs.name);
    return withLibvirt(inputs, label, async (c) => {
      let adopted = false;
      if (inputs.sourceUrl) {
        if (await c.fileExists(path)) {
          const actual = await c.sha256(path);
          if (actual !== inputs.sha256)
            throw new InputError(
              label,
              "name",
              `${path} already exists on the KVM host with sha256 ${actual}, not the pinned ${inputs.sha256}`,
              "choose another volume name, or remove the file if nothing uses it",
            );
          adopted = true;
        } else {
          await c.fetchVerified(inputs.sourceUrl, path, inputs.sha256, inputs.downloadTimeoutSeconds ?? 1800);
        }
      } else {
        await c.createOverlay(inputs.backingFile, path, inputs.size);
      }
      return { id: path, outs: plainOutputs({ ...inputs, path, format: "qcow2", adopted }) };
    });
  },

  async read(id, props) {
    const label = resourceLabel(KIND, String(props.name));
    const exists = await withLibvirt(props, label, (c) => c.fileExists(id));
    return exists ? { id, props } : {};
  },

  async update(_id, olds, news) {
    // Only connection details or timeouts changed: the file stays as it is.
    return { outs: plainOutputs({ ...news, path: olds.path, format: olds.format, adopted: olds.adopted }) };
  },

  async delete(id, props) {
    if (props.adopted) return;
    const label = resourceLabel(KIND, String(props.name));
    await withLibvirt(props, label, async (c) => {
      if (props.sourceUrl && (await c.filesBackedBy(id, dirOf(id))).length > 0) return;
      await c.removeFile(id);
    });
  },
};

/** LibvirtVolume inputs: derived from `fields` (doc comments there). */
export type LibvirtVolumeArgs = KitArgs<typeof fields>;

export class LibvirtVolume extends KitResource {
  /** Absolute path of the image file on the KVM host. */
  declare readonly path: pulumi.Output<string>;
  /** Image format of the file: always "qcow2". */
  declare readonly format: pulumi.Output<string>;
  /** True when a matching base image was already there: this resource will not delete it. */
  declare readonly adopted: pulumi.Output<boolean>;

  constructor(name: string, args: LibvirtVolumeArgs, opts?: pulumi.CustomResourceOptions) {
    super(volumeKit, volumeProvider, name, { ...args }, opts);
  }
}
