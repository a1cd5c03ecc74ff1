/**
 * Local command runner for the libvirt testbed (which runs on this machine, as root).
 * Every command has a timeout: a hung debootstrap or virsh must not hang the test run.
 */
import { spawn } from "child_process";

export interface LocalResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface LocalOptions {
  /** Kill the command after this long. Default 120 s. */
  timeoutMs?: number;
  /** Fail unless the exit status is 0. Default true. */
  check?: boolean;
  /** Fed to stdin. */
  stdin?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs `argv[0]` with arguments (no shell), returns its output. */
export function runLocal(argv: string[], opts: LocalOptions = {}): Promise<LocalResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...(opts.env ?? {}) },
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const res = { stdout, stderr, code: code ?? -1 };
      if ((opts.check ?? true) && res.code !== 0) {
        const why = signal ? `killed by ${signal} (timeout ${timeoutMs} ms?)` : `exit status ${res.code}`;
        const tail = (stderr || stdout).trim().split("\n").slice(-8).join("\n");
        reject(new Error(`${argv.join(" ")}: ${why}\n${tail}`));
      } else resolve(res);
    });
    if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
    else child.stdin.end();
  });
}

/** Runs a shell line with `sh -c` (for pipelines); same options as runLocal. */
export function shLocal(line: string, opts: LocalOptions = {}): Promise<LocalResult> {
  return runLocal(["sh", "-c", line], opts);
}
