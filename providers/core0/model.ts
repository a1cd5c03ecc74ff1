/**
 * The core0 node's wire shapes (threefoldtech/0-core @v0.9.0 unless noted: `base/pm/core/command.go`,
 * `result.go`, gopsutil's structs for info.*), the client's options, and the command sets the
 * client treats specially. Types and constants only; the client is client.ts.
 */
/** Job states as core0 spells them (`DUPILICATE_ID` sic, in every core0 version). */
export type JobState = "SUCCESS" | "ERROR" | "TIMEOUT" | "KILLED" | "UNKNOWN_CMD" | "DUPILICATE_ID";

/**
 * Wire protocol of the node.
 * - `"v0.9.0"` (default): threefoldtech/0-core @v0.9.0 (`base/pm/core/command.go`, `result.go`):
 *   command `tags` is a string, `core.system` stdin is base64 (Go `[]byte`), `bash` is the
 *   `g8os.toml` extension taking the script as `{stdin}`, and job.*, aggregator.query, zerotier.*,
 *   corex.find, process.list/kill do not exist (refused here without sending anything).
 * - `"v1.2"`: the later protocol as of 0-core @v1.2.0 (`base/pm/command.go`: tags a list;
 *   `systemprocess.go`: stdin a string; py-client `bash(script, stdin)`), with the commands above.
 */
export type Core0Protocol = "v0.9.0" | "v1.2";

/** The command JSON pushed to `core:default` (field names as in core0's `Command` struct). */
export interface Core0Command {
  /** Job id: a fresh uuid4 unless the caller gives one. */
  id: string;
  /** e.g. `core.ping`. */
  command: string;
  /** Command arguments (shape per command). */
  arguments: Record<string, unknown>;
  /** Jobs on one named queue run one after another; "" = no queue. */
  queue: string;
  /** Seconds; core0 kills the job after this and reports TIMEOUT. Omitted = no limit. */
  max_time?: number;
  /** Restarts after a failure. Omitted = none. */
  max_restart?: number;
  /** Seconds between runs of a recurring job. Omitted = runs once. */
  recurring_period?: number;
  /** Seconds between process stats. Omitted = core0's default. */
  stats_interval?: number;
  /** Log levels kept. Omitted = all. */
  log_levels?: number[];
  /** v1.2 only: stream output while running. Never sent to a v0.9.0 node. */
  stream?: boolean;
  /** v0.9.0: a string ("" when unset; a list makes the node drop the command). v1.2: a list or null. */
  tags: string | string[] | null;
}

/** The result JSON core0 pushes to `result:<id>`. */
export interface Core0Result {
  /** Job id (for a dispatched job: the id core0 gave it). */
  id: string;
  /** The command name. */
  command: string;
  /**
   * Built-ins: their value JSON-encoded (level 20), or the JSON-encoded error text. Processes: the
   * text of their last `NN::`/`NN:::` output (level NN), else "". A spawn failure: plain error text.
   */
  data: string;
  /** [stdout, stderr] (last 1000 lines each). v0.9.0 omits it when empty. */
  streams?: string[] | null;
  /** Critical message. v0.9.0 omits it when empty. */
  critical?: string;
  /** Level of `data` (20 = JSON); 0 for UNKNOWN_CMD / DUPILICATE_ID. */
  level: number;
  /** Final state. */
  state: JobState;
  /** Epoch ms (0 for UNKNOWN_CMD). */
  starttime: number;
  /** Duration, ms. */
  time: number;
  /** The command's tags echoed: a string in v0.9.0 (`""` when unset), a list in v1.2. */
  tags: string | string[] | null;
  /** v1.2: container id of a dispatched job. Absent in v0.9.0. */
  container?: number;
  /** Exit code (later core0 versions). Absent in v0.9.0: a non-zero exit is only state ERROR. */
  code?: number;
}

export interface Core0Target {
  /** Node address: ZeroTier IP or host name. */
  host: string;
  /** Redis port. Default 6379. */
  port?: number;
  /** The node redis `requirepass`. Secret: redacted from every message. Default: none. */
  password?: string;
  /** TLS to the node redis (core0 v1.1+); `true` = default TLS options, or ioredis/tls options. Default off. */
  tls?: boolean | Record<string, unknown>;
}

export interface Core0ClientOptions extends Core0Target {
  /** Wire protocol of the node. Default `"v0.9.0"`. */
  protocol?: Core0Protocol;
  /** Default wait for one command's result, ms. Default 30 000. */
  timeoutMs?: number;
  /** TCP connect timeout, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Reader connections (blocking result reads in flight). Default 4, at least 1. */
  readers?: number;
  /** Waits older than this are also swept with non-blocking reads (head-of-line escape), ms. Default 50. */
  sweepAfterMs?: number;
}

/** Per-call options. */
export interface CallOptions {
  /** Wait this long for the result, ms. Default: the client's timeoutMs. */
  timeoutMs?: number;
  /** core0 `max_time`, seconds. Default: no limit. */
  maxTime?: number;
  /** core0 `queue`: jobs on one queue run one after another. Default: none. */
  queue?: string;
  /**
   * Command tags. v0.9.0: one string (a list is refused: the node would drop the command).
   * v1.2: a list (a string is sent as a one-element list). Default: none.
   */
  tags?: string | string[];
  /** Use this job id instead of a fresh uuid4 (to read it again, or to test duplicate ids). */
  id?: string;
}

/** What a finished process reports: exit state and output. */
export interface ProcessResult {
  /** SUCCESS on exit 0; ERROR on a non-zero exit or a spawn failure; TIMEOUT / KILLED. */
  state: JobState;
  /** Last lines of stdout ("" when core0 sent no streams). */
  stdout: string;
  /** Last lines of stderr ("" when core0 sent no streams). */
  stderr: string;
  /** Exit code when core0 reports one (`code`, later versions); undefined for v0.9.0. */
  code?: number;
  /** The raw result. */
  result: Core0Result;
}

export interface CpuInfo {
  cpu: number;
  vendorId: string;
  family: string;
  model: string;
  stepping: number;
  physicalId: string;
  coreId: string;
  cores: number;
  modelName: string;
  mhz: number;
  cacheSize: number;
  flags: string[];
}
export interface MemInfo {
  total: number;
  available: number;
  used: number;
  usedPercent: number;
  free: number;
  [k: string]: number;
}
export interface NicInfo {
  name: string;
  hardwareaddr: string;
  mtu?: number;
  flags?: string[];
  addrs: Array<{ addr: string }>;
}
export interface OsInfo {
  hostname: string;
  uptime: number;
  bootTime: number;
  procs: number;
  os: string;
  platform: string;
  platformFamily: string;
  platformVersion: string;
  kernelVersion: string;
  virtualizationSystem: string;
  virtualizationRole: string;
  hostid: string;
}
export interface JobInfo {
  cmd: Core0Command;
  starttime: number;
  cpu: number;
  rss: number;
  vms: number;
  swap: number;
}
export interface ZerotierNetworkInfo {
  id: string;
  status: string;
  assignedAddresses: string[];
  portDeviceName: string;
  [k: string]: unknown;
}
export interface AggregatedMetric {
  last_value: number;
  last_time: number;
  current: Record<string, { avg: number; total: number; max: number; count: number }>;
}

/** corex.create arguments of core0 v0.9.0 (`core0/containers/manager.go` ContainerCreateArguments). */
export interface ContainerCreateArgs {
  /** plist URL: `file://` path on the node, or http(s). Required. */
  root: string;
  /** host dir (absolute, existing) or plist URL -> absolute path in the container. Default none. */
  mount?: Record<string, string>;
  /** ZeroTier network to join, and bridges as [bridge name, "" | "none" | "dhcp" | CIDR]. Default none. */
  network?: { zerotier?: string; bridge?: Array<[string, string]> };
  /** host port -> container port (integers). Default none. */
  port?: Record<string, number>;
  /** v1.2 only (nics, host_network, hostname, name, env, storage...): refused for a v0.9.0 node. */
  [k: string]: unknown;
}

/** The keys v0.9.0's corex.create reads; others are refused rather than silently ignored. */
export const V09_CREATE_KEYS: readonly string[] = ["root", "mount", "network", "port"];

/** One entry of v0.9.0 `corex.list`: the container's coreX process stats (null before it runs). */
export interface ContainerStats {
  /** CPU percent. */
  cpu: number;
  /** Resident memory, bytes. */
  rss: number;
  /** Virtual memory, bytes. */
  vms: number;
  /** Swap, bytes. */
  swap: number;
  /** Debug text when core0 has any. */
  debug?: string;
}

/** A v1.2 `corex.list`/`corex.find` entry (the container's arguments and root as well). */
export interface ContainerInfo extends ContainerStats {
  container: { arguments: ContainerCreateArgs & { tags: string[] | null }; root: string; pid: number };
}

/** Commands of later core0 versions that v0.9.0 lacks (`UNKNOWN_CMD` there). */
export const LATER_ONLY: readonly string[] = [
  "job.list",
  "job.kill",
  "aggregator.query",
  "zerotier.join",
  "zerotier.leave",
  "zerotier.list",
  "corex.find",
  "process.list",
  "process.kill",
];

/** Commands that change the node (counted as writes by trace). */
export const WRITE_COMMANDS: readonly string[] = [
  "core.system",
  "bash",
  "job.kill",
  "corex.create",
  "corex.terminate",
  "corex.dispatch",
  "zerotier.join",
  "zerotier.leave",
  "core.reboot",
];
