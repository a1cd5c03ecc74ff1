/**
 * LibvirtDomain: a persistent libvirt domain (VM) on the KVM host.
 *
 * - create: refuse a name the host already uses (another environment's VM or a leftover: never
 *   touched) and NICs on networks/bridges the host lacks, before anything is defined; then define
 *   with a generated UUID (kept in the outputs), autostart, start, wait for the address (lease |
 *   agent | arp | any, with a deadline). If autostart or start fails, the domain never ran: it is
 *   undefined again, so a bad input leaves nothing behind. If waiting for the address fails, the
 *   error is a partial create: the engine records the domain and the next `up` finishes it
 *   (update re-defines a missing domain, starts it and waits again) instead of tripping over
 *   "domain already exists".
 * - diff: memory/vcpus/autostart/running change in place (stop, re-define with the same UUID and
 *   MACs, start); disks, kernel, NICs, seed or domain type replace the domain.
 * - read: an empty id when the domain was deleted outside (refresh drops it, next `up` re-creates);
 *   memory, vcpus, running and autostart as found, so drift shows up as an update.
 * - delete: destroy if running, undefine --nvram, remove the serial log file it configured.
 *   Disks and seeds are separate resources (LibvirtVolume, CloudInitSeed) and are removed by them.
 */
import * as pulumi from "@pulumi/pulumi";
import { errorMessage, OperationError, resourceLabel } from "../shared/errors";
import { containsUnknown, partialCreateError, plainOutputs } from "../shared/dynamic";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import { declareResource, optional, required, withDefault } from "../shared/resource-kit";
import { intInRange, type Validator } from "../shared/validate";
import {
  domainXml,
  parseDomainXml,
  randomMac,
  type DiskSpec,
  type DomainType,
  type LibvirtClient,
  type NicSpec,
} from "./client";
import { duplicateDomainError, nicProblems, nicProblemsError } from "./preflight";
import {
  absolutePath,
  connectionFields,
  labelledFailures,
  libvirtName,
  withLibvirt,
  type ProviderProps,
} from "./common";

const KIND = "LibvirtDomain";

/** Below this a Debian/Ubuntu guest with cloud-init runs out of memory during first boot. */
export const MIN_MEMORY_MIB = 256;

export type AddressSource = "lease" | "agent" | "arp" | "any" | "none";

const DEFAULTS = {
  domainType: "auto",
  autostart: false,
  running: true,
  addressSource: "lease",
  addressTimeoutSeconds: 300,
  shutdownTimeoutSeconds: 60,
} as const;

const macAddress = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

const disksValidator: Validator = (v) => {
  if (!Array.isArray(v)) return "must be a list of { path, format? }";
  for (const [i, d] of v.entries()) {
    const bad = absolutePath(d?.path);
    if (bad) return `[${i}].path ${bad}`;
    if (d.format !== undefined && d.format !== "qcow2" && d.format !== "raw")
      return `[${i}].format must be "qcow2" or "raw"`;
  }
  return v.length > 26 ? "must have at most 26 disks (vda..vdz)" : undefined;
};

const nicsValidator: Validator = (v) => {
  if (!Array.isArray(v)) return "must be a list of { network | bridge, mac? }";
  for (const [i, n] of v.entries()) {
    if (!n || (n.network === undefined) === (n.bridge === undefined))
      return `[${i}] must set exactly one of network (a libvirt network name) or bridge (a host bridge)`;
    const bad = libvirtName(n.network ?? n.bridge);
    if (bad) return `[${i}].${n.network !== undefined ? "network" : "bridge"} ${bad}`;
    if (n.mac !== undefined && !(typeof n.mac === "string" && macAddress.test(n.mac)))
      return `[${i}].mac must be a lowercase MAC like 52:54:00:12:34:56`;
  }
  return undefined;
};

/**
 * virsh looks a domain up by id, then UUID, then name: a name that reads as an id or a UUID
 * would find (and the duplicate check would report) some other domain.
 */
export const domainName: Validator = (v) =>
  libvirtName(v) ??
  (/^\d+$/.test(v as string) || /^[0-9a-f]{8}(-?[0-9a-f]{4}){3}-?[0-9a-f]{12}$/i.test(v as string)
    ? "must not be all digits or a UUID (virsh would take it for a domain id or UUID)"
    : undefined);

const oneOf =
  (...allowed: string[]): Validator =>
  (v) =>
    typeof v === "string" && allowed.includes(v)
      ? undefined
      : `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}`;

const cmdlineText: Validator = (v) =>
  typeof v === "string" && !/[\n\r\0]/.test(v) && v.length <= 2048
    ? undefined
    : "must be one line of at most 2048 characters";

/** The XML for these inputs, with the UUID, MACs and domain type already decided. */
function xmlFor(p: ProviderProps, uuid: string, macs: string[], domainType: DomainType): string {
  return domainXml({
    name: p.name,
    uuid,
    domainType,
    memoryMiB: p.memoryMiB,
    vcpus: p.vcpus,
    disks: (p.disks ?? []) as DiskSpec[],
    seedIso: p.seedIso,
    nics: ((p.nics ?? []) as NicSpec[]).map((n, i) => ({ ...n, mac: macs[i] })),
    kernel: p.kernel,
    initrd: p.initrd,
    cmdline: p.cmdline,
    serialLogPath: p.serialLogPath,
  });
}

/** Waits for the first NIC's address. Returns the address, or "" when none is wanted. */
async function firstAddress(
  c: LibvirtClient,
  p: ProviderProps,
  uuid: string,
  macs: string[],
): Promise<string> {
  if (p.addressSource === "none" || macs.length === 0) return "";
  return c.waitForAddress(uuid, macs[0], p.addressSource, p.addressTimeoutSeconds * 1000);
}

/** Starts (if not running) and waits for the first NIC's address. Returns the address or "". */
async function bringUp(c: LibvirtClient, p: ProviderProps, uuid: string, macs: string[]): Promise<string> {
  const info = await c.domainInfo(uuid);
  if (info?.state !== "running") await c.start(uuid);
  return firstAddress(c, p, uuid, macs);
}

/** Fails (InputError on `nics[i].network|bridge`) unless the host has every NIC's network or bridge. */
async function requireNicTargets(c: LibvirtClient, label: string, p: ProviderProps): Promise<void> {
  const nics = (p.nics ?? []) as NicSpec[];
  if (nics.length === 0) return;
  const problems = nicProblems(nics, await c.hostNetworks(), p.host);
  if (problems.length) throw nicProblemsError(label, problems);
}

/** A start that failed after the new domain was undefined again: the cause, and that nothing is left. */
function startFailed(label: string, err: unknown): OperationError {
  const detail = (err as { detail?: unknown }).detail;
  return new OperationError(
    label,
    "start the new domain",
    `${typeof detail === "string" ? detail : errorMessage(err)}; the domain was undefined again, nothing is left behind`,
    "that the disk, seed, kernel and initrd files exist on the KVM host, and /var/log/libvirt/qemu/<name>.log there",
  );
}

const memoryMiB: Validator = (v) =>
  intInRange(MIN_MEMORY_MIB, 1024 * 1024)(v) &&
  `must be a whole number of MiB from ${MIN_MEMORY_MIB} (a cloud-init guest needs at least that) to 1048576`;

type DiskInput = { path: string; format?: "qcow2" | "raw" };
type NicInput = { network?: string; bridge?: string; mac?: string };

const fields = {
  ...connectionFields,
  /** Domain name, unique on the host (letters, digits, `_.-`, up to 63; not all digits or a UUID). Required; replaces. */
  name: required<string>({ validate: domainName, change: "replace" }),
  /** Memory in MiB, at least 256. Required; changes in place (the guest restarts). */
  memoryMiB: required<number>({ validate: memoryMiB }),
  /** Virtual CPUs, 1..256. Required; changes in place (the guest restarts). */
  vcpus: required<number>({ validate: intInRange(1, 256) }),
  /** "kvm", "qemu" (TCG) or "auto" (KVM only on bare metal with VT-x/AMD-V). Default "auto". Replaces. */
  domainType: withDefault<"auto" | "kvm" | "qemu">(DEFAULTS.domainType, {
    validate: oneOf("auto", "kvm", "qemu"),
    change: "replace",
  }),
  /** Virtio disks (vda, vdb, ...): absolute image paths on the host, at most 26. Default none. Replaces. */
  disks: withDefault<DiskInput[]>([], { validate: disksValidator, change: "replace" }),
  /** NICs: each a libvirt `network` or a host `bridge`, optional fixed lowercase `mac`. Default none. Replaces. */
  nics: withDefault<NicInput[]>([], { validate: nicsValidator, change: "replace" }),
  /** Cloud-init seed ISO path (a CloudInitSeed's `path`), attached as a SATA cdrom. Replaces. */
  seedIso: optional<string>({ validate: absolutePath, change: "replace" }),
  /** Direct boot: kernel path on the host. Replaces. */
  kernel: optional<string>({ validate: absolutePath, change: "replace" }),
  /** Direct boot: initrd path on the host (needs kernel). Replaces. */
  initrd: optional<string>({ validate: absolutePath, change: "replace" }),
  /** Direct boot: kernel command line, one line of at most 2048 characters (needs kernel). Replaces. */
  cmdline: optional<string>({ validate: cmdlineText, change: "replace" }),
  /** Serial console to this file on the host (removed with the domain). Default: a pty. Replaces. */
  serialLogPath: optional<string>({ validate: absolutePath, change: "replace" }),
  /** Start with the host. Default false. */
  autostart: withDefault<boolean>(DEFAULTS.autostart),
  /** Keep it running. Default true. */
  running: withDefault<boolean>(DEFAULTS.running),
  /** Where to find the first NIC's IPv4: lease (libvirt networks), agent, arp, any, none. Default lease. */
  addressSource: withDefault<AddressSource>(DEFAULTS.addressSource, {
    validate: oneOf("lease", "agent", "arp", "any", "none"),
  }),
  /** How long to wait for that address, 5..3600 s. Default 300. */
  addressTimeoutSeconds: withDefault<number>(DEFAULTS.addressTimeoutSeconds, {
    validate: intInRange(5, 3600),
  }),
  /** ACPI shutdown grace before a hard power-off on updates, 0..3600 s. Default 60. */
  shutdownTimeoutSeconds: withDefault<number>(DEFAULTS.shutdownTimeoutSeconds, {
    validate: intInRange(0, 3600),
  }),
};

/** The LibvirtDomain declaration (type token libvirt:LibvirtDomain, unchanged). */
export const domainKit = declareResource({
  kind: KIND,
  module: "libvirt",
  type: "LibvirtDomain",
  fields,
  outputs: ["uuid", "macs", "ipAddress", "effectiveDomainType", "domainTypeReason", "state"],
  // Domain names are unique on the host: the old one must go first.
  deleteBeforeReplace: true,
});

export const domainProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    // The defaults are filled in even when a value is unknown (preview) or a field is bad, as before
    // the kit: the cross-field rules below and diff see them.
    const inputs = { ...DEFAULTS, ...news, disks: news.disks ?? [], nics: news.nics ?? [] };
    const label = resourceLabel(KIND, String(news.name));
    const r = domainKit.check(inputs);
    const failures = labelledFailures(KIND, news.name, r.failures);
    if ((inputs.initrd !== undefined || inputs.cmdline !== undefined) && inputs.kernel === undefined)
      failures.push({
        property: "kernel",
        reason: `${label}: initrd and cmdline need kernel (direct boot). Fix: set kernel, or remove initrd and cmdline`,
      });
    if (
      Array.isArray(inputs.disks) &&
      inputs.disks.length === 0 &&
      inputs.kernel === undefined &&
      inputs.seedIso === undefined
    )
      failures.push({
        property: "disks",
        reason: `${label}: nothing to boot from. Fix: give at least one disk (disks) or a kernel`,
      });
    return { inputs: failures.length || containsUnknown(inputs) ? inputs : r.inputs, failures };
  },

  async diff(_id, olds, news) {
    const d = domainKit.diff(olds, news);
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },

  async create(inputs) {
    const label = resourceLabel(KIND, inputs.name);
    const crypto = require("crypto") as typeof import("crypto");
    const uuid = crypto.randomUUID();
    const macs: string[] = (inputs.nics as NicSpec[]).map((n) => n.mac ?? randomMac());
    return withLibvirt(inputs, label, async (c) => {
      // A new resource owns no domain yet: any domain with this name is someone else's.
      const existing = await c.domainInfo(inputs.name);
      if (existing) throw duplicateDomainError(label, inputs.name, inputs.host, existing.uuid);
      // libvirt defines a domain on a missing network or bridge and fails only at start.
      if (inputs.running) await requireNicTargets(c, label, inputs);
      const dt = await c.resolveDomainType(inputs.domainType);
      await c.define(xmlFor(inputs, uuid, macs, dt.domainType));
      const outs: Record<string, unknown> = {
        ...inputs,
        uuid,
        macs,
        effectiveDomainType: dt.domainType,
        domainTypeReason: dt.reason,
        ipAddress: "",
        state: "shut off",
      };
      try {
        if (inputs.autostart) await c.setAutostart(uuid, true);
        if (inputs.running) await c.start(uuid);
      } catch (err) {
        // It never ran, and the inputs need fixing first: take the definition back.
        try {
          await c.undefine(uuid);
        } catch {
          throw partialCreateError(err, uuid, outs);
        }
        throw startFailed(label, err);
      }
      if (inputs.running) {
        try {
          outs.ipAddress = await firstAddress(c, inputs, uuid, macs);
          outs.state = "running";
        } catch (err) {
          // Running but no address yet (slow boot): record it so the next `up` finishes it via update.
          throw partialCreateError(err, uuid, { ...outs, state: "running" });
        }
      }
      return { id: uuid, outs: plainOutputs(outs) };
    });
  },

  async read(id, props) {
    const label = resourceLabel(KIND, String(props.name));
    return withLibvirt(props, label, async (c) => {
      const info = await c.domainInfo(id);
      if (!info) return {};
      const facts = parseDomainXml(await c.dumpInactiveXml(id));
      const running = info.state === "running";
      let ipAddress = running ? (props.ipAddress ?? "") : "";
      const macs = (props.macs as string[] | undefined) ?? facts.macs;
      if (running && macs.length && props.addressSource !== "none") {
        const found = (await c.addresses(id, props.addressSource ?? "lease")).find((a) => a.mac === macs[0]);
        if (found) ipAddress = found.address;
      }
      return {
        id,
        props: plainOutputs({
          ...props,
          memoryMiB: facts.memoryMiB,
          vcpus: facts.vcpus,
          running,
          autostart: info.autostart,
          state: info.state,
          ipAddress,
        }),
      };
    });
  },

  async update(id, olds, news) {
    const label = resourceLabel(KIND, news.name);
    const uuid = (olds.uuid as string) || id;
    const oldMacs = (olds.macs as string[] | undefined) ?? [];
    const macs = (news.nics as NicSpec[]).map((n, i) => n.mac ?? oldMacs[i] ?? randomMac());
    return withLibvirt(news, label, async (c) => {
      const dt =
        olds.effectiveDomainType && olds.domainType === news.domainType
          ? { domainType: olds.effectiveDomainType as DomainType, reason: olds.domainTypeReason as string }
          : await c.resolveDomainType(news.domainType);
      const info = await c.domainInfo(uuid);
      let needsDefine = !info;
      if (info) {
        const facts = parseDomainXml(await c.dumpInactiveXml(uuid));
        needsDefine = facts.memoryMiB !== news.memoryMiB || facts.vcpus !== news.vcpus;
      }
      // Only a domain about to be (re)started needs its networks: check them before stopping it.
      if (news.running && (needsDefine || info?.state !== "running")) await requireNicTargets(c, label, news);
      if (needsDefine) {
        // Memory and vCPUs apply at the next start: stop, re-define with the same UUID and MACs.
        // A missing domain is re-defined by UUID: a same-named domain of someone else makes
        // `virsh define` refuse (duplicate name error) and stays untouched.
        if (info && info.state !== "shut off") await c.stop(uuid, news.shutdownTimeoutSeconds * 1000);
        await c.define(xmlFor(news, uuid, macs, dt.domainType));
      }
      if (!info || info.autostart !== news.autostart) await c.setAutostart(uuid, news.autostart);
      let ipAddress = "";
      let state = "shut off";
      if (news.running) {
        ipAddress = await bringUp(c, news, uuid, macs);
        state = "running";
      } else {
        await c.stop(uuid, news.shutdownTimeoutSeconds * 1000);
      }
      return {
        outs: plainOutputs({
          ...news,
          uuid,
          macs,
          effectiveDomainType: dt.domainType,
          domainTypeReason: dt.reason,
          ipAddress,
          state,
        }),
      };
    });
  },

  async delete(id, props) {
    const label = resourceLabel(KIND, String(props.name));
    await withLibvirt(props, label, async (c) => {
      await c.destroyIfRunning(id);
      await c.undefine(id);
      if (props.serialLogPath) await c.removeFile(props.serialLogPath);
    });
  },
};

/** LibvirtDomain inputs: derived from `fields` (doc comments there). */
export type LibvirtDomainArgs = KitArgs<typeof fields>;

export class LibvirtDomain extends KitResource {
  /** libvirt UUID (also the resource id); kept across in-place updates. */
  declare readonly uuid: pulumi.Output<string>;
  /** MAC per NIC, in order. */
  declare readonly macs: pulumi.Output<string[]>;
  /** First NIC's IPv4 address ("" when not running or addressSource "none"). */
  declare readonly ipAddress: pulumi.Output<string>;
  /** The domain type actually used ("kvm" or "qemu") and why. */
  declare readonly effectiveDomainType: pulumi.Output<DomainType>;
  /** Why that domain type was chosen. */
  declare readonly domainTypeReason: pulumi.Output<string>;
  /** virsh state when last seen ("running", "shut off", ...). */
  declare readonly state: pulumi.Output<string>;
  /** Memory in MiB as applied. */
  declare readonly memoryMiB: pulumi.Output<number>;
  /** vCPUs as applied. */
  declare readonly vcpus: pulumi.Output<number>;

  constructor(name: string, args: LibvirtDomainArgs, opts?: pulumi.CustomResourceOptions) {
    super(domainKit, domainProvider, name, { ...args }, opts);
  }
}
