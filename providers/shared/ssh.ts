/**
 * One SSH client for every provider and component that works on a remote host
 * (build host bootstrap, libvirt, app builds). Wraps node-ssh with:
 * - host-key pinning: `hostKeySha256` set = the server key must match, else the connection is refused;
 * - exit-status checking with the stderr tail in the error, secrets redacted;
 * - bounded connection retries (hosts that are booting refuse connections for a while);
 * - tracing of every remote command (see trace.ts), marked as read or write by the caller.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 * node-ssh is required inside functions so the serialized provider emits `require("node-ssh")`.
 */
import { errorMessage, OperationError, redact } from "./errors";
import { retry } from "./retry";
import { trace } from "./trace";

import type { SshTarget } from "./ssh-target";

/** How to reach a host over SSH: the project's one connection model (see ssh-target.ts). */
export type { SshTarget } from "./ssh-target";

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** Text fed to the command's stdin (e.g. a file body: keeps secrets out of the command line). */
  stdin?: string;
  /** True when the command changes the host: counted by benchmarks and no-op tests. */
  write?: boolean;
  /** Fail unless the exit status is 0. Default true. */
  check?: boolean;
  /** What this step is, for error messages: "authorize keys". */
  step?: string;
  /** Strings to blank out of any error message (passwords passed via stdin, etc.). */
  secrets?: string[];
}

/** OpenSSH-style fingerprint of a raw public key blob: `SHA256:` + unpadded base64. */
export function sshFingerprint(keyBlob: Buffer): string {
  const crypto = require("crypto") as typeof import("crypto");
  return "SHA256:" + crypto.createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "");
}

/** An open SSH session; use `withSsh` rather than creating one directly. */
export class SshSession {
  constructor(
    private readonly ssh: import("node-ssh").NodeSSH,
    readonly target: SshTarget,
    /** Fingerprint the server presented, whether pinned or not. */
    readonly hostKeySha256: string,
    /** Resource label for error messages: `BuildHost "ovh4"`. */
    readonly label: string,
  ) {}

  /** The underlying ssh2 connection, for streaming commands (ssh-stream.ts); null once closed. */
  rawConnection(): unknown {
    return this.ssh.connection;
  }

  /** Runs one shell command. One command per call: `;`-joined lines hide earlier failures. */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    trace({ system: "ssh", op: "exec", write: !!opts.write, target: this.target.host });
    let r: Awaited<ReturnType<import("node-ssh").NodeSSH["execCommand"]>>;
    try {
      r = await this.ssh.execCommand(command, { stdin: opts.stdin });
    } catch (err) {
      // The session died under the command (keepalive timeout, reset): not the command's failure.
      const e = new OperationError(
        this.label,
        opts.step ?? "remote command",
        redact(`connection to ${this.target.host} lost: ${errorMessage(err)}`, [this.target.privateKey]),
        "the host's network path (a ZeroTier change, a reboot)",
      ) as OperationError & { connectionLost?: boolean };
      e.connectionLost = true;
      throw e;
    }
    if (r.code === null || r.code === undefined) {
      // No exit status: the channel closed under the command (the session or its sshd died,
      // the path broke) or the command was killed by a signal. Either way not a normal failure.
      const sig = (r as { signal?: string | null }).signal;
      const e = new OperationError(
        this.label,
        opts.step ?? "remote command",
        sig
          ? `killed by signal ${sig} on ${this.target.host} before it finished`
          : `the SSH session to ${this.target.host} ended before the command reported an exit status`,
        "the host's network path (a ZeroTier change, a reboot)",
      ) as OperationError & { connectionLost?: boolean };
      e.connectionLost = true;
      throw e;
    }
    const res: ExecResult = { stdout: r.stdout, stderr: r.stderr, code: r.code };
    if ((opts.check ?? true) && res.code !== 0) {
      const tail = (res.stderr || res.stdout).trim().split("\n").slice(-5).join(" | ");
      const secrets = [this.target.privateKey, ...(opts.secrets ?? [])];
      throw new OperationError(
        this.label,
        opts.step ?? "remote command",
        redact(`exit status ${res.code} on ${this.target.host}: ${tail || "(no output)"}`, secrets),
      );
    }
    return res;
  }

  /** Writes a file atomically (temp file + rename) with the given mode; body via stdin. */
  async writeFile(
    path: string,
    body: string,
    mode = "0644",
    opts: Omit<ExecOptions, "stdin" | "write"> = {},
  ): Promise<void> {
    const q = shellQuote(path);
    const tmp = shellQuote(`${path}.g8os-tmp`);
    await this.exec(`umask 077 && cat > ${tmp} && chmod ${mode} ${tmp} && mv -f ${tmp} ${q}`, {
      ...opts,
      stdin: body,
      write: true,
      step: opts.step ?? `write ${path}`,
    });
  }

  /** Reads a file, or returns undefined when it does not exist. */
  async readFile(path: string): Promise<string | undefined> {
    const q = shellQuote(path);
    const r = await this.exec(`if [ -e ${q} ]; then cat ${q}; else exit 3; fi`, {
      check: false,
      step: `read ${path}`,
    });
    if (r.code === 3) return undefined;
    if (r.code !== 0)
      throw new OperationError(this.label, `read ${path}`, r.stderr.trim() || `exit status ${r.code}`);
    return r.stdout;
  }
}

/** Single-quotes a string for POSIX sh. */
export function shellQuote(s: string): string {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

export interface ConnectOptions {
  /** Label for errors: `BuildHost "ovh4"`. */
  label: string;
  /** Connection attempts before giving up. Default 3 (a booting host refuses for a while). */
  attempts?: number;
}

/**
 * Opens a session, runs `fn`, always closes. Errors name the target, the label and what to check;
 * a host-key mismatch is never retried.
 */
export async function withSsh<T>(
  target: SshTarget,
  opts: ConnectOptions,
  fn: (s: SshSession) => Promise<T>,
): Promise<T> {
  const { NodeSSH } = require("node-ssh") as typeof import("node-ssh");
  const port = target.port ?? 22;
  const where = `${target.user ?? "root"}@${target.host}:${port}`;
  let mismatch: string | undefined;
  const connect = async (): Promise<{ ssh: import("node-ssh").NodeSSH; seen: string }> => {
    const ssh = new NodeSSH();
    let seen = "";
    try {
      await ssh.connect({
        host: target.host,
        port,
        username: target.user ?? "root",
        privateKey: target.privateKey,
        readyTimeout: target.connectTimeoutMs ?? 10_000,
        // A path that dies under an open session (a ZeroTier interface taken down, a host
        // rebooted) must end the session within seconds, not leave a command waiting forever.
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          seen = sshFingerprint(key);
          if (target.hostKeySha256 && seen !== target.hostKeySha256) {
            mismatch = seen;
            return false;
          }
          return true;
        },
      } as import("node-ssh").Config);
    } catch (err) {
      ssh.dispose();
      throw err;
    }
    // node-ssh listens for connection errors only while connecting or opening a channel: a
    // keepalive timeout later (the path died under an open session) would be an uncaught exception
    // and kill the whole provider process. ssh2 ends the connection after emitting it, so a running
    // command sees its channel close without an exit status, which exec reports as a lost session.
    (ssh.connection as unknown as { on(event: "error", fn: (err: unknown) => void): void } | null)?.on(
      "error",
      () => undefined,
    );
    trace({ system: "ssh", op: "connect", write: false, target: target.host });
    return { ssh, seen };
  };
  let conn: { ssh: import("node-ssh").NodeSSH; seen: string };
  try {
    conn = await retry(connect, {
      attempts: opts.attempts ?? 3,
      minDelayMs: 1000,
      retryable: (err) =>
        !mismatch && !/authentication methods failed|All configured authentication/i.test(String(err)),
    });
  } catch (err) {
    if (mismatch) {
      throw Object.assign(
        new OperationError(
          opts.label,
          `SSH to ${where}`,
          `host key ${mismatch} does not match the pinned ${target.hostKeySha256}`,
          "the host was reinstalled or someone is intercepting; if reinstalled, replace the resource so the key is pinned anew",
        ),
        { hostKeyMismatch: true },
      );
    }
    const msg = redact(errorMessage(err), [target.privateKey]);
    const auth = /authentication/i.test(msg);
    throw new OperationError(
      opts.label,
      `SSH to ${where}`,
      msg,
      auth
        ? "the private key is not authorised for this user on the host"
        : "the address and port, that sshd runs, and that no firewall drops the connection",
    );
  }
  try {
    return await fn(new SshSession(conn.ssh, target, conn.seen, opts.label));
  } finally {
    conn.ssh.dispose();
  }
}

/** True for the error a connection throws when the host's key is not the pinned one. */
export function isHostKeyMismatch(err: unknown): boolean {
  return (err as { hostKeyMismatch?: boolean } | undefined)?.hostKeyMismatch === true;
}

/**
 * Tries each target in order (e.g. the ZeroTier address with the deploy key, then the bootstrap
 * address with the bootstrap key) and runs `fn` on the first that accepts. Used for hosts whose
 * reachable address changes during their life (ufw closes the public address once ZeroTier works).
 * A host-key mismatch stops at once: it never falls through to the next target.
 */
export async function withFirstReachable<T>(
  targets: SshTarget[],
  opts: ConnectOptions,
  fn: (s: SshSession) => Promise<T>,
): Promise<T> {
  if (targets.length === 0)
    throw new OperationError(opts.label, "SSH", "no address to connect to", "the resource's addresses");
  const failures: string[] = [];
  const unreachable = new Set<string>();
  for (const t of targets) {
    const where = `${t.host}:${t.port ?? 22}`;
    // An address that did not answer will not answer another key either.
    if (unreachable.has(where)) continue;
    let session: SshSession | undefined;
    let result: T | undefined;
    try {
      // Connect once; fn runs outside the catch so its own errors are not mistaken for unreachability.
      await withSsh(t, { ...opts, attempts: opts.attempts ?? 1 }, async (s) => {
        session = s;
        result = await fn(s);
      });
      return result as T;
    } catch (err) {
      const lost = (err as { connectionLost?: boolean }).connectionLost === true;
      // Connected and fn failed on its own: that is fn's error. A session that died under fn is
      // tried again on the next address (host operations here are idempotent).
      if (session !== undefined && !lost) throw err;
      const msg = errorMessage(err);
      if (isHostKeyMismatch(err)) throw err;
      if (lost || !/authentication/i.test(msg)) unreachable.add(where);
      failures.push(`${t.user ?? "root"}@${where}: ${msg.replace(/^.*?failed: /, "")}`);
    }
  }
  const e = new OperationError(
    opts.label,
    "SSH",
    `no address accepted a connection (${failures.join("; ")})`,
    "that the host is up, that ZeroTier is joined, and that the deploy or bootstrap key is still authorised",
  ) as OperationError & { unreachable?: boolean };
  // Every address failed to connect or lost its session: the host is unreachable (see readOnHost).
  e.unreachable = true;
  throw e;
}
