/**
 * The grid file's model: what parseGridSpec (spec.ts) returns, and the error listing every problem
 * it found. Each field's meaning is documented here; the file's format is shown in spec.ts.
 */
import type { HealthThresholds } from "./health";

export interface GridNodeSpec {
  /** Node name, unique in the file: lowercase letters, digits, dashes (max 63). */
  name: string;
  /** The node's ZeroTier IP (or host name); inside `routes` when the file lists them. */
  address: string;
  /** core0 redis port. Default 6379. */
  port: number;
  /** Caps the memory the node reports (MiB) for placement. Unset = what the node reports. */
  memoryMb?: number;
  /** Caps the CPUs the node reports for placement. Unset = what the node reports. */
  cpu?: number;
  /** Labels apps can require (apps[].labels). Default none. */
  labels: string[];
}

export interface GridProcessSpec {
  /** Program to run (absolute path in the container). */
  name: string;
  /** Its arguments. Default none. */
  args?: string[];
  /** Working directory (absolute). Default the container's. */
  dir?: string;
  /** Extra environment. Default none. */
  env?: Record<string, string>;
  /** A command that runs to completion (setup) rather than a service left running. Default false. */
  oneshot?: boolean;
}

export interface GridAppSpec {
  /** App name, unique in the file: lowercase letters, digits, dashes (max 63). */
  name: string;
  /** Pins it to this node (nodes[].name). Unset = the scheduler places it. */
  node?: string;
  /** Labels its node must have (nodes[].labels). Default none. */
  labels: string[];
  /** Apps (apps[].name) it must not share a node with. Default none. */
  antiAffinity: string[];
  /** plist URL: http(s) (e.g. an IPFS gateway path) or file:///path on the node. */
  plist: string;
  /** Memory it needs, MiB, 0 to 2^30: placement counts it against the node. Default 0. */
  memoryMb?: number;
  /** CPUs it needs, 0 to 4096: placement counts it against the node. Default 0. */
  cpu?: number;
  /**
   * When its node does not answer at `up`, the grid places it on another fitting node (the old
   * container is terminated once that node answers again). Not with `node`. Default false.
   */
  failover: boolean;
  /** How many times refresh starts an ended service (non-oneshot process) again, 0 to 1000. Default 3. */
  restartLimit: number;
  /** Host dir (absolute, existing on the node) or plist URL -> absolute container path. Default none. */
  mounts?: Record<string, string>;
  /** Host port -> container port, each 1 to 65535. */
  ports?: Record<string, number>;
  /** Container environment (string values). */
  env?: Record<string, string>;
  /** Processes started in order; at least one. */
  processes: GridProcessSpec[];
}

export interface GridSpec {
  /** The management network id (16 hex). */
  network: string;
  /** Health-check levels, percent (`health: {cpu: {warn, error}, memory: ..., disk: ...}`). Defaults in health.ts. */
  health: HealthThresholds;
  /** Telegram chat for alerts when a check changes state (the bot token is config g8os:telegramBotToken). */
  alerts?: { telegramChatId: string };
  /** The management network's routes (CIDRs), when the file gives them. */
  routes?: string[];
  nodes: GridNodeSpec[];
  apps: GridAppSpec[];
}

/** Every problem found in a grid file, one per line: `file: field: problem. Fix: ...`. */
export class GridSpecError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `grid file has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "GridSpecError";
  }
}
