/**
 * KvmHostSetup: makes a host a KVM host, idempotently. Installs the libvirt/QEMU packages that
 * are missing (apt), makes sure libvirtd answers, creates the pool directory and a libvirt
 * network when missing, and reports whether KVM acceleration is usable (`domainType`).
 *
 * It removes only what it created: a network or pool directory that already existed is adopted
 * and left in place on delete. Packages are never uninstalled (other things may use them).
 */
import * as pulumi from "@pulumi/pulumi";
import { OperationError, resourceLabel } from "../shared/errors";
import { containsUnknown, plainOutputs } from "../shared/dynamic";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import { declareResource, optional, required, withDefault } from "../shared/resource-kit";
import { shellQuote } from "../shared/ssh";
import { cidr, parseIPv4, type Validator } from "../shared/validate";
import { xmlEscape, type LibvirtClient } from "./client";
import {
  absolutePath,
  connectionFields,
  labelledFailures,
  libvirtName,
  withLibvirt,
  type ProviderProps,
} from "./common";

const KIND = "KvmHostSetup";

/** Debian/Ubuntu packages a KVM host needs (facts/libvirt.md: checked on Debian 12). */
export const KVM_PACKAGES = [
  "libvirt-daemon-system",
  "libvirt-clients",
  "qemu-system-x86",
  "qemu-utils",
  "dnsmasq-base",
  "cloud-image-utils",
  "genisoimage",
  "curl",
];

export interface HostNetworkSpec {
  /** libvirt network name. */
  name: string;
  /** Linux bridge libvirt creates for it (<= 15 chars). */
  bridge: string;
  /** IPv4 subnet, /8../30, e.g. 10.215.0.0/24; the host takes the first address. */
  cidr: string;
  /** "nat": guests reach outside through the host; "none": isolated. */
  forward: "nat" | "none";
}

/** Network XML with DHCP over the subnet (host .1, leases .10 .. last-1). */
export function networkXml(n: HostNetworkSpec): string {
  const [base, bitsText] = n.cidr.split("/");
  const bits = Number(bitsText);
  const net = (parseIPv4(base) ?? 0) & (bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0);
  const size = 2 ** (32 - bits);
  const ip = (k: number) => {
    const v = (net + k) >>> 0;
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
  };
  const e = xmlEscape;
  return [
    `<network>`,
    `  <name>${e(n.name)}</name>`,
    n.forward === "nat" ? `  <forward mode='nat'/>` : "",
    `  <bridge name='${e(n.bridge)}' stp='on' delay='0'/>`,
    `  <ip address='${ip(1)}' prefix='${bits}'>`,
    `    <dhcp><range start='${ip(Math.min(10, size - 3))}' end='${ip(size - 2)}'/></dhcp>`,
    `  </ip>`,
    `</network>`,
  ]
    .filter(Boolean)
    .join("\n");
}

const networkSpec: Validator = (v) => {
  const n = v as Partial<HostNetworkSpec>;
  if (!n || typeof n !== "object") return "must be { name, bridge, cidr, forward }";
  const bad = libvirtName(n.name);
  if (bad) return `.name ${bad}`;
  if (typeof n.bridge !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(n.bridge))
    return ".bridge must be a Linux interface name of at most 15 characters";
  const c = cidr(n.cidr);
  if (c) return `.cidr ${c}`;
  const bits = Number(String(n.cidr).split("/")[1]);
  if (bits < 8 || bits > 29) return ".cidr prefix must be /8 to /29 (room for the host and DHCP leases)";
  if (n.forward !== "nat" && n.forward !== "none") return '.forward must be "nat" or "none"';
  return undefined;
};

async function ensurePackages(c: LibvirtClient, install: boolean): Promise<string[]> {
  const q = KVM_PACKAGES.map(shellQuote).join(" ");
  const r = await c.ssh.exec(
    `for p in ${q}; do dpkg-query -W -f='\${Status}\\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"; done`,
    { step: "check installed packages" },
  );
  const missing = r.stdout.split(/\s+/).filter(Boolean);
  if (missing.length === 0) return [];
  if (!install)
    throw new OperationError(
      c.label,
      "check packages",
      `missing ${missing.join(", ")}`,
      "install them on the host, or set installPackages true",
    );
  const pkgs = missing.map(shellQuote).join(" ");
  await c.ssh.exec(
    `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs} || ` +
      `{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs}; }`,
    { write: true, step: "apt-get install libvirt/QEMU packages" },
  );
  return missing;
}

async function ensureLibvirtd(c: LibvirtClient): Promise<string> {
  const probe = await c.virsh(["version", "--daemon"], { check: false });
  if (probe.code !== 0) {
    // systemd where present; otherwise (containers, test hosts) start the daemons directly.
    await c.ssh.exec(
      "if [ -d /run/systemd/system ]; then systemctl enable --now libvirtd virtlogd; " +
        "else (pgrep -x virtlogd >/dev/null || virtlogd -d) && (pgrep -x libvirtd >/dev/null || libvirtd -d); fi",
      { write: true, step: "start libvirtd" },
    );
  }
  const v = await c.virsh(["version", "--daemon"], { step: "libvirtd answers" });
  return /Running against daemon:\s*(\S+)/.exec(v.stdout)?.[1] ?? "";
}

/** Ensures the network exists, is active and autostarts. Returns true when this call created it. */
async function ensureNetwork(c: LibvirtClient, n: HostNetworkSpec): Promise<boolean> {
  const info = await c.virsh(["net-info", n.name], { check: false });
  let created = false;
  if (info.code !== 0) {
    await c.ssh.exec(
      `f=$(mktemp) && cat > "$f" && virsh -c qemu:///system net-define "$f"; rc=$?; rm -f "$f"; exit $rc`,
      {
        stdin: networkXml(n),
        write: true,
        step: `define network ${n.name}`,
      },
    );
    created = true;
  }
  const kv = (await c.virsh(["net-info", n.name])).stdout;
  if (!/Active:\s*yes/.test(kv)) await c.virsh(["net-start", n.name], { write: true });
  if (!/Autostart:\s*yes/.test(kv)) await c.virsh(["net-autostart", n.name], { write: true });
  return created;
}

async function setup(p: ProviderProps): Promise<Record<string, unknown>> {
  const label = resourceLabel(KIND, p.name);
  return withLibvirt(p, label, async (c) => {
    const installed = await ensurePackages(c, p.installPackages !== false);
    const libvirtVersion = await ensureLibvirtd(c);
    const pd = shellQuote(p.poolDir);
    const had = await c.fileExists(p.poolDir);
    if (!had)
      await c.ssh.exec(`mkdir -p ${pd} && chmod 0711 ${pd}`, { write: true, step: "create pool directory" });
    let createdNetwork = false;
    if (p.network) createdNetwork = await ensureNetwork(c, p.network);
    const dt = await c.resolveDomainType(p.domainType ?? "auto");
    return plainOutputs({
      ...p,
      installedPackages: installed,
      libvirtVersion,
      createdPoolDir: !had,
      createdNetwork,
      effectiveDomainType: dt.domainType,
      domainTypeReason: dt.reason,
    });
  });
}

const fields = {
  ...connectionFields,
  /** A label for messages (the host's name): letters, digits, `_.-`, up to 63. Required. */
  name: required<string>({ validate: libvirtName }),
  /** Absolute directory for images and seed ISOs; created (mode 0711) when missing; delete removes it only if this resource created it and it is empty. Required; a change replaces. */
  poolDir: required<string>({ validate: absolutePath, change: "replace" }),
  /** libvirt network for the VMs (name, bridge <= 15 chars, cidr /8../29, forward "nat"/"none"); an existing one of that name is adopted and kept on delete. Default none; a change replaces. */
  network: optional<HostNetworkSpec>({ validate: networkSpec, change: "replace" }),
  /** "kvm", "qemu" (TCG) or "auto" (KVM only on bare metal with /dev/kvm, VT-x/AMD-V and libvirt KVM support). Default "auto". */
  domainType: withDefault<"auto" | "kvm" | "qemu">("auto", {
    validate: (v) =>
      ["auto", "kvm", "qemu"].includes(v as string) ? undefined : 'must be "auto", "kvm" or "qemu"',
  }),
  /** Install missing packages (KVM_PACKAGES) with apt. Default true; false = fail naming what is missing. */
  installPackages: withDefault<boolean>(true),
};

/** The KvmHostSetup declaration (type token libvirt:KvmHostSetup, unchanged). */
export const hostSetupKit = declareResource({
  kind: KIND,
  module: "libvirt",
  type: "KvmHostSetup",
  fields,
  outputs: [
    "effectiveDomainType",
    "domainTypeReason",
    "libvirtVersion",
    "installedPackages",
    "createdPoolDir",
    "createdNetwork",
  ],
});

export const hostSetupProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    // Defaults filled in even with unknown values (preview) or bad fields, as before the kit.
    const inputs = { domainType: "auto", installPackages: true, ...news };
    const r = hostSetupKit.check(inputs);
    const failures = labelledFailures(KIND, news.name, r.failures);
    return { inputs: failures.length || containsUnknown(inputs) ? inputs : r.inputs, failures };
  },

  async diff(_id, olds, news) {
    const d = hostSetupKit.diff(olds, news);
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },

  async create(inputs) {
    const outs = await setup(inputs);
    return { id: `${inputs.host}:${inputs.poolDir}`, outs };
  },

  async read(id, props) {
    // The host itself does not disappear; report what detection says now.
    const label = resourceLabel(KIND, String(props.name));
    return withLibvirt(props, label, async (c) => {
      const dt = await c.resolveDomainType(props.domainType ?? "auto");
      return { id, props: { ...props, effectiveDomainType: dt.domainType, domainTypeReason: dt.reason } };
    });
  },

  async update(_id, olds, news) {
    const outs = await setup(news);
    // Keep what the first run created, so delete still knows what it owns.
    return {
      outs: {
        ...outs,
        createdPoolDir: !!olds.createdPoolDir,
        createdNetwork: !!olds.createdNetwork || !!outs.createdNetwork,
      },
    };
  },

  async delete(_id, props) {
    const label = resourceLabel(KIND, String(props.name));
    await withLibvirt(props, label, async (c) => {
      if (props.createdNetwork && props.network) {
        await c.virsh(["net-destroy", props.network.name], { write: true, check: false });
        await c.virsh(["net-undefine", props.network.name], { write: true, check: false });
      }
      // rmdir, not rm -r: volumes still in it belong to someone else.
      if (props.createdPoolDir)
        await c.ssh.exec(`rmdir ${shellQuote(props.poolDir)} 2>/dev/null || true`, {
          write: true,
          step: "remove pool directory",
        });
    });
  },
};

/** KvmHostSetup inputs: derived from `fields` (doc comments there). */
export type KvmHostSetupArgs = KitArgs<typeof fields>;

export class KvmHostSetup extends KitResource {
  /** The domain type VMs on this host should use ("kvm" or "qemu"). */
  declare readonly effectiveDomainType: pulumi.Output<"kvm" | "qemu">;
  /** Why that domain type was chosen. */
  declare readonly domainTypeReason: pulumi.Output<string>;
  /** libvirtd's version as virsh reports it. */
  declare readonly libvirtVersion: pulumi.Output<string>;
  /** Packages this resource installed (empty when all were there). */
  declare readonly installedPackages: pulumi.Output<string[]>;

  constructor(name: string, args: KvmHostSetupArgs, opts?: pulumi.CustomResourceOptions) {
    super(hostSetupKit, hostSetupProvider, name, { ...args }, opts);
  }
}
