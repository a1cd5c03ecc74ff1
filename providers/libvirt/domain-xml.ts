/**
 * libvirt domain XML: building it (every value escaped) and the escaping helpers.
 * Plain module (inlined by value into the serialized providers): no Pulumi imports.
 */
import type { DomainType } from "./kvm-detect";

/** Escapes text for XML element content and attribute values (both quote kinds). */
export function xmlEscape(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Reverses xmlEscape (and numeric references), for values parsed out of virsh's XML. */
export function xmlUnescape(s: string): string {
  return s
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

export interface DiskSpec {
  /** Absolute path of the image file on the KVM host. */
  path: string;
  /** Image format. Default qcow2. */
  format?: "qcow2" | "raw";
}

export interface NicSpec {
  /** libvirt network name (DHCP leases visible to libvirt). Exactly one of network/bridge. */
  network?: string;
  /** Host bridge name (address only through the guest agent or ARP). */
  bridge?: string;
  /** MAC address; generated when missing and kept in the outputs. */
  mac?: string;
}

export interface DomainSpec {
  name: string;
  uuid: string;
  domainType: DomainType;
  memoryMiB: number;
  vcpus: number;
  /** Virtio disks in order: vda, vdb, ... */
  disks: DiskSpec[];
  /** NoCloud seed ISO, attached as a SATA cdrom. */
  seedIso?: string;
  /** NICs, each with its MAC already decided. */
  nics: Array<NicSpec & { mac: string }>;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  /** Serial console to this file (absolute path) instead of a pty. */
  serialLogPath?: string;
}

/** Builds the domain XML. Every value is escaped; numbers are checked by the callers. */
export function domainXml(spec: DomainSpec): string {
  const e = xmlEscape;
  const lines: string[] = [];
  lines.push(`<domain type='${e(spec.domainType)}'>`);
  lines.push(`  <name>${e(spec.name)}</name>`);
  lines.push(`  <uuid>${e(spec.uuid)}</uuid>`);
  lines.push(`  <memory unit='MiB'>${spec.memoryMiB}</memory>`);
  lines.push(`  <currentMemory unit='MiB'>${spec.memoryMiB}</currentMemory>`);
  lines.push(`  <vcpu placement='static'>${spec.vcpus}</vcpu>`);
  lines.push(`  <os>`);
  lines.push(`    <type arch='x86_64' machine='q35'>hvm</type>`);
  if (spec.kernel) {
    lines.push(`    <kernel>${e(spec.kernel)}</kernel>`);
    if (spec.initrd) lines.push(`    <initrd>${e(spec.initrd)}</initrd>`);
    if (spec.cmdline) lines.push(`    <cmdline>${e(spec.cmdline)}</cmdline>`);
  } else {
    // <os><boot dev> only: never mixed with per-device <boot order> (libvirt rejects the mix).
    lines.push(`    <boot dev='hd'/>`);
    if (spec.seedIso) lines.push(`    <boot dev='cdrom'/>`);
  }
  lines.push(`  </os>`);
  lines.push(`  <features><acpi/><apic/></features>`);
  // host-model only with KVM; TCG uses QEMU's default CPU model.
  if (spec.domainType === "kvm") lines.push(`  <cpu mode='host-model'/>`);
  lines.push(`  <clock offset='utc'/>`);
  lines.push(`  <on_poweroff>destroy</on_poweroff>`);
  lines.push(`  <on_reboot>restart</on_reboot>`);
  lines.push(`  <on_crash>destroy</on_crash>`);
  lines.push(`  <devices>`);
  spec.disks.forEach((d, i) => {
    lines.push(`    <disk type='file' device='disk'>`);
    lines.push(`      <driver name='qemu' type='${e(d.format ?? "qcow2")}'/>`);
    lines.push(`      <source file='${e(d.path)}'/>`);
    lines.push(`      <target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/>`);
    lines.push(`    </disk>`);
  });
  if (spec.seedIso) {
    lines.push(`    <disk type='file' device='cdrom'>`);
    lines.push(`      <driver name='qemu' type='raw'/>`);
    lines.push(`      <source file='${e(spec.seedIso)}'/>`);
    lines.push(`      <target dev='sda' bus='sata'/>`);
    lines.push(`      <readonly/>`);
    lines.push(`    </disk>`);
  }
  for (const n of spec.nics) {
    if (n.network) {
      lines.push(`    <interface type='network'>`);
      lines.push(`      <source network='${e(n.network)}'/>`);
    } else {
      lines.push(`    <interface type='bridge'>`);
      lines.push(`      <source bridge='${e(n.bridge ?? "")}'/>`);
    }
    lines.push(`      <mac address='${e(n.mac)}'/>`);
    lines.push(`      <model type='virtio'/>`);
    lines.push(`    </interface>`);
  }
  if (spec.serialLogPath) {
    lines.push(`    <serial type='file'>`);
    lines.push(`      <source path='${e(spec.serialLogPath)}'/>`);
    lines.push(`      <target port='0'/>`);
    lines.push(`    </serial>`);
  } else {
    lines.push(`    <serial type='pty'><target port='0'/></serial>`);
  }
  lines.push(
    `    <console type='${spec.serialLogPath ? "file" : "pty"}'><target type='serial' port='0'/></console>`,
  );
  // Guest agent channel: lets `domifaddr --source agent` find addresses on bridged NICs.
  lines.push(`    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`);
  // Entropy for the guest: key generation at first boot stalls without it under TCG.
  lines.push(`    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>`);
  lines.push(`    <memballoon model='virtio'/>`);
  lines.push(`  </devices>`);
  lines.push(`</domain>`);
  return lines.join("\n") + "\n";
}

/** A random locally administered MAC in QEMU's 52:54:00 range. */
export function randomMac(): string {
  const crypto = require("crypto") as typeof import("crypto");
  const b = crypto.randomBytes(3);
  return ["52", "54", "00", ...Array.from(b, (x) => x.toString(16).padStart(2, "0"))].join(":");
}
