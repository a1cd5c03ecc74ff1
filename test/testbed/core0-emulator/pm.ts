/**
 * core0's process manager, emulated from threefoldtech/0-core@v0.9.0 `base/pm/pm.go`, `runner.go`,
 * `queue.go`, `process/{builtin,system,container}process.go`. One instance is core0's, one per
 * container plays coreX's (which runs the same base/pm code).
 * - RunCmd: no factory -> UNKNOWN_CMD result (data "", level 0, times 0, no streams); id already
 *   running -> DUPILICATE_ID (data "duplicate job id"); neither produces a runner, so a queued
 *   command of that kind never releases its queue (the queue stalls, as in queue.go).
 * - A runner runs its process; spawn failure -> ERROR with the Go error text, no streams. Otherwise
 *   streams are [stdout, stderr] (always present), result level/data from result-level messages,
 *   kill -> KILLED, max_time -> TIMEOUT (the process gets SIGTERM; the result is sent once its
 *   output closed), max_restart / recurring_period restart as runner.go does.
 * - Queues: commands sharing `queue` run one after another; max_jobs bounds concurrent runners.
 */
import { ChildProcess, spawn } from "child_process";
import { marshal } from "./gojson";
import { LineConsumer, Message, ResultCollector, LEVEL_STDERR, LEVEL_STDOUT } from "./stream";
import { basicResult, STATE, WireCommand, WireResult } from "./wire";

/** ProcessStats as Go encodes it: cpu, rss, vms, swap, debug (cmd omitted when nil). */
export interface ProcessStats {
  /** The job's command (left out in corex.list and core.state). */
  cmd?: WireCommand;
  /** CPU percent (the emulator reports 0). */
  cpu: number;
  /** Resident memory, bytes. */
  rss: number;
  /** Virtual memory, bytes. */
  vms: number;
  /** Swapped memory, bytes. */
  swap: number;
  /** The pid(s) as text ("" for builtins). */
  debug: string;
}

/** A started process (Go process.Process after Run). */
export interface Proc {
  /** Process.Kill: ask the process to end (its output is still drained); `signal` overrides the usual one. */
  kill(signal?: NodeJS.Signals): void;
  /** Process.GetStats. */
  stats(): ProcessStats;
  /** Resolves with "SUCCESS"/"ERROR" once all output was read and the process exited. */
  done: Promise<string>;
}

/** Starts a process for `cmd`, feeding messages to `onMessage`; throws with Go's text when it cannot spawn. */
export type Factory = (cmd: WireCommand, onMessage: (m: Message) => void) => Proc;

export interface RunnerHooks {
  /** Called with the pid once a process started (unused so far). */
  onPid?: (pid: number) => void;
  /** Called with the state after every run (ExitHook). */
  onExit?: (state: string) => void;
}

export class Runner {
  process?: Proc;
  private killRequested = false;
  private wake?: () => void;
  private killCurrent?: () => void;

  constructor(
    readonly cmd: WireCommand,
    readonly route: string,
    private readonly factory: Factory,
    private readonly pm: ProcessManager,
    private readonly hooks: RunnerHooks = {},
  ) {}

  /** runner.Kill: the current run ends KILLED (a sleeping restart is cancelled). */
  kill(): void {
    this.killRequested = true;
    this.killCurrent?.();
    this.wake?.();
  }

  private async runOnce(): Promise<WireResult> {
    const r = basicResult(this.cmd);
    r.state = STATE.ERROR;
    const start = Date.now();
    const finish = (): WireResult => {
      r.starttime = start;
      r.time = Date.now() - start;
      return r;
    };
    const collector = new ResultCollector();
    let collecting = true;
    let proc: Proc;
    try {
      proc = this.factory(this.cmd, (m) => {
        if (collecting) collector.accept(m);
      });
    } catch (err) {
      if (err instanceof NodePanic) return this.pm.panic(err);
      r.data = (err as Error).message;
      return finish();
    }
    this.process = proc;
    let forced: string | undefined;
    const stop = (state: string): void => {
      if (forced) return;
      forced = state;
      collecting = false; // the loop is left: later messages are drained, not recorded
      proc.kill();
    };
    this.killCurrent = () => stop(STATE.KILLED);
    if (this.killRequested) stop(STATE.KILLED);
    const timer =
      this.cmd.max_time > 0 ? setTimeout(() => stop(STATE.TIMEOUT), this.cmd.max_time * 1000) : undefined;
    const exit = await proc.done;
    if (timer) clearTimeout(timer);
    this.killCurrent = undefined;
    this.process = undefined;
    r.state = forced ?? exit;
    if (collector.result) {
      r.level = collector.result.level;
      r.data = collector.result.message;
    }
    r.streams = [collector.stdout.toString(), collector.stderr.toString()];
    r.critical = collector.critical || undefined;
    return finish();
  }

  async run(): Promise<void> {
    let runs = 0;
    let result: WireResult;
    for (;;) {
      result = await this.runOnce();
      this.hooks.onExit?.(result.state);
      if (result.state === STATE.KILLED) break;
      let restartIn = -1;
      if (result.state !== STATE.SUCCESS && this.cmd.max_restart > 0) {
        runs++;
        if (runs < this.cmd.max_restart) restartIn = 1000;
      }
      if (this.cmd.recurring_period > 0) restartIn = this.cmd.recurring_period * 1000;
      if (restartIn < 0) break;
      const killed = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), restartIn);
        this.wake = () => {
          clearTimeout(t);
          resolve(true);
        };
        if (this.killRequested) this.wake();
      });
      this.wake = undefined;
      if (killed) {
        result.state = STATE.KILLED;
        break;
      }
    }
    this.pm.resultCallback(this.cmd, this.route, result);
    this.pm.cleanUp(this);
  }
}

/** A Go panic in core0 (e.g. dereferencing a nil `*cmd.Arguments`): the whole node goes down. */
export class NodePanic extends Error {}

export type ResultHandler = (cmd: WireCommand, result: WireResult) => void;

export class ProcessManager {
  readonly runners = new Map<string, Runner>();
  readonly factories = new Map<string, Factory>();
  readonly routeHandlers = new Map<string, ResultHandler>();
  private readonly queues = new Map<string, WireCommand[]>();
  private readonly queueRoutes = new Map<WireCommand, string>();
  private capacityWaiters: Array<() => void> = [];

  /** Called when a command makes core0 panic; the node stops. */
  onPanic?: (err: Error) => void;

  constructor(public maxJobs: number) {}

  /** Reports the panic and never settles: a dead node sends no result. */
  panic(err: Error): Promise<never> {
    this.maxJobs = 0;
    this.onPanic?.(err);
    return new Promise<never>(() => undefined);
  }

  /** processCmds waits while max_jobs runners exist before taking the next command. */
  async waitForCapacity(): Promise<void> {
    while (this.runners.size >= this.maxJobs) await new Promise<void>((r) => this.capacityWaiters.push(r));
  }

  resultCallback(cmd: WireCommand, route: string, result: WireResult): void {
    result.tags = cmd.tags;
    this.routeHandlers.get(route)?.(cmd, result);
  }

  /** PM.RunCmd. Returns the runner, or undefined for UNKNOWN_CMD / DUPILICATE_ID. */
  runCmd(cmd: WireCommand, route: string, hooks?: RunnerHooks): Runner | undefined {
    const factory = this.factories.get(cmd.command);
    if (!factory) {
      const r = basicResult(cmd);
      r.state = STATE.UNKNOWN_CMD;
      this.resultCallback(cmd, route, r);
      return undefined;
    }
    return this.newRunner(cmd, route, factory, hooks);
  }

  /** PM.NewRunner (also used directly for container runners, which have no command name). */
  newRunner(cmd: WireCommand, route: string, factory: Factory, hooks?: RunnerHooks): Runner | undefined {
    if (this.runners.has(cmd.id)) {
      const r = basicResult(cmd);
      r.state = STATE.DUPLICATE_ID;
      r.data = "duplicate job id";
      this.resultCallback(cmd, route, r);
      return undefined;
    }
    const runner = new Runner(cmd, route, factory, this, hooks);
    this.runners.set(cmd.id, runner);
    void runner.run();
    return runner;
  }

  /** The sink: no queue -> run now; else queue.go's per-queue FIFO. */
  push(cmd: WireCommand, route: string): void {
    if (!cmd.queue) {
      this.runCmd(cmd, route);
      return;
    }
    const q = this.queues.get(cmd.queue);
    this.queueRoutes.set(cmd, route);
    if (q) {
      q.push(cmd);
      return;
    }
    this.queues.set(cmd.queue, [cmd]);
    this.signal(cmd.queue);
  }

  private signal(queue: string): void {
    const q = this.queues.get(queue);
    if (!q) return;
    if (q.length === 0) {
      this.queues.delete(queue);
      return;
    }
    const next = q.shift()!;
    const route = this.queueRoutes.get(next) ?? "";
    this.queueRoutes.delete(next);
    this.runCmd(next, route);
  }

  cleanUp(runner: Runner): void {
    if (this.runners.get(runner.cmd.id) === runner) this.runners.delete(runner.cmd.id);
    if (runner.cmd.queue) this.signal(runner.cmd.queue);
    this.wake();
  }

  /** Lets waitForCapacity callers re-check (after a runner ended, or when the node stops). */
  wake(): void {
    const waiters = this.capacityWaiters;
    this.capacityWaiters = [];
    for (const w of waiters) w();
  }

  kill(id: string): void {
    this.runners.get(id)?.kill();
  }

  killAll(): void {
    for (const r of this.runners.values()) r.kill();
  }
}

/** An internal (Go builtin) process: its value JSON-encoded at level 20; errors JSON-quoted. */
export function builtin(fn: (cmd: WireCommand) => unknown | Promise<unknown>, pm?: ProcessManager): Factory {
  return (cmd, onMessage) => {
    const done = (async () => {
      try {
        const value = await fn(cmd);
        onMessage({ level: 20, message: marshal(value) });
        return STATE.SUCCESS;
      } catch (err) {
        if (err instanceof NodePanic && pm) return pm.panic(err);
        onMessage({ level: 20, message: marshal((err as Error).message) });
        return STATE.ERROR;
      }
    })();
    return {
      kill: () => undefined, // "you can't kill an internal process"
      stats: () => ({ cmd, cpu: 0, rss: 0, vms: 0, swap: 0, debug: "" }),
      done,
    };
  };
}

export interface SpawnSpec {
  /** Executable to spawn (already resolved). */
  file: string;
  /** Arguments after argv[0]. */
  args: string[];
  /** argv[0] as Go sets it (the name as given). */
  argv0: string;
  /** Working directory of the spawned process (host path). */
  cwd: string;
  /** The complete environment. */
  env: Record<string, string>;
  /** Written to stdin, then stdin is closed; empty/undefined = closed at once. */
  stdin?: Buffer;
  /** Signal for Kill (system processes: SIGTERM via Terminate; container agents: SIGKILL). */
  killSignal: NodeJS.Signals;
  /** Stats of the running process by pid. */
  stats: (pid: number | undefined) => ProcessStats;
}

/** Starts an OS process the way systemprocess.go does (pipes, stdin written then closed). */
export function startOsProcess(spec: SpawnSpec, onMessage: (m: Message) => void): Proc {
  const child: ChildProcess = spawn(spec.file, spec.args, {
    argv0: spec.argv0,
    cwd: spec.cwd,
    env: spec.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out = new LineConsumer(LEVEL_STDOUT, onMessage);
  const err = new LineConsumer(LEVEL_STDERR, onMessage);
  child.stdout!.on("data", (d: Buffer) => out.push(d));
  child.stderr!.on("data", (d: Buffer) => err.push(d));
  child.stdin!.on("error", () => undefined);
  child.stdin!.end(spec.stdin && spec.stdin.length ? spec.stdin : undefined);
  const done = new Promise<string>((resolve) => {
    child.once("error", () => resolve(STATE.ERROR));
    child.once("close", (code) => {
      out.end();
      err.end();
      resolve(code === 0 ? STATE.SUCCESS : STATE.ERROR);
    });
  });
  return {
    kill: (signal?: NodeJS.Signals) => {
      try {
        child.kill(signal ?? spec.killSignal);
      } catch {
        /* already gone */
      }
    },
    stats: () => spec.stats(child.pid),
    done,
  };
}
