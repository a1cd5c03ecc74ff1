/**
 * This machine's figures in the shapes core0 v0.9.0 returns: the structs of the gopsutil vendored in
 * threefoldtech/0-core@v0.9.0 (`mem.VirtualMemoryStat`, `cpu.InfoStat`, `host.InfoStat`,
 * `net.InterfaceStat`), with their JSON field names and nothing more. Read from /proc and node's `os`.
 */
import * as fs from "fs";
import * as os from "os";

function readOr(path: string, fallback = ""): string {
  try {
    return fs.readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
}

/** gopsutil cpu.InfoStat, one per logical CPU. */
export function cpuInfo(): Array<Record<string, unknown>> {
  const blocks = readOr("/proc/cpuinfo")
    .split(/\n\s*\n/)
    .filter((b) => b.includes("processor"));
  const cpus = os.cpus();
  return cpus.map((c, i) => {
    const kv = new Map<string, string>();
    for (const line of (blocks[i] ?? "").split("\n")) {
      const m = /^([^:]+?)\s*:\s*(.*)$/.exec(line);
      if (m) kv.set(m[1], m[2]);
    }
    return {
      cpu: i,
      vendorId: kv.get("vendor_id") ?? "",
      family: kv.get("cpu family") ?? "",
      model: kv.get("model") ?? "",
      stepping: Number(kv.get("stepping") ?? 0) || 0,
      physicalId: kv.get("physical id") ?? "0",
      coreId: kv.get("core id") ?? String(i),
      cores: Number(kv.get("cpu cores") ?? 1) || 1,
      modelName: c.model,
      mhz: c.speed,
      cacheSize: parseInt(kv.get("cache size") ?? "0", 10) || 0,
      flags: (kv.get("flags") ?? "").split(" ").filter(Boolean),
    };
  });
}

function meminfo(): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of readOr("/proc/meminfo").split("\n")) {
    const r = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (r) m.set(r[1], Number(r[2]) * 1024);
  }
  return m;
}

/** gopsutil mem.VirtualMemoryStat (bytes). */
export function memInfo(): Record<string, number> {
  const m = meminfo();
  const total = m.get("MemTotal") ?? os.totalmem();
  const free = m.get("MemFree") ?? os.freemem();
  const available = m.get("MemAvailable") ?? free;
  const buffers = m.get("Buffers") ?? 0;
  const cached = (m.get("Cached") ?? 0) + (m.get("SReclaimable") ?? 0);
  const used = total - free - buffers - cached;
  return {
    total,
    available,
    used,
    usedPercent: (used / total) * 100,
    free,
    active: m.get("Active") ?? 0,
    inactive: m.get("Inactive") ?? 0,
    wired: 0,
    buffers,
    cached,
  };
}

/** gopsutil net.InterfaceStat list: addresses as `ip/prefix`. */
export function nicInfo(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    const list = addrs ?? [];
    const mtu = Number(readOr(`/sys/class/net/${name}/mtu`, "0").trim()) || 0;
    const up = readOr(`/sys/class/net/${name}/operstate`).trim() !== "down";
    out.push({
      mtu,
      name,
      hardwareaddr: list[0]?.mac && list[0].mac !== "00:00:00:00:00:00" ? list[0].mac : "",
      flags: [...(up ? ["up"] : []), ...(name === "lo" ? ["loopback"] : ["broadcast", "multicast"])],
      addrs: list.map((a) => ({ addr: a.cidr ?? `${a.address}/${a.family === "IPv4" ? 32 : 128}` })),
    });
  }
  return out;
}

/** gopsutil host.InfoStat. */
export function osInfo(): Record<string, unknown> {
  const rel = new Map<string, string>();
  for (const line of readOr("/etc/os-release").split("\n")) {
    const m = /^(\w+)=("?)(.*)\2$/.exec(line);
    if (m) rel.set(m[1], m[3]);
  }
  const uptime = Math.floor(os.uptime());
  const procs = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).length;
  return {
    hostname: os.hostname(),
    uptime,
    bootTime: Math.floor(Date.now() / 1000) - uptime,
    procs,
    os: os.platform(),
    platform: rel.get("ID") ?? "",
    platformFamily: rel.get("ID_LIKE") ?? rel.get("ID") ?? "",
    platformVersion: rel.get("VERSION_ID") ?? "",
    virtualizationSystem: "",
    virtualizationRole: "",
  };
}

/** Resident/virtual size of a process from /proc/<pid>/status, bytes (0 when gone). */
export function processMemory(pid: number | undefined): { rss: number; vms: number; swap: number } {
  if (!pid) return { rss: 0, vms: 0, swap: 0 };
  const s = readOr(`/proc/${pid}/status`);
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), vms: kb("VmSize"), swap: kb("VmSwap") };
}

/** Total and idle jiffies from /proc/stat, for CPU percent between two samples. */
export function cpuTimes(): { total: number; idle: number } {
  const first = readOr("/proc/stat").split("\n")[0] ?? "";
  const n = first.trim().split(/\s+/).slice(1).map(Number);
  const total = n.reduce((a, b) => a + (b || 0), 0);
  return { total, idle: (n[3] ?? 0) + (n[4] ?? 0) };
}
