/**
 * Parsers for what virsh prints (dominfo, domstate, domifaddr, dumpxml): plain functions, unit-tested
 * on captured output. Plain module (inlined into the serialized providers): no Pulumi imports.
 */
import { xmlUnescape } from "./domain-xml";

/** `virsh dominfo`: "Key:   value" lines into a map keyed by the lower-cased key. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([^:]+):\s*(.*)$/.exec(line.trim());
    if (m) out[m[1].trim().toLowerCase()] = m[2].trim();
  }
  return out;
}

export interface DomainInfo {
  name: string;
  uuid: string;
  /** "running", "shut off", "paused", ... */
  state: string;
  vcpus: number;
  maxMemoryMiB: number;
  persistent: boolean;
  autostart: boolean;
}

export function parseDominfo(text: string): DomainInfo {
  const kv = parseKeyValues(text);
  const kib = parseInt(kv["max memory"] ?? "0", 10);
  return {
    name: kv["name"] ?? "",
    uuid: kv["uuid"] ?? "",
    state: kv["state"] ?? "",
    vcpus: parseInt(kv["cpu(s)"] ?? "0", 10),
    maxMemoryMiB: Math.round(kib / 1024),
    persistent: kv["persistent"] === "yes",
    autostart: kv["autostart"] === "enable",
  };
}

/** `virsh domstate --reason`: "running (booted)" -> { state: "running", reason: "booted" }. */
export function parseDomstate(text: string): { state: string; reason: string } {
  const line = text.trim().split("\n")[0] ?? "";
  const m = /^(.*?)\s*(?:\((.*)\))?$/.exec(line.trim());
  return { state: (m?.[1] ?? "").trim(), reason: (m?.[2] ?? "").trim() };
}

export interface InterfaceAddress {
  name: string;
  mac: string;
  protocol: string;
  /** Address without the prefix length. */
  address: string;
  prefix: number;
}

/** `virsh domifaddr` table. Lines without a name (continuations) inherit the previous NIC. */
export function parseDomifaddr(text: string): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  let last: { name: string; mac: string } | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || /^Name\s+MAC/i.test(line) || /^-+$/.test(line)) continue;
    const cols = line.split(/\s+/);
    let name: string, mac: string, proto: string, addr: string;
    if (cols.length >= 4) [name, mac, proto, addr] = cols;
    else if (cols.length === 2 && last) {
      ({ name, mac } = last);
      [proto, addr] = cols;
    } else continue;
    last = { name, mac };
    const [a, p] = addr.split("/");
    out.push({ name, mac: mac.toLowerCase(), protocol: proto, address: a, prefix: Number(p ?? 0) });
  }
  return out;
}

export interface DomainXmlFacts {
  uuid: string;
  domainType: string;
  memoryMiB: number;
  vcpus: number;
  diskPaths: string[];
  cdromPaths: string[];
  macs: string[];
  kernel?: string;
  initrd?: string;
  cmdline?: string;
}

const UNIT_TO_KIB: Record<string, number> = {
  b: 1 / 1024,
  bytes: 1 / 1024,
  kib: 1,
  k: 1,
  mib: 1024,
  m: 1024,
  gib: 1024 * 1024,
  g: 1024 * 1024,
};

/** The facts we compare for drift, from `virsh dumpxml --inactive` (libvirt's own, regular XML). */
export function parseDomainXml(xml: string): DomainXmlFacts {
  const first = (re: RegExp): string | undefined => {
    const m = re.exec(xml);
    return m ? xmlUnescape(m[1]) : undefined;
  };
  const memM = /<memory(?:\s+unit=['"]([^'"]+)['"])?[^>]*>(\d+)<\/memory>/.exec(xml);
  const unit = (memM?.[1] ?? "KiB").toLowerCase();
  const memoryMiB = memM ? Math.round((Number(memM[2]) * (UNIT_TO_KIB[unit] ?? 1)) / 1024) : 0;
  const diskPaths: string[] = [];
  const cdromPaths: string[] = [];
  for (const m of xml.matchAll(/<disk\b([^>]*)>([\s\S]*?)<\/disk>/g)) {
    const src = /<source\s+file=['"]([^'"]*)['"]/.exec(m[2]);
    if (!src) continue;
    (/device=['"]cdrom['"]/.test(m[1]) ? cdromPaths : diskPaths).push(xmlUnescape(src[1]));
  }
  const macs = [...xml.matchAll(/<mac\s+address=['"]([^'"]+)['"]/g)].map((m) => m[1].toLowerCase());
  return {
    uuid: first(/<uuid>([^<]+)<\/uuid>/) ?? "",
    domainType: first(/<domain\s+type=['"]([^'"]+)['"]/) ?? "",
    memoryMiB,
    vcpus: Number(first(/<vcpu[^>]*>(\d+)<\/vcpu>/) ?? 0),
    diskPaths,
    cdromPaths,
    macs,
    kernel: first(/<kernel>([^<]*)<\/kernel>/),
    initrd: first(/<initrd>([^<]*)<\/initrd>/),
    cmdline: first(/<cmdline>([^<]*)<\/cmdline>/),
  };
}
