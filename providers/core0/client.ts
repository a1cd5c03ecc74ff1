/**
 * Client for a core0 node (G8OS / Zero-OS 0-core, v0.9 protocol): commands go to the node's redis
 * as `RPUSH core:default <json>`; core0 answers with `RPUSH result:<id> <json>` + `EXPIRE 300`.
 *
 * Many commands can be in flight at once without a connection per command: a small pool of reader
 * connections (default 4) each carries a pipeline of `BRPOPLPUSH result:<id> result:<id> 1` calls,
 * one per waiting command, assigned to the least busy reader. Redis serves a connection's blocking
 * calls in order and core0 answers quick commands roughly in order, so each result costs one read
 * and no round trip of its own. A command queued behind a slow job (head-of-line) is caught by a
 * sweep: waits older than `sweepAfterMs` are checked with one pipelined batch of non-blocking LINDEX.
 * Timeouts are whole seconds so this works with the old redis core0 v0.9 embeds.
 * See bench/core0.ts for the figures.
 *
 * Errors name the node (address:port) and the command; the password is redacted from every message.
 *
 * Plain module: no Pulumi imports (dynamic providers capture it). ioredis is required inside functions.
 */
import { OperationError, redact } from "../shared/errors";
import { pollUntil, PollTimeoutError } from "../shared/retry";
import { trace } from "../shared/trace";

/** Job states as core0 spells them (`DUPILICATE_ID` sic, in every core0 version). */
export type JobState = "SUCCESS" | "ERROR" | "TIMEOUT" | "KILLED" | "UNKNOWN_CMD" | "DUPILICATE_ID";

/** The command JSON pushed to `core:default`. */
export interface Core0Command {
  id: string;
  command: string;
  arguments: Record<string, unknown>;
  queue?: string;
  /** Seconds; core0 kills the job after this and reports TIMEOUT. */
  max_time?: number;
  max_restart?: number;
  stats_interval?: number;
  stream?: boolean;
  tags?: string[] | null;
}

/** The result JSON core0 pushes to `result:<id>`. */
export interface Core0Result {
  id: string;
  command: string;
  /** JSON-encoded value for built-ins (level 20); the error text for ERROR. */
  data: string;
  /** [stdout, stderr] (last lines) for processes. */
  streams: [string, string] | string[] | null;
  critical: string;
  level: number;
  state: JobState;
  /** Epoch ms. */
  starttime: number;
  /** Duration, ms. */
  time: number;
  tags: string[] | null;
  container?: number;
  /** Exit code of a process (later core0 versions and our emulator). */
  code?: number;
}

export interface Core0Target {
  /** Node address: ZeroTier IP or host name. */
  host: string;
  /** Default 6379. */
  port?: number;
  /** The node redis `requirepass`. Secret: redacted from every message. */
  password?: string;
  /** TLS to the node redis (core0 v1.1+); `true` = default TLS options, or ioredis/tls options. */
  tls?: boolean | Record<string, unknown>;
}

export interface Core0ClientOptions extends Core0Target {
  /** Default wait for one command's result, ms. Default 30 000. */
  timeoutMs?: number;
  /** TCP connect timeout, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Reader connections (blocking result reads in flight). Default 4. */
  readers?: number;
  /** Waits older than this are also swept with non-blocking reads (head-of-line escape), ms. Default 50. */
  sweepAfterMs?: number;
}

/** Per-call options. */
export interface CallOptions {
  /** Wait this long for the result, ms (default: the client's timeoutMs). */
  timeoutMs?: number;
  /** core0 `max_time`, seconds. */
  maxTime?: number;
  /** core0 `queue`: jobs on one queue run one after another. */
  queue?: string;
  tags?: string[];
  /** Use this job id instead of a fresh uuid4 (to read it again, or to test duplicate ids). */
  id?: string;
}

/** Label used in every error: `core0 node 10.147.17.5:6379`. */
export function nodeLabel(t: Core0Target): string {
  return `core0 node ${t.host}:${t.port ?? 6379}`;
}

/** No answer in time: the node is down or unreachable, or the job is still running. */
export class Core0TimeoutError extends OperationError {
  constructor(
    readonly node: string,
    readonly command: string,
    readonly jobId: string,
    readonly timeoutMs: number,
    cause: string,
  ) {
    super(
      node,
      `command ${command} (job ${jobId})`,
      `no result within ${Math.round(timeoutMs / 100) / 10} s: ${cause}`,
      "that the node is up and reachable on this port (ZeroTier joined and authorized), or give the command more time",
    );
    this.name = "Core0TimeoutError";
  }
}

/** The node redis refused the password. */
export class Core0AuthError extends OperationError {
  constructor(
    readonly node: string,
    command: string,
    detail: string,
  ) {
    super(
      node,
      `command ${command}`,
      `authentication failed (${detail})`,
      "the password field: it must equal the node's redis password (requirepass)",
    );
    this.name = "Core0AuthError";
  }
}

/** The job finished in a state other than SUCCESS; `result` holds core0's answer. */
export class Core0JobError extends OperationError {
  constructor(
    readonly node: string,
    readonly result: Core0Result,
    detail: string,
  ) {
    super(node, `command ${result.command} (job ${result.id})`, `state ${result.state}: ${detail}`);
    this.name = "Core0JobError";
  }
}

/** What a finished process reports: exit state and output. */
export interface ProcessResult {
  state: JobState;
  stdout: string;
  stderr: string;
  /** Exit code when core0 reports one (`code`, core0 v1.1+ and our emulator); else undefined. */
  code?: number;
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

/** corex.create arguments (v0.9 plus the v1.1 names orchestrators used). */
export interface ContainerCreateArgs {
  /** plist URL: `file://` path or http(s). */
  root: string;
  mount?: Record<string, string>;
  /** v1.1 nics. */
  nics?: Array<{
    type: string;
    id?: string;
    name?: string;
    hwaddr?: string;
    config?: Record<string, unknown>;
  }>;
  /** v0.9 network. */
  network?: { zerotier?: string; bridge?: unknown[] };
  /** host port -> container port. */
  port?: Record<string, number>;
  host_network?: boolean;
  hostname?: string;
  name?: string;
  env?: Record<string, string>;
  storage?: string;
  [k: string]: unknown;
}

export interface ContainerInfo {
  cpu: number;
  rss: number;
  vms: number;
  swap: number;
  container: { arguments: ContainerCreateArgs & { tags: string[] | null }; root: string; pid: number };
}

/** Commands that change the node (counted as writes by trace). */
const WRITE_COMMANDS: readonly string[] = [
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

function uuid4(): string {
  return (require("crypto") as typeof import("crypto")).randomUUID();
}

function isAuthError(msg: string): boolean {
  return /NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(msg);
}

interface Pending {
  id: string;
  command: string;
  deadline: number;
  timeoutMs: number;
  resolve: (r: Core0Result) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * One client per node. Connects lazily on the first call; `close()` when done.
 * `call` returns a built-in's decoded `data`; `run` returns the raw result whatever its state.
 */
export class Core0Client {
  readonly label: string;
  private readonly opts: Core0ClientOptions;
  private sender?: import("ioredis").Redis;
  private readers: Array<{ conn: import("ioredis").Redis; waiting: number }>;
  private readonly pending: Map<string, Pending>;
  private sweepTimer?: NodeJS.Timeout;
  readonly info: ReturnType<Core0Client["makeInfo"]>;
  readonly job: ReturnType<Core0Client["makeJob"]>;
  readonly corex: ReturnType<Core0Client["makeCorex"]>;
  readonly zerotier: ReturnType<Core0Client["makeZerotier"]>;
  readonly aggregator: ReturnType<Core0Client["makeAggregator"]>;
  private sweeping: boolean;
  private lastConnError: string;
  private authError: string;
  private closed: boolean;

  // Every field is set here, none by a class-field initializer: Pulumi's closure serializer
  // rebuilds a class from its constructor and would drop initializers.
  constructor(opts: Core0ClientOptions) {
    this.opts = opts;
    this.label = nodeLabel(opts);
    this.readers = [];
    this.pending = new Map();
    this.sweeping = false;
    this.lastConnError = "";
    this.authError = "";
    this.closed = false;
    this.info = this.makeInfo();
    this.job = this.makeJob();
    this.corex = this.makeCorex();
    this.zerotier = this.makeZerotier();
    this.aggregator = this.makeAggregator();
  }

  private redact(msg: string): string {
    return redact(msg, [this.opts.password]);
  }

  private connection(blocking: boolean): import("ioredis").Redis {
    const Redis = require("ioredis") as typeof import("ioredis").default;
    const tls = this.opts.tls === true ? {} : this.opts.tls || undefined;
    const conn = new Redis({
      host: this.opts.host,
      port: this.opts.port ?? 6379,
      password: this.opts.password || undefined,
      tls: tls as import("tls").ConnectionOptions | undefined,
      lazyConnect: true,
      connectTimeout: this.opts.connectTimeoutMs ?? 5000,
      enableOfflineQueue: false,
      // Auto-pipelining batches the sender's RPUSHes into one write; it must stay off for blocking
      // readers, whose batch would only complete when its slowest BRPOPLPUSH does.
      enableAutoPipelining: !blocking,
      maxRetriesPerRequest: 0,
      // Reconnect with a capped backoff; the per-command deadline bounds every wait.
      retryStrategy: (times: number) => (this.closed || this.authError ? null : Math.min(times * 100, 2000)),
    });
    conn.on("error", (err: Error) => {
      const msg = this.redact(err.message);
      if (isAuthError(msg)) this.authError = msg;
      else this.lastConnError = msg;
    });
    return conn;
  }

  /** Waits until both connections are ready, or throws a timeout/auth error naming `command`. */
  private async ready(command: string, id: string, deadline: number, timeoutMs: number): Promise<void> {
    if (this.closed) throw new OperationError(this.label, `command ${command}`, "the client is closed");
    if (!this.sender) {
      this.sender = this.connection(false);
      this.readers = Array.from({ length: Math.max(1, this.opts.readers ?? 4) }, () => ({
        conn: this.connection(true),
        waiting: 0,
      }));
      for (const c of [this.sender, ...this.readers.map((r) => r.conn)]) c.connect().catch(() => undefined);
    }
    const conns = [this.sender, ...this.readers.map((r) => r.conn)];
    if (conns.every((c) => c.status === "ready")) return;
    try {
      await pollUntil(
        async () => {
          if (this.authError) throw new Core0AuthError(this.label, command, this.authError);
          for (const c of conns) if (c.status === "end") c.connect().catch(() => undefined);
          return conns.every((c) => c.status === "ready")
            ? true
            : { pending: this.lastConnError || "connecting" };
        },
        { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 20, what: `${this.label} connection` },
      );
    } catch (err) {
      if (!(err instanceof PollTimeoutError)) throw err;
      throw new Core0TimeoutError(
        this.label,
        command,
        id,
        timeoutMs,
        `node unreachable (${this.lastConnError || "no connection"})`,
      );
    }
  }

  /** Sends a command and waits for its result, whatever its state. */
  async run(
    command: string,
    args: Record<string, unknown> = {},
    opts: CallOptions = {},
  ): Promise<Core0Result> {
    const id = opts.id ?? uuid4();
    const cmd: Core0Command = {
      id,
      command,
      arguments: args,
      queue: opts.queue ?? "",
      max_time: opts.maxTime ?? 0,
      stream: false,
      tags: opts.tags ?? null,
    };
    return this.send(cmd, opts.timeoutMs);
  }

  /** Sends a prepared command (any fields) and waits for its result. */
  async send(cmd: Core0Command, timeoutMs?: number): Promise<Core0Result> {
    const wait = timeoutMs ?? this.opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + wait;
    await this.ready(cmd.command, cmd.id, deadline, wait);
    trace({
      system: "core0",
      op: cmd.command,
      write: WRITE_COMMANDS.includes(cmd.command),
      target: this.opts.host,
    });
    const result = this.waitResult(cmd.id, cmd.command, deadline, wait);
    try {
      await this.sender!.rpush("core:default", JSON.stringify(cmd));
    } catch (err) {
      this.pending.delete(cmd.id);
      throw this.wrap(err, cmd.command, cmd.id, wait);
    }
    return result;
  }

  /**
   * Waits for the result of job `id` (e.g. a job dispatched into a container). The result stays
   * readable until core0 expires it (300 s), so this can be called more than once.
   */
  async result(id: string, opts: { timeoutMs?: number; command?: string } = {}): Promise<Core0Result> {
    const wait = opts.timeoutMs ?? this.opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + wait;
    const command = opts.command ?? "result";
    await this.ready(command, id, deadline, wait);
    return this.waitResult(id, command, deadline, wait);
  }

  private wrap(err: unknown, command: string, id: string, timeoutMs: number): Error {
    if (err instanceof OperationError) return err;
    const msg = this.redact(err instanceof Error ? err.message : String(err));
    if (isAuthError(msg)) return new Core0AuthError(this.label, command, msg);
    return new Core0TimeoutError(this.label, command, id, timeoutMs, `connection failed (${msg})`);
  }

  private waitResult(id: string, command: string, deadline: number, timeoutMs: number): Promise<Core0Result> {
    return new Promise<Core0Result>((resolve, reject) => {
      if (this.pending.has(id)) {
        reject(
          new OperationError(
            this.label,
            `command ${command} (job ${id})`,
            "this client already waits for that job id",
          ),
        );
        return;
      }
      const p: Pending = { id, command, deadline, timeoutMs, resolve, reject };
      this.pending.set(id, p);
      p.timer = setTimeout(() => this.settle(p, this.timeoutError(p)), Math.max(0, deadline - Date.now()));
      this.blockingRead(p);
      this.scheduleSweep();
    });
  }

  private timeoutError(p: Pending): Core0TimeoutError {
    const connected = this.readers.every((r) => r.conn.status === "ready");
    return new Core0TimeoutError(
      this.label,
      p.command,
      p.id,
      p.timeoutMs,
      connected
        ? "the node did not answer (job still running, or core0 not consuming core:default)"
        : `node unreachable (${this.lastConnError || "connection lost"})`,
    );
  }

  /** One BRPOPLPUSH for `p` on the least busy reader; re-issued every second until settled. */
  private blockingRead(p: Pending): void {
    if (this.closed || !this.pending.has(p.id)) return;
    const reader = this.readers.reduce((a, b) => (b.waiting < a.waiting ? b : a));
    reader.waiting++;
    const key = `result:${p.id}`;
    reader.conn.brpoplpush(key, key, 1).then(
      (raw) => {
        reader.waiting--;
        if (raw !== null) this.accept(p, raw);
        else this.blockingRead(p);
      },
      (err: unknown) => {
        reader.waiting--;
        const msg = this.redact(err instanceof Error ? err.message : String(err));
        if (isAuthError(msg)) return this.settle(p, new Core0AuthError(this.label, p.command, msg));
        this.lastConnError = msg;
        // Connection lost: try again shortly; the deadline timer bounds the retries.
        if (this.pending.has(p.id)) setTimeout(() => this.blockingRead(p), 200).unref();
      },
    );
  }

  private accept(p: Pending, raw: string): void {
    try {
      this.settle(p, undefined, JSON.parse(raw) as Core0Result);
    } catch {
      this.settle(
        p,
        new OperationError(this.label, `command ${p.command} (job ${p.id})`, "result is not JSON"),
      );
    }
  }

  /** Checks waits older than sweepAfterMs with pipelined LINDEX, while any are pending. */
  private scheduleSweep(): void {
    if (this.sweepTimer || this.closed || this.pending.size === 0) return;
    const after = this.opts.sweepAfterMs ?? 50;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      void this.sweep(after).finally(() => this.scheduleSweep());
    }, after);
    this.sweepTimer.unref();
  }

  private async sweep(olderThanMs: number): Promise<void> {
    if (this.sweeping || !this.sender || this.sender.status !== "ready") return;
    const cutoff = Date.now() - olderThanMs;
    const old = [...this.pending.values()].filter((p) => p.deadline - p.timeoutMs <= cutoff);
    if (old.length === 0) return;
    this.sweeping = true;
    try {
      const pipe = this.sender.pipeline();
      for (const p of old) pipe.lindex(`result:${p.id}`, 0);
      const replies = (await pipe.exec()) ?? [];
      replies.forEach(([, raw], i) => {
        if (typeof raw === "string") this.accept(old[i], raw);
      });
    } catch (err) {
      this.lastConnError = this.redact(err instanceof Error ? err.message : String(err));
    } finally {
      this.sweeping = false;
    }
  }

  private settle(p: Pending, err?: Error, result?: Core0Result): void {
    if (this.pending.get(p.id) !== p) return;
    this.pending.delete(p.id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(result!);
  }

  /** Runs a built-in and returns its decoded `data`; a non-SUCCESS state throws Core0JobError. */
  async call<T>(command: string, args: Record<string, unknown> = {}, opts: CallOptions = {}): Promise<T> {
    const r = await this.run(command, args, opts);
    return this.decode<T>(r);
  }

  /** Decodes a result's `data`, throwing Core0JobError unless it is SUCCESS. */
  decode<T>(r: Core0Result): T {
    if (r.state !== "SUCCESS") throw new Core0JobError(this.label, r, this.redact(describeFailure(r)));
    if (r.level === 20 || r.data === "") {
      if (r.data === "") return null as T;
      try {
        return JSON.parse(r.data) as T;
      } catch {
        return r.data as T;
      }
    }
    return r.data as T;
  }

  async ping(opts?: CallOptions): Promise<string> {
    return this.call<string>("core.ping", {}, opts);
  }

  private makeInfo() {
    return {
      cpu: (o?: CallOptions) => this.call<CpuInfo[]>("info.cpu", {}, o),
      mem: (o?: CallOptions) => this.call<MemInfo>("info.mem", {}, o),
      nic: (o?: CallOptions) => this.call<NicInfo[]>("info.nic", {}, o),
      os: (o?: CallOptions) => this.call<OsInfo>("info.os", {}, o),
    };
  }

  /** core.system: runs a process; output in streams. Non-zero exit = state ERROR (not thrown). */
  async system(
    name: string,
    args: string[] = [],
    p: { dir?: string; stdin?: string; env?: Record<string, string> } = {},
    o?: CallOptions,
  ): Promise<ProcessResult> {
    return processResult(
      await this.run(
        "core.system",
        { name, args, dir: p.dir ?? "", stdin: p.stdin ?? "", env: p.env ?? {} },
        o,
      ),
    );
  }

  /** bash: `sh -c script`. Non-zero exit = state ERROR (not thrown). */
  async bash(script: string, stdin = "", o?: CallOptions): Promise<ProcessResult> {
    return processResult(await this.run("bash", { script, stdin }, o));
  }

  private makeJob() {
    return {
      list: (id?: string, o?: CallOptions) => this.call<JobInfo[]>("job.list", id ? { id } : {}, o),
      kill: (id: string, signal = 9, o?: CallOptions) => this.call<boolean>("job.kill", { id, signal }, o),
    };
  }

  private makeCorex() {
    return {
      /** Creates a container; `tags` become its tags (include its name so it can be found). */
      create: (args: ContainerCreateArgs, tags: string[] = [], o: CallOptions = {}) =>
        this.call<number>("corex.create", args as Record<string, unknown>, {
          ...o,
          tags: [...(o.tags ?? []), ...tags],
        }),
      list: (o?: CallOptions) => this.call<Record<string, ContainerInfo>>("corex.list", {}, o),
      find: (tags: string[], o?: CallOptions) =>
        this.call<Record<string, ContainerInfo>>("corex.find", { tags }, o),
      terminate: (container: number, o?: CallOptions) => this.call<null>("corex.terminate", { container }, o),
      /** Dispatches a command into a container; returns the inner job id (read it with `result`). */
      dispatch: (
        container: number,
        command: {
          command: string;
          arguments: Record<string, unknown>;
          queue?: string;
          max_time?: number;
          tags?: string[];
          id?: string;
        },
        o?: CallOptions,
      ) => this.call<string>("corex.dispatch", { container, command: { id: uuid4(), ...command } }, o),
      /** Dispatches, then waits for the inner job's result (raw, any state). */
      dispatchAndWait: async (
        container: number,
        command: { command: string; arguments: Record<string, unknown>; max_time?: number; tags?: string[] },
        o: CallOptions = {},
      ): Promise<Core0Result> => {
        const inner = await this.corex.dispatch(container, command, o);
        return this.result(inner, {
          timeoutMs: o.timeoutMs,
          command: `${command.command} in container ${container}`,
        });
      },
    };
  }

  private makeZerotier() {
    return {
      list: (o?: CallOptions) => this.call<ZerotierNetworkInfo[]>("zerotier.list", {}, o),
      join: (network: string, o?: CallOptions) => this.call<null>("zerotier.join", { network }, o),
      leave: (network: string, o?: CallOptions) => this.call<null>("zerotier.leave", { network }, o),
    };
  }

  private makeAggregator() {
    return {
      query: (p: { key?: string; tags?: Record<string, string> } = {}, o?: CallOptions) =>
        this.call<Record<string, AggregatedMetric>>(
          "aggregator.query",
          { key: p.key ?? "", tags: p.tags ?? {} },
          o,
        ),
    };
  }

  /** Fails every pending call and closes the connections. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of [...this.pending.values()]) {
      this.settle(
        p,
        new OperationError(this.label, `command ${p.command} (job ${p.id})`, "the client was closed"),
      );
    }
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    for (const c of [this.sender, ...this.readers.map((r) => r.conn)]) c?.disconnect();
  }
}

function describeFailure(r: Core0Result): string {
  let data = r.data;
  try {
    const d = JSON.parse(r.data) as unknown;
    if (typeof d === "string") data = d;
  } catch {
    /* plain text */
  }
  const stderr = Array.isArray(r.streams)
    ? (r.streams[1] ?? "").trim().split("\n").slice(-3).join(" | ")
    : "";
  return [data || r.critical, stderr].filter(Boolean).join("; ") || "(no detail)";
}

function processResult(r: Core0Result): ProcessResult {
  const streams = Array.isArray(r.streams) ? r.streams : [];
  return { state: r.state, stdout: streams[0] ?? "", stderr: streams[1] ?? "", code: r.code, result: r };
}

/** Opens a client, runs `fn`, always closes. */
export async function withCore0<T>(opts: Core0ClientOptions, fn: (c: Core0Client) => Promise<T>): Promise<T> {
  const c = new Core0Client(opts);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}
