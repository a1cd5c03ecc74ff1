/**
 * What every bench module shares: setup/teardown of the services a bench starts (a `Scope` stops
 * them in reverse order, whatever failed), the remote-call trace files (G8OS_TRACE_FILE), child
 * processes that report their own peak RSS, percentiles, and the root check of the testbed benches.
 * Lives in bench/lib/ so the runner (which loads every bench/*.ts) does not take it for a bench.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";

import { TS_REGISTER } from "../../test/ts-register-path";

/** Services started for one bench repetition, stopped in reverse order by `close()`. */
export class Scope {
  private readonly stops: (() => unknown)[] = [];

  /** Registers `value` (awaited) with its teardown; returns the value. */
  async add<T>(value: T | Promise<T>, stop: (v: T) => unknown): Promise<T> {
    const v = await value;
    this.stops.push(() => stop(v));
    return v;
  }

  /** Runs `fn` at close (after everything added later has been stopped). */
  defer(fn: () => unknown): void {
    this.stops.push(fn);
  }

  /** A fresh temporary directory, removed at close. */
  tmpDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /**
   * Stops everything, last added first. Every teardown runs even when one fails; the first
   * failure is thrown afterwards (a leaked service must not go unnoticed).
   */
  async close(): Promise<void> {
    let first: unknown;
    for (const stop of this.stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }
}

/** Runs `fn` with a fresh Scope and always closes it; a failure of `fn` wins over one of close. */
export async function withScope<T>(fn: (s: Scope) => Promise<T>): Promise<T> {
  const s = new Scope();
  let result: T;
  try {
    result = await fn(s);
  } catch (err) {
    await s.close().catch(() => undefined);
    throw err;
  }
  await s.close();
  return result;
}

/**
 * Testbed benches need root. Throws instead of skipping, so the runner records the bench as
 * FAILED and the run cannot pass without measuring it (issue 12, section 4).
 */
export function requireRoot(bench: string, why: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${bench}: needs root (${why}); run \`npm run bench\` as root`);
  }
}

/** One line of a G8OS_TRACE_FILE (providers/shared/trace.ts). */
export interface TracedCall {
  /** When the call started, ms since the epoch. */
  t: number;
  /** "ssh", "ipfs", "zerotier", ... */
  system: string;
  /** "connect", "exec", "add", ... */
  op: string;
  /** Whether the call changes the remote side. */
  write: boolean;
  /** Host or URL the call went to, when the tracer recorded one. */
  target?: string;
}

/**
 * A trace file for one measurement: `read()` returns the calls recorded since the last read and
 * empties the file. The file is removed when `scope` closes.
 */
export function traceFile(scope: Scope, name: string): { path: string; read(): TracedCall[] } {
  const dir = scope.tmpDir("g8os-bench-trace-");
  const file = path.join(dir, `${name}.jsonl`);
  fs.writeFileSync(file, "");
  return {
    path: file,
    read() {
      const calls = readTrace(file);
      fs.writeFileSync(file, "");
      return calls;
    },
  };
}

/** The calls in a trace file (none when it does not exist). */
export function readTrace(file: string): TracedCall[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as TracedCall);
}

/**
 * Runs `fn` with G8OS_TRACE_FILE set for this process (providers called in-process trace to it),
 * then restores the variable. Returns `fn`'s value and the calls it made.
 */
export async function tracedInProcess<T>(
  scope: Scope,
  name: string,
  fn: () => Promise<T>,
): Promise<{ value: T; calls: TracedCall[] }> {
  const trace = traceFile(scope, name);
  const before = process.env.G8OS_TRACE_FILE;
  process.env.G8OS_TRACE_FILE = trace.path;
  try {
    const value = await fn();
    return { value, calls: trace.read() };
  } finally {
    if (before === undefined) delete process.env.G8OS_TRACE_FILE;
    else process.env.G8OS_TRACE_FILE = before;
  }
}

/** The value at percentile `p` (0..100) of an ascending list: nearest rank, never interpolated. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error("percentile of an empty list");
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Milliseconds `fn` took, with its value. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

/**
 * This process's own peak resident set size in KiB: `VmHWM` of /proc/self/status (Linux), which
 * counts this process only, not its children or the services it talks to.
 */
export function peakRssKiB(): number {
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
  if (!m) throw new Error("/proc/self/status has no VmHWM line (not Linux?)");
  return Number(m[1]);
}

/**
 * Runs the TypeScript file `script` in a child Node process (the tests' cached transpile hook, so a warm
 * cache keeps the TypeScript compiler out of the child's peak RSS) with `env`
 * added, and returns the JSON object it printed last on stdout. A child that exits non-zero, prints
 * no JSON, or outlives `timeoutMs` fails with the tail of its stderr.
 */
export function runChild<T>(
  script: string,
  env: Record<string, string>,
  timeoutMs = 20 * 60_000,
): Promise<T & { seconds: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-r", TS_REGISTER, script], {
      cwd: path.join(__dirname, "..", ".."),
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const name = path.basename(script);
      if (code !== 0) return reject(new Error(`bench child ${name} exited ${code ?? signal}: ${err.trim()}`));
      const last = out.trim().split("\n").pop() ?? "";
      try {
        resolve({ ...(JSON.parse(last) as T), seconds: (Date.now() - started) / 1000 });
      } catch {
        reject(
          new Error(`bench child ${name} printed no JSON result: ${JSON.stringify(last.slice(0, 200))}`),
        );
      }
    });
  });
}

/** A long-running child started by startReadyChild: its first line, its pid, and how to stop it. */
export interface ReadyChild<T> {
  ready: T;
  pid: number;
  /** SIGTERM (if still running), then waits for its exit. */
  stop(): Promise<void>;
}

/**
 * Starts the TypeScript file `script` with `args` in a child Node process (ts-node, transpile
 * only) that prints one JSON line when it is ready (the testbed emulators' CLIs do), and resolves
 * with that line parsed. A child that exits first or stays silent for `timeoutMs` is stopped and
 * fails the bench, naming `what`.
 */
export async function startReadyChild<T>(
  what: string,
  script: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<ReadyChild<T>> {
  const child = spawn(
    process.execPath,
    [require.resolve("ts-node/dist/bin.js"), "--transpile-only", script, ...args],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${what} did not start within ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      child.once("exit", (code) => reject(new Error(`${what} exited with ${code}`)));
      readline.createInterface({ input: child.stdout }).once("line", (l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
    return { ready: JSON.parse(line) as T, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
