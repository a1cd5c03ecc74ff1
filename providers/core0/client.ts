/**
 * Client for a core0 node, speaking threefoldtech/0-core @v0.9.0 by default (see Core0Protocol):
 * commands go to the node's redis as `RPUSH core:default <json>`; core0 answers with
 * `RPUSH result:<id> <json>` + `EXPIRE 300`. Results are parsed as v0.9.0 writes them
 * (`base/pm/core/result.go`): `streams`/`critical` absent when empty, `NN::` levels already applied
 * by the node (level 20 = JSON data), spawn failures as state ERROR with plain text, UNKNOWN_CMD,
 * DUPILICATE_ID (sic). `core.killall` is never sent (it deadlocks v0.9.0's process manager).
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
import { InputError, OperationError, redact } from "../shared/errors";
import { pollUntil, PollTimeoutError } from "../shared/retry";
import { trace } from "../shared/trace";
import { Core0AuthError, Core0JobError, Core0TimeoutError, nodeLabel } from "./errors";
import {
  LATER_ONLY,
  WRITE_COMMANDS,
  type CallOptions,
  type Core0ClientOptions,
  type Core0Command,
  type Core0Protocol,
  type Core0Result,
  type ProcessResult,
} from "./model";
import { decodeData, describeFailure, processResult } from "./result";
import { aggregatorCommands, corexCommands, infoCommands, jobCommands, zerotierCommands } from "./commands";

export * from "./model";
export * from "./errors";

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
  readonly info: ReturnType<typeof infoCommands>;
  readonly job: ReturnType<typeof jobCommands>;
  readonly corex: ReturnType<typeof corexCommands>;
  readonly zerotier: ReturnType<typeof zerotierCommands>;
  readonly aggregator: ReturnType<typeof aggregatorCommands>;
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
    this.info = infoCommands(this);
    this.job = jobCommands(this);
    this.corex = corexCommands(this);
    this.zerotier = zerotierCommands(this);
    this.aggregator = aggregatorCommands(this);
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

  /** The node's wire protocol (option `protocol`, default v0.9.0). */
  get protocol(): Core0Protocol {
    return this.opts.protocol ?? "v0.9.0";
  }

  /** Builds the command JSON the node's protocol expects (see Core0Protocol). */
  command(command: string, args: Record<string, unknown> = {}, opts: CallOptions = {}): Core0Command {
    const cmd: Core0Command = {
      id: opts.id ?? uuid4(),
      command,
      arguments: args,
      queue: opts.queue ?? "",
      tags: this.encodeTags(command, opts.tags),
    };
    if (opts.maxTime) cmd.max_time = opts.maxTime;
    if (this.protocol === "v1.2") cmd.stream = false;
    return cmd;
  }

  private encodeTags(command: string, tags: string | string[] | undefined): string | string[] | null {
    if (this.protocol === "v1.2") {
      if (tags === undefined || tags === "") return null;
      return typeof tags === "string" ? [tags] : tags;
    }
    if (Array.isArray(tags)) {
      throw new InputError(
        this.label,
        `command ${command}: tags`,
        "is a list, but core0 v0.9.0 reads tags as one string (a list makes it drop the command unanswered)",
        'pass one string, e.g. "app1", or use protocol "v1.2" for a later node',
      );
    }
    return tags ?? "";
  }

  /** Sends a command and waits for its result, whatever its state. */
  async run(
    command: string,
    args: Record<string, unknown> = {},
    opts: CallOptions = {},
  ): Promise<Core0Result> {
    return this.send(this.command(command, args, opts), opts.timeoutMs);
  }

  /** Refuses commands that must not or cannot be sent to this node, before anything is sent. */
  private refuse(cmd: Core0Command): void {
    if (cmd.command === "core.killall") {
      throw new InputError(
        this.label,
        "command core.killall",
        "is never sent: it deadlocks core0 v0.9.0's process manager (a channel send nobody reads)",
        "stop jobs one by one (core.kill with their id) or terminate the container",
      );
    }
    if (this.protocol === "v0.9.0" && LATER_ONLY.includes(cmd.command)) {
      throw new InputError(
        this.label,
        `command ${cmd.command}`,
        "does not exist in core0 v0.9.0 (the node would answer UNKNOWN_CMD)",
        'do without it (e.g. keep the container id corex.create returned), or use protocol "v1.2" for a later node',
      );
    }
    if (this.protocol === "v0.9.0" && Array.isArray(cmd.tags)) this.encodeTags(cmd.command, cmd.tags);
  }

  /** Sends a prepared command (any fields) and waits for its result. */
  async send(cmd: Core0Command, timeoutMs?: number): Promise<Core0Result> {
    this.refuse(cmd);
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
    // The caller gets `result` once RPUSH is done; when the deadline passes first (a node slow to
    // take the push), its rejection would be unhandled meanwhile and end the process.
    result.catch(() => undefined);
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

  /**
   * Decodes a result's `data`, throwing Core0JobError unless it is SUCCESS: level 20 = JSON (what
   * built-ins answer, and what a process prints as `20::<json>`), "" = null, other levels as text.
   */
  decode<T>(r: Core0Result): T {
    if (r.state !== "SUCCESS") throw new Core0JobError(this.label, r, this.redact(describeFailure(r)));
    return decodeData<T>(r);
  }

  async ping(opts?: CallOptions): Promise<string> {
    return this.call<string>("core.ping", {}, opts);
  }

  /**
   * `core.system` arguments as the protocol wants them: v0.9.0 reads `stdin` as Go `[]byte`, i.e.
   * base64 on the wire, so text is base64-encoded here; `env` replaces the whole environment.
   */
  systemArgs(
    name: string,
    args: string[] = [],
    p: { dir?: string; stdin?: string | Uint8Array; env?: Record<string, string> } = {},
  ): Record<string, unknown> {
    const stdin = p.stdin ?? "";
    const wire =
      this.protocol === "v0.9.0"
        ? Buffer.from(stdin).toString("base64")
        : typeof stdin === "string"
          ? stdin
          : Buffer.from(stdin).toString("utf8");
    return { name, args, dir: p.dir ?? "", stdin: wire, env: p.env ?? {} };
  }

  /** core.system: runs a process; output in streams. Non-zero exit = state ERROR (not thrown). */
  async system(
    name: string,
    args: string[] = [],
    p: { dir?: string; stdin?: string | Uint8Array; env?: Record<string, string> } = {},
    o?: CallOptions,
  ): Promise<ProcessResult> {
    return processResult(await this.run("core.system", this.systemArgs(name, args, p), o));
  }

  /**
   * `bash` arguments: in v0.9.0 `bash` is the `g8os.toml` extension
   * (`T=$(mktemp) && cat > $T && bash $T`), so the script IS the stdin and there is no other stdin.
   */
  bashArgs(script: string, stdin = ""): Record<string, unknown> {
    if (this.protocol === "v1.2") return { script, stdin };
    if (stdin !== "") {
      throw new InputError(
        this.label,
        "command bash: stdin",
        "cannot be given: core0 v0.9.0's bash reads the script itself from stdin",
        "put the input in the script (a here-document), or use core.system with stdin",
      );
    }
    return { stdin: script };
  }

  /** bash: runs `script` with bash. Non-zero exit = state ERROR (not thrown). */
  async bash(script: string, stdin = "", o?: CallOptions): Promise<ProcessResult> {
    return processResult(await this.run("bash", this.bashArgs(script, stdin), o));
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

/** Opens a client, runs `fn`, always closes. */
export async function withCore0<T>(opts: Core0ClientOptions, fn: (c: Core0Client) => Promise<T>): Promise<T> {
  const c = new Core0Client(opts);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}
