/**
 * Runs local commands for the testbed: bounded in time, output captured, failures as
 * OperationErrors that name the step and show the command's own error text.
 */
import { spawn } from "child_process";
import { OperationError } from "../../providers/shared/errors";
import type { ExecResult } from "./types";

export interface RunOptions {
  /** What this step is, for error messages: "create bridge g8t-br0". */
  step?: string;
  /** Fail unless the exit status is 0. Default true. */
  check?: boolean;
  stdin?: string;
  /** Kill the command (SIGKILL) after this long. Default 60 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The environment an SSH session on a Debian host starts with (no test-runner variables). */
export const SESSION_ENV: NodeJS.ProcessEnv = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  USER: "root",
  LOGNAME: "root",
  LANG: "C.UTF-8",
};

/** Runs `cmd args...` without a shell. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const step = opts.step ?? `${cmd} ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => {
      clearTimeout(timer);
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      reject(
        new OperationError(
          "Testbed",
          step,
          missing ? `${cmd} is not installed` : err.message,
          missing
            ? "run .ci/run once (it installs the testbed's Debian packages), or apt-get install it"
            : undefined,
        ),
      );
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const res: ExecResult = { stdout, stderr, code: code ?? (signal ? 128 : -1) };
      if (timedOut) {
        reject(
          new OperationError(
            "Testbed",
            step,
            `still running after ${Math.round(timeoutMs / 1000)} s, killed`,
          ),
        );
      } else if ((opts.check ?? true) && res.code !== 0) {
        const tail = (stderr || stdout).trim().split("\n").slice(-5).join(" | ");
        reject(new OperationError("Testbed", step, `exit status ${res.code}: ${tail || "(no output)"}`));
      } else {
        resolve(res);
      }
    });
    child.stdin.on("error", () => undefined); // a command that never reads stdin must not crash us
    child.stdin.end(opts.stdin ?? "");
  });
}

/** True when a process with this pid exists (signal 0 probes without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Sends a signal, ignoring "no such process" (it may have exited meanwhile). */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
