/**
 * The core0 command loop, emulated: `BLPOP core:default`, run the command, `RPUSH result:<id>` +
 * `EXPIRE`. Commands run concurrently like core0's goroutines; commands sharing a `queue` run one
 * after another; a job id already running answers DUPILICATE_ID (as core0's process manager does);
 * unknown commands answer UNKNOWN_CMD. Processes in a container run with cwd = its root and absolute
 * paths / PATH mapped into the root: an approximation of core0's chroot (chroot-paths.ts).
 * Test and sandbox component: not product logic.
 */
import { ChildProcess, spawn } from "child_process";
import { randomUUID } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Redis } from "ioredis";
import type { Core0Command, Core0Result, JobState } from "../../../providers/core0/client";
import { containerCommand, containerEnv } from "./chroot-paths";
import { buildRootfs, RootfsOptions } from "./rootfs";
import { cpuInfo, cpuTimes, memInfo, nicInfo, osInfo, processMemory } from "./sysinfo";

export const EMULATOR_VERSION = "g8os-core0-emulator 0.9.0";

export interface EmulatorEngineOptions {
  /** Where container roots live (`<dir>/containers/<id>/root`). */
  dir: string;
  ipfsApi: string;
  /** TTL of result keys, seconds. core0 uses 300. */
  resultTtlSeconds?: number;
  ipfsFetchTimeoutMs?: number;
  /** Addresses reported for joined ZeroTier networks (zerotier.list). */
  zerotierAddresses?: string[];
  /** Bytes of each output stream kept in results (core0 keeps the last lines). Default 64 KiB. */
  streamTailBytes?: number;
}

/** A command's outcome before it is wrapped into core0's result JSON. */
interface Outcome {
  state: JobState;
  data?: unknown;
  /** Raw data string (already encoded) instead of JSON-encoding `data`. */
  rawData?: string;
  streams?: [string, string];
  code?: number;
  level?: number;
}

interface Job {
  cmd: Core0Command;
  starttime: number;
  child?: ChildProcess;
  /** Container the job was dispatched into. */
  container?: number;
  killedWith?: "KILLED" | "TIMEOUT";
}

interface Container {
  id: number;
  args: Record<string, unknown>;
  tags: string[] | null;
  root: string;
  /** Stand-in for the container's coreX agent: a real process living in the root. */
  agent: ChildProcess;
}

class CommandError extends Error {}

/** Signals a job's whole process group (jobs are spawned detached, as group leaders). */
function killTree(child: ChildProcess, signal: NodeJS.Signals | number): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

const fail = (msg: string): never => {
  throw new CommandError(msg);
};

export class EmulatorEngine {
  private readonly jobs = new Map<string, Job>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly containers = new Map<number, Container>();
  private readonly zerotierNetworks = new Map<string, Record<string, unknown>>();
  private nextContainerId = 1;
  private stopped = false;
  private loop?: Promise<void>;
  private cpuSamples: Array<{ t: number; percent: number }> = [];
  private lastCpu = cpuTimes();
  private sampler?: NodeJS.Timeout;

  constructor(
    /** Blocking connection for BLPOP (nothing else may use it). */
    private readonly consumer: Redis,
    /** Connection for results. */
    private readonly publisher: Redis,
    private readonly opts: EmulatorEngineOptions,
  ) {}

  start(): void {
    this.sampleCpu();
    this.sampler = setInterval(() => this.sampleCpu(), 1000);
    this.sampler.unref();
    this.loop = this.consume();
  }

  private sampleCpu(): void {
    const now = cpuTimes();
    const dt = now.total - this.lastCpu.total;
    const percent = dt > 0 ? (1 - (now.idle - this.lastCpu.idle) / dt) * 100 : 0;
    this.lastCpu = now;
    const t = Math.floor(Date.now() / 1000);
    this.cpuSamples.push({ t, percent });
    this.cpuSamples = this.cpuSamples.filter((s) => s.t > t - 300);
  }

  private async consume(): Promise<void> {
    while (!this.stopped) {
      let raws: string[];
      try {
        const first = await this.consumer.blpop("core:default", 1);
        if (!first) continue;
        // Drain what else is queued in one round trip: 64 commands in flight cost few BLPOPs.
        const more = (await this.consumer.lpop("core:default", 256)) ?? [];
        raws = [first[1], ...more];
      } catch {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      for (const raw of raws) this.accept(raw);
    }
  }

  private accept(raw: string): void {
    let cmd: Core0Command;
    try {
      cmd = JSON.parse(raw) as Core0Command;
      if (!cmd || typeof cmd.id !== "string" || typeof cmd.command !== "string")
        throw new Error("no id/command");
    } catch {
      return; // core0 logs and drops a command it cannot decode: there is no id to answer to
    }
    cmd.arguments ??= {};
    this.schedule(cmd);
  }

  /** Runs a command (or queues it behind its queue); `container` = dispatched into that container. */
  private schedule(cmd: Core0Command, container?: Container): void {
    const starttime = Date.now();
    if (this.jobs.has(cmd.id)) {
      void this.publish(cmd, starttime, { state: "DUPILICATE_ID", rawData: "duplicate job id" }, container);
      return;
    }
    const job: Job = { cmd, starttime, container: container?.id };
    this.jobs.set(cmd.id, job);
    const run = async (): Promise<void> => {
      let outcome: Outcome;
      try {
        outcome = await this.execute(job, container);
      } catch (err) {
        outcome = { state: "ERROR", data: err instanceof Error ? err.message : String(err) };
      }
      this.jobs.delete(cmd.id);
      await this.publish(cmd, job.starttime, outcome, container);
    };
    if (cmd.queue) {
      const prev = this.queues.get(cmd.queue) ?? Promise.resolve();
      const next = prev.then(run, run);
      this.queues.set(cmd.queue, next);
      void next.finally(() => {
        if (this.queues.get(cmd.queue!) === next) this.queues.delete(cmd.queue!);
      });
    } else {
      void run();
    }
  }

  private async publish(
    cmd: Core0Command,
    starttime: number,
    o: Outcome,
    container?: Container,
  ): Promise<void> {
    const result: Core0Result = {
      id: cmd.id,
      command: cmd.command,
      data: o.rawData ?? (o.data === undefined ? "" : JSON.stringify(o.data)),
      streams: o.streams ?? ["", ""],
      critical: "",
      level: o.level ?? (o.streams ? 0 : 20),
      state: o.state,
      starttime,
      time: Date.now() - starttime,
      tags: cmd.tags ?? null,
      ...(container ? { container: container.id } : {}),
      ...(o.code !== undefined ? { code: o.code } : {}),
    };
    const key = `result:${cmd.id}`;
    try {
      await this.publisher
        .pipeline()
        .rpush(key, JSON.stringify(result))
        .expire(key, this.opts.resultTtlSeconds ?? 300)
        .exec();
    } catch {
      /* redis gone (emulator stopping) */
    }
  }

  private async execute(job: Job, container?: Container): Promise<Outcome> {
    const a = job.cmd.arguments as Record<string, unknown>;
    switch (job.cmd.command) {
      case "core.ping":
        return { state: "SUCCESS", data: `PONG ${EMULATOR_VERSION}` };
      case "info.cpu":
        return { state: "SUCCESS", data: cpuInfo() };
      case "info.mem":
        return { state: "SUCCESS", data: memInfo() };
      case "info.nic":
        return { state: "SUCCESS", data: nicInfo() };
      case "info.os":
        return { state: "SUCCESS", data: osInfo() };
      case "core.system":
        return this.runProcess(job, String(a.name ?? ""), (a.args as string[]) ?? [], a, container);
      case "bash":
        return this.runProcess(job, "sh", ["-c", String(a.script ?? "")], a, container);
      case "job.list":
        return { state: "SUCCESS", data: this.jobList(a.id as string | undefined) };
      case "job.kill":
        return { state: "SUCCESS", data: this.jobKill(String(a.id ?? ""), Number(a.signal ?? 9)) };
      case "aggregator.query":
        return { state: "SUCCESS", data: this.aggregate(String(a.key ?? "")) };
      case "zerotier.join":
        return { state: "SUCCESS", data: this.zerotierJoin(String(a.network ?? "")) };
      case "zerotier.leave":
        this.zerotierNetworks.delete(String(a.network ?? ""));
        return { state: "SUCCESS", data: null };
      case "zerotier.list":
        return { state: "SUCCESS", data: [...this.zerotierNetworks.values()] };
      case "corex.create":
        if (container) break;
        return { state: "SUCCESS", data: await this.corexCreate(a, job.cmd.tags ?? null) };
      case "corex.list":
        if (container) break;
        return { state: "SUCCESS", data: this.corexList(() => true) };
      case "corex.find":
        if (container) break;
        return { state: "SUCCESS", data: this.corexFind(a.tags) };
      case "corex.terminate":
        if (container) break;
        await this.corexTerminate(Number(a.container));
        return { state: "SUCCESS", data: null };
      case "corex.dispatch":
        if (container) break;
        return { state: "SUCCESS", data: this.corexDispatch(a) };
    }
    return { state: "UNKNOWN_CMD", rawData: `unknown command ${job.cmd.command}` };
  }

  private runProcess(
    job: Job,
    name: string,
    args: string[],
    a: Record<string, unknown>,
    container?: Container,
  ): Promise<Outcome> {
    if (!name) fail("argument name is required");
    const base = container ? container.root : process.cwd();
    const dir = typeof a.dir === "string" && a.dir ? a.dir : "";
    // Inside a container `dir` is relative to its root, as core0 chroots the process.
    const cwd = container ? path.join(base, dir) : dir || base;
    if (container && cwd !== base && !cwd.startsWith(base + path.sep))
      fail(`dir ${dir} is outside the container`);
    const hostPath = process.env.PATH ?? "/usr/bin:/bin";
    const ownEnv = (a.env as Record<string, string>) ?? {};
    // No chroot: absolute paths and PATH are mapped into the root instead (see chroot-paths.ts).
    const env = container ? containerEnv(container.root, hostPath, ownEnv) : { PATH: hostPath, ...ownEnv };
    const command = container
      ? containerCommand(container.root, name, args.map(String))
      : { name, args: args.map(String) };
    const tail = this.opts.streamTailBytes ?? 65536;
    return new Promise<Outcome>((resolve) => {
      // Own process group, so a kill reaches the whole tree (`sh -c "sleep 30"` included).
      const child = spawn(command.name, command.args, {
        cwd,
        env,
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
      });
      job.child = child;
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (d: Buffer) => out.push(d));
      child.stderr.on("data", (d: Buffer) => err.push(d));
      child.stdin.on("error", () => undefined);
      child.stdin.end(typeof a.stdin === "string" ? a.stdin : "");
      const maxTime = Number(job.cmd.max_time ?? 0);
      const timer =
        maxTime > 0
          ? setTimeout(() => {
              job.killedWith = "TIMEOUT";
              killTree(child, "SIGKILL");
            }, maxTime * 1000)
          : undefined;
      const text = (b: Buffer[]): string => {
        const all = Buffer.concat(b);
        return all.subarray(Math.max(0, all.length - tail)).toString("utf8");
      };
      const finish = (code: number | null, spawnError?: Error): void => {
        if (timer) clearTimeout(timer);
        const streams: [string, string] = [text(out), text(err)];
        if (spawnError) {
          resolve({ state: "ERROR", rawData: JSON.stringify(spawnError.message), streams, code: -1 });
        } else if (job.killedWith) {
          resolve({ state: job.killedWith, streams, code: code ?? -1 });
        } else {
          resolve({ state: code === 0 ? "SUCCESS" : "ERROR", streams, code: code ?? -1 });
        }
      };
      child.once("error", (e) => finish(null, e));
      child.once("close", (code) => finish(code));
    });
  }

  private jobList(id?: string): unknown[] {
    return [...this.jobs.values()]
      .filter((j) => !id || j.cmd.id === id)
      .map((j) => {
        const mem = processMemory(j.child?.pid);
        return { cmd: j.cmd, starttime: j.starttime, cpu: 0, ...mem };
      });
  }

  private jobKill(id: string, signal: number): boolean {
    const job = this.jobs.get(id);
    if (!job) fail(`no job with id ${id}`);
    if (!job!.child) return false;
    job!.killedWith = "KILLED";
    killTree(job!.child, signal);
    return true;
  }

  private aggregate(key: string): Record<string, unknown> {
    const mem = memInfo();
    const now = Math.floor(Date.now() / 1000);
    const cpu = this.cpuSamples.map((s) => s.percent);
    const summary = (values: number[]): Record<string, unknown> => ({
      "300": {
        avg: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
        total: values.reduce((a, b) => a + b, 0),
        max: Math.max(0, ...values),
        count: values.length,
      },
    });
    const availableMb = mem.available / 1024 / 1024;
    const all: Record<string, unknown> = {
      "machine.CPU.percent": { last_value: cpu[cpu.length - 1] ?? 0, last_time: now, current: summary(cpu) },
      "machine.memory.ram.available": {
        last_value: availableMb,
        last_time: now,
        current: summary([availableMb]),
      },
    };
    return key ? Object.fromEntries(Object.entries(all).filter(([k]) => k === key)) : all;
  }

  private zerotierJoin(network: string): null {
    if (!/^[0-9a-f]{16}$/.test(network)) fail(`network ${network} is not a 16-hex ZeroTier network id`);
    this.zerotierNetworks.set(network, {
      id: network,
      nwid: network,
      status: "OK",
      name: "",
      type: "PRIVATE",
      mac: "02:00:00:00:00:01",
      mtu: 2800,
      assignedAddresses: this.opts.zerotierAddresses ?? [],
      portDeviceName: `zt${network.slice(0, 8)}`,
    });
    return null;
  }

  private validateCreate(a: Record<string, unknown>): void {
    if (typeof a.root !== "string" || !a.root) fail("argument root (plist URL) is required");
    const nics = (a.nics as Array<Record<string, unknown>>) ?? [];
    if (!Array.isArray(nics)) fail("nics must be a list");
    if (nics.filter((n) => n.type === "default").length > 1) fail("only one default nic is allowed");
    for (const n of nics) {
      if (!["default", "bridge", "zerotier", "vlan", "vxlan"].includes(String(n.type))) {
        fail(`nic type ${String(n.type)} is not one of default, bridge, zerotier, vlan, vxlan`);
      }
      const name = n.name === undefined ? "" : String(n.name);
      if (name.length > 15) fail(`nic name ${name} is longer than 15 characters`);
      if (name === "default" || name.startsWith("eth") || name.startsWith("zt")) {
        fail(`nic name ${name} is reserved (default, eth*, zt*)`);
      }
    }
    for (const host of Object.keys((a.mount as Record<string, string>) ?? {})) {
      if (/^(https?|file):\/\//.test(host)) continue;
      if (!path.isAbsolute(host) || !fs.existsSync(host))
        fail(`mount source ${host} must be an existing absolute path`);
    }
  }

  private async corexCreate(a: Record<string, unknown>, tags: string[] | null): Promise<number> {
    this.validateCreate(a);
    const id = this.nextContainerId++;
    const root = path.join(this.opts.dir, "containers", String(id), "root");
    const rootfs: RootfsOptions = {
      ipfsApi: this.opts.ipfsApi,
      fetchTimeoutMs: this.opts.ipfsFetchTimeoutMs,
    };
    try {
      await buildRootfs(String(a.root), root, rootfs);
    } catch (err) {
      await fs.promises.rm(path.dirname(root), { recursive: true, force: true });
      fail(`container root: ${(err as Error).message}`);
    }
    // The coreX agent stand-in: a real process whose cwd is the root, so `pid` means something.
    const agent = spawn("sleep", ["infinity"], { cwd: root, stdio: "ignore" });
    this.containers.set(id, { id, args: a, tags, root, agent });
    return id;
  }

  private corexList(pred: (c: Container) => boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const c of this.containers.values()) {
      if (!pred(c)) continue;
      out[String(c.id)] = {
        cpu: 0,
        ...processMemory(c.agent.pid),
        container: { arguments: { ...c.args, tags: c.tags }, root: c.root, pid: c.agent.pid ?? 0 },
      };
    }
    return out;
  }

  private corexFind(tags: unknown): Record<string, unknown> {
    if (!Array.isArray(tags)) fail("argument tags must be a list of strings");
    const want = (tags as unknown[]).map(String);
    return this.corexList((c) => want.every((t) => (c.tags ?? []).includes(t)));
  }

  private container(id: number): Container {
    const c = this.containers.get(id);
    if (!c) fail(`no container with id ${id}`);
    return c!;
  }

  private async corexTerminate(id: number): Promise<void> {
    const c = this.container(id);
    this.containers.delete(id);
    for (const j of this.jobs.values()) if (j.child && j.container === id) killTree(j.child, "SIGKILL");
    c.agent.kill("SIGKILL");
    await fs.promises.rm(path.dirname(c.root), { recursive: true, force: true });
  }

  private corexDispatch(a: Record<string, unknown>): string {
    const c = this.container(Number(a.container));
    const inner = a.command as Partial<Core0Command> | undefined;
    if (!inner || typeof inner.command !== "string") fail("argument command must be {command, arguments}");
    const cmd: Core0Command = {
      id: typeof inner!.id === "string" && inner!.id ? inner!.id : randomUUID(),
      command: inner!.command!,
      arguments: inner!.arguments ?? {},
      queue: inner!.queue ?? "",
      max_time: inner!.max_time ?? 0,
      tags: inner!.tags ?? null,
    };
    this.schedule(cmd, c);
    return cmd.id;
  }

  /** Stops consuming, kills every job and container agent, removes container roots. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sampler) clearInterval(this.sampler);
    for (const j of this.jobs.values()) if (j.child) killTree(j.child, "SIGKILL");
    for (const c of this.containers.values()) c.agent.kill("SIGKILL");
    this.containers.clear();
    this.consumer.disconnect();
    await this.loop?.catch(() => undefined);
    this.publisher.disconnect();
  }

  get containerCount(): number {
    return this.containers.size;
  }
}
