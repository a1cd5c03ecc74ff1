/**
 * Core0Container's steps on a node, without Pulumi: admission (capacity), the corex.create
 * arguments, the start commands and the monitor pass of refresh. container.ts calls them.
 */
import { InputError, OperationError } from "../shared/errors";
import { plainOutputs } from "../shared/dynamic";
import type { Core0Client, ContainerCreateArgs } from "./client";
import {
  type Core0ContainerInputs,
  type Core0ContainerOutputs,
  type ProcessStatus,
  type StartCommand,
  label,
} from "./container-schema";

/** Whether corex.list still shows container `id` (the only way v0.9.0 can tell). */
export async function exists(c: Core0Client, id: number): Promise<boolean> {
  return String(id) in (await c.corex.list());
}

/** v0.9.0 corex.create arguments (`core0/containers/manager.go` ContainerCreateArguments). */
export function createArgs(i: Core0ContainerInputs): ContainerCreateArgs {
  const args: ContainerCreateArgs = { root: i.plistUrl, mount: i.mounts, port: i.ports };
  if (i.zerotierNetwork || i.bridges.length > 0) {
    args.network = {};
    if (i.zerotierNetwork) args.network.zerotier = i.zerotierNetwork;
    if (i.bridges.length > 0) args.network.bridge = i.bridges.map((b) => [b.name, b.setup ?? ""]);
  }
  return args;
}

/**
 * Admission only: refuses when the node has less available memory (info.mem `available`) than
 * memoryMb, or fewer CPUs (info.cpu entries) than cpu. core0 v0.9.0 sets no container limits, so
 * nothing stops the container from using more afterwards.
 */
export async function checkCapacity(c: Core0Client, i: Core0ContainerInputs): Promise<void> {
  if (i.memoryMb > 0) {
    const mem = await c.info.mem();
    const availableMb = Math.floor(mem.available / 1024 / 1024);
    if (availableMb < i.memoryMb) {
      throw new InputError(
        label(i),
        "memoryMb",
        `asks for ${i.memoryMb} MiB but node ${i.nodeAddress} has ${availableMb} MiB available`,
        "lower memoryMb or place the container on another node",
      );
    }
  }
  if (i.cpu > 0) {
    const cpus = (await c.info.cpu()).length;
    if (cpus < i.cpu) {
      throw new InputError(
        label(i),
        "cpu",
        `asks for ${i.cpu} CPUs but node ${i.nodeAddress} has ${cpus}`,
        "lower cpu",
      );
    }
  }
}

/** core.system for start command `s` (its env over the container's). */
function systemCommand(c: Core0Client, i: Core0ContainerInputs, s: StartCommand) {
  return {
    command: "core.system",
    arguments: c.systemArgs(s.name, s.args ?? [], {
      dir: s.dir ?? "",
      env: { ...i.env, ...(s.env ?? {}) },
      stdin: s.stdin ?? "",
    }),
  };
}

/** Starts background command `n`; returns its job id once it stayed up `settleMs`. */
async function startService(c: Core0Client, i: Core0ContainerInputs, id: number, n: number): Promise<string> {
  const s = i.startCommands[n];
  const job = await c.corex.dispatch(id, systemCommand(c, i, s));
  // Still running after the settle time = started. A result means it already ended.
  const ended = await c
    .result(job, { timeoutMs: s.settleMs ?? 2000, command: s.name })
    .catch(() => undefined);
  if (!ended) return job;
  // A spawn failure has no streams: its Go error text is the data.
  const tail =
    (Array.isArray(ended.streams) ? ended.streams.join("\n") : "").trim().split("\n").slice(-3).join(" | ") ||
    ended.data;
  throw new OperationError(
    label(i),
    `startCommands[${n}] (${s.name})`,
    `the service exited at once in state ${ended.state}${tail ? `: ${tail}` : ""}`,
    "the command and its arguments, and that the plist contains the program and what it needs",
  );
}

export async function runStartCommands(
  c: Core0Client,
  i: Core0ContainerInputs,
  id: number,
): Promise<ProcessStatus[]> {
  const started: ProcessStatus[] = [];
  for (const [n, s] of i.startCommands.entries()) {
    const command = systemCommand(c, i, s);
    if (s.background) {
      started.push({
        index: n,
        name: s.name,
        jobId: await startService(c, i, id, n),
        running: true,
        restarts: 0,
      });
      continue;
    }
    const r = await c.corex.dispatchAndWait(id, command);
    if (r.state !== "SUCCESS") {
      const stderr =
        (Array.isArray(r.streams) ? (r.streams[1] ?? "") : "").trim().split("\n").slice(-3).join(" | ") ||
        r.data;
      throw new OperationError(
        label(i),
        `startCommands[${n}] (${s.name})`,
        `ended in state ${r.state}${r.code !== undefined ? ` with exit code ${r.code}` : ""}${stderr ? `: ${stderr}` : ""}`,
        "the command and its arguments, and that the plist contains the program",
      );
    }
  }
  return started;
}

/** What refresh measured and did; the create's figures are zero, with every service running. */
export interface Observed {
  processes: ProcessStatus[];
  cpuPercent: number;
  rssBytes: number;
  overMemory: boolean;
  events: string[];
}

export function outputs(i: Core0ContainerInputs, id: number, o: Observed): Core0ContainerOutputs {
  return plainOutputs({ ...i, containerId: id, ...o });
}

export const created = (processes: ProcessStatus[]): Observed => ({
  processes,
  cpuPercent: 0,
  rssBytes: 0,
  overMemory: false,
  events: [],
});

/**
 * The monitor pass of refresh: stats from corex.list, each background service looked up by its job
 * id (v0.9.0 `process.state` inside the container errs once the job ended), ended ones started
 * again while restarts are left.
 */
export async function monitor(
  c: Core0Client,
  i: Core0ContainerInputs,
  id: number,
  stats: { cpu?: number; rss?: number } | null,
  before: ProcessStatus[],
): Promise<Observed> {
  const events: string[] = [];
  const rssBytes = Number(stats?.rss ?? 0);
  const overMemory = i.memoryMb > 0 && rssBytes > i.memoryMb * 1024 * 1024;
  if (overMemory)
    events.push(
      `container uses ${Math.round(rssBytes / 1024 / 1024)} MiB, over its declared memoryMb ${i.memoryMb}`,
    );
  const processes: ProcessStatus[] = [];
  const tracked = before.filter((p) => i.startCommands[p.index]?.background);
  if (tracked.length === 0)
    return { processes, cpuPercent: Number(stats?.cpu ?? 0), rssBytes, overMemory, events };
  // Every job the container runs, with its command (v0.9.0 process.state without id).
  const r = await c.corex.dispatchAndWait(id, { command: "process.state", arguments: {} });
  let jobs: Array<{
    cmd?: { id?: string; command?: string; arguments?: { name?: string; args?: unknown } };
  }> = [];
  try {
    jobs = r.state === "SUCCESS" ? (JSON.parse(r.data) ?? []) : [];
  } catch {
    jobs = [];
  }
  const running = new Set(jobs.map((j) => j.cmd?.id).filter((x): x is string => !!x));
  const claimed = new Set(tracked.map((p) => p.jobId).filter((j) => running.has(j)));
  for (const p of tracked) {
    const s = i.startCommands[p.index];
    if (running.has(p.jobId)) {
      processes.push({ ...p, running: true });
      continue;
    }
    const restarted = `startCommands[${p.index}] (${p.name}) had ended: restarted (${p.restarts + 1} of ${i.restartLimit})`;
    // A job running this very command that no tracked service owns: a restart by an earlier read
    // whose state was dropped (the engine's refresh preview runs read too). Adopted, not started twice.
    const twin = jobs.find(
      (j) =>
        j.cmd?.id &&
        !claimed.has(j.cmd.id) &&
        j.cmd.command === "core.system" &&
        j.cmd.arguments?.name === s.name &&
        JSON.stringify(j.cmd.arguments?.args ?? []) === JSON.stringify(s.args ?? []),
    );
    if (twin && p.restarts < i.restartLimit) {
      claimed.add(twin.cmd!.id!);
      events.push(restarted);
      processes.push({ ...p, jobId: twin.cmd!.id!, running: true, restarts: p.restarts + 1 });
      continue;
    }
    if (p.restarts >= i.restartLimit) {
      events.push(
        `startCommands[${p.index}] (${p.name}) is not running; restartLimit ${i.restartLimit} reached`,
      );
      processes.push({ ...p, running: false });
      continue;
    }
    try {
      const jobId = await startService(c, i, id, p.index);
      claimed.add(jobId);
      events.push(restarted);
      processes.push({ ...p, jobId, running: true, restarts: p.restarts + 1 });
    } catch (err) {
      events.push(
        `startCommands[${p.index}] (${p.name}) had ended; restart failed: ${(err as Error).message}`,
      );
      processes.push({ ...p, running: false, restarts: p.restarts + 1 });
    }
  }
  return { processes, cpuPercent: Number(stats?.cpu ?? 0), rssBytes, overMemory, events };
}
