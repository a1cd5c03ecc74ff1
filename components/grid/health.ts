/**
 * Monitoring of the grid's nodes with core0 v0.9.0's own commands only (`core.ping`, `info.mem`,
 * `info.cpu`, `info.disk`, `core.state`, `corex.list`), and the health checks computed from it.
 *
 * - redis: the node answers `core.ping` with the password (error otherwise, with the reason).
 * - memory: `info.mem` usedPercent.
 * - cpu: `core.state` cpu (the summed CPU percent of everything core0 runs: on a core0 node every
 *   job and container is its child) divided by the CPUs `info.cpu` lists. v0.9.0 has no
 *   node-wide CPU counter (aggregator.query comes later).
 * - disk: v0.9.0's `info.disk` lists partitions without their use, and it has no other disk
 *   command in the set allowed here: the check is `unknown` and says so.
 * - containers: `corex.list` cpu and rss per container id.
 * Plain module (GridMonitor's dynamic provider captures it).
 */
import { clientFor, type Core0Connection } from "../../providers/core0/common";
import { errorMessage, redact } from "../../providers/shared/errors";

export type CheckState = "ok" | "warn" | "error" | "unknown";

/** Warn and error levels, percent. */
export interface Threshold {
  /** Warn at or above this percent (0 to 100). */
  warn: number;
  /** Error at or above this percent (0 to 100, at least warn). */
  error: number;
}

export interface HealthThresholds {
  /** Node CPU load. Default warn 80, error 95. */
  cpu: Threshold;
  /** Node memory use. Default warn 80, error 95. */
  memory: Threshold;
  /** Node disk use. Default warn 90, error 95. */
  disk: Threshold;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  cpu: { warn: 80, error: 95 },
  memory: { warn: 80, error: 95 },
  disk: { warn: 90, error: 95 },
};

/** What one monitoring pass saw on a node. */
export interface NodeReport {
  /** Node name. */
  name: string;
  /** Answered core.ping with the password. */
  reachable: boolean;
  /** Why not, when unreachable (secrets redacted). */
  error?: string;
  /** info.mem usedPercent. */
  memoryPercent?: number;
  /** core.state cpu / CPUs. */
  cpuPercent?: number;
  /** info.cpu entries. */
  cpuCount?: number;
  /** Partitions info.disk lists (their use is not reported by v0.9.0). */
  diskPartitions?: number;
  /** corex.list: container id -> CPU percent and RSS bytes. */
  containers?: Record<string, { cpu: number; rss: number }>;
}

export interface HealthCheck {
  state: CheckState;
  /** The measured percent, when there is one. */
  value?: number;
  /** In words. */
  detail: string;
}

/** Probes one node; never throws: an unreachable node is a report with `reachable: false`. */
export async function probeNode(name: string, c: Core0Connection, timeoutMs = 5000): Promise<NodeReport> {
  const client = clientFor(c, timeoutMs);
  try {
    await client.ping({ timeoutMs });
    const [mem, cpus, state, disks, list] = await Promise.all([
      client.info.mem({ timeoutMs }),
      client.info.cpu({ timeoutMs }),
      client.call<{ cpu: number }>("core.state", {}, { timeoutMs }),
      client.call<unknown[]>("info.disk", {}, { timeoutMs }),
      client.corex.list({ timeoutMs }),
    ]);
    const cpuCount = Math.max(1, cpus.length);
    return {
      name,
      reachable: true,
      memoryPercent: Math.round(mem.usedPercent * 10) / 10,
      cpuPercent: Math.round(((state?.cpu ?? 0) / cpuCount) * 10) / 10,
      cpuCount: cpus.length,
      diskPartitions: Array.isArray(disks) ? disks.length : 0,
      containers: Object.fromEntries(
        Object.entries(list).map(([id, s]) => [id, { cpu: Number(s?.cpu ?? 0), rss: Number(s?.rss ?? 0) }]),
      ),
    };
  } catch (err) {
    return { name, reachable: false, error: redact(errorMessage(err), [c.password]) };
  } finally {
    await client.close();
  }
}

const level = (v: number, t: Threshold): CheckState => (v >= t.error ? "error" : v >= t.warn ? "warn" : "ok");

/** The checks of every node: `<node>.redis`, `<node>.cpu`, `<node>.memory`, `<node>.disk`. */
export function healthChecks(reports: NodeReport[], t: HealthThresholds): Record<string, HealthCheck> {
  const out: Record<string, HealthCheck> = {};
  for (const r of [...reports].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!r.reachable) {
      out[`${r.name}.redis`] = { state: "error", detail: `not reachable: ${r.error ?? "no answer"}` };
      for (const k of ["cpu", "memory", "disk"])
        out[`${r.name}.${k}`] = { state: "unknown", detail: "node not reachable" };
      continue;
    }
    out[`${r.name}.redis`] = { state: "ok", detail: "answers core.ping" };
    for (const k of ["cpu", "memory"] as const) {
      const v = k === "cpu" ? r.cpuPercent! : r.memoryPercent!;
      const th = t[k];
      out[`${r.name}.${k}`] = {
        state: level(v, th),
        value: v,
        detail: `${v}% (warn ${th.warn}%, error ${th.error}%)`,
      };
    }
    out[`${r.name}.disk`] = {
      state: "unknown",
      detail: `core0 v0.9.0 reports no disk use (info.disk lists ${r.diskPartitions ?? 0} partitions only)`,
    };
  }
  return out;
}

/** One line per check whose state changed since `before` (a new check counts from ok). */
export function changedChecks(
  before: Record<string, HealthCheck> | undefined,
  now: Record<string, HealthCheck>,
): string[] {
  const lines: string[] = [];
  for (const [k, c] of Object.entries(now)) {
    const was = before?.[k]?.state ?? (c.state === "unknown" ? "unknown" : "ok");
    if (was !== c.state) lines.push(`${k}: ${was} -> ${c.state}: ${c.detail}`);
  }
  return lines;
}
