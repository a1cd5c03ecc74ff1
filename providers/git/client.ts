/**
 * git over SSH with a deploy key, for providers that commit to a repository (TemplatesRelease).
 * Runs the `git` CLI of the machine running Pulumi; the key and the pinned host keys are written
 * to a private temp dir (0700, files 0600) for the duration of one `withGitSsh` call and removed
 * after, so they never appear on a command line, in the environment of other processes, or in state.
 *
 * - Host keys: `knownHosts` (known_hosts lines) are pinned with `StrictHostKeyChecking=yes`; an
 *   unknown or changed server key fails the command. Without `knownHosts` nothing is accepted.
 * - Every command is bounded in time; its error names the step and the stderr tail, secrets
 *   redacted. Network operations (clone/fetch/push/ls-remote) are traced.
 *
 * Plain module: no Pulumi imports (dynamic providers capture it).
 */
import { errorMessage, OperationError, redact } from "../shared/errors";
import { trace } from "../shared/trace";

export interface GitSshOptions {
  /** OpenSSH private key authorised on the git server. Secret. */
  deployKey: string;
  /** known_hosts lines for the server (`host keytype base64`), e.g. `[git.example.com]:2222 ssh-ed25519 AAAA...`. */
  knownHosts: string;
  /** Label for errors: `TemplatesRelease "templates"`. */
  label: string;
}

export interface GitRunOptions {
  cwd?: string;
  /** What this step is, for errors: "push develop". */
  step: string;
  /** Network operation: traced as a remote call (`write` for push). */
  remote?: { op: string; write: boolean; target: string };
  /** Kill after this long. Default 120 s. */
  timeoutMs?: number;
  /** Exit codes that are not failures (e.g. 1 for `diff --quiet`). */
  okCodes?: number[];
}

export interface GitSession {
  /** Runs `git <args>`; returns stdout and the exit code (0 or one of `okCodes`). */
  git(args: string[], opts: GitRunOptions): Promise<{ stdout: string; code: number }>;
  /** A fresh temp directory inside the session dir (removed with it). */
  tempDir(prefix: string): string;
}

/** Host part of an ssh:// URL, for traces and messages (never contains credentials). */
export function gitUrlHost(url: string): string {
  const m = /^ssh:\/\/(?:[^@/]+@)?([^/:]+|\[[^\]]+\])(?::\d+)?\//.exec(url);
  return m ? m[1] : "unknown-host";
}

/** Validates an `ssh://[user@]host[:port]/path` URL; returns the reason it is not one. */
export function sshGitUrlProblem(v: unknown): string | undefined {
  return typeof v === "string" &&
    /^ssh:\/\/([A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(:\d{1,5})?\/\S+$/.test(v)
    ? undefined
    : "must be an ssh:// git URL like ssh://git@git.example.com/org/ays_templates.git";
}

/** Opens a session with the key and host keys in a private temp dir, runs `fn`, always cleans up. */
export async function withGitSsh<T>(o: GitSshOptions, fn: (s: GitSession) => Promise<T>): Promise<T> {
  const fs = require("fs") as typeof import("fs");
  const os = require("os") as typeof import("os");
  const path = require("path") as typeof import("path");
  const { execFile } = require("child_process") as typeof import("child_process");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-git-"));
  const secrets = [o.deployKey];
  try {
    fs.chmodSync(dir, 0o700);
    const keyFile = path.join(dir, "deploy_key");
    const knownHostsFile = path.join(dir, "known_hosts");
    // ssh refuses a key without its final newline ("invalid format").
    fs.writeFileSync(keyFile, o.deployKey.endsWith("\n") ? o.deployKey : o.deployKey + "\n", { mode: 0o600 });
    fs.writeFileSync(knownHostsFile, o.knownHosts.trim() + "\n", { mode: 0o600 });
    const sshCommand = [
      "ssh",
      `-i ${keyFile}`,
      "-o IdentitiesOnly=yes",
      "-o BatchMode=yes",
      "-o StrictHostKeyChecking=yes",
      `-o UserKnownHostsFile=${knownHostsFile}`,
      "-o GlobalKnownHostsFile=/dev/null",
      "-o ConnectTimeout=15",
    ].join(" ");
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      GIT_SSH_COMMAND: sshCommand,
      GIT_TERMINAL_PROMPT: "0",
      GIT_CONFIG_NOSYSTEM: "1",
      LANG: "C",
    };
    let n = 0;
    const session: GitSession = {
      tempDir: (prefix) => fs.mkdtempSync(path.join(dir, `${prefix}-${n++}-`)),
      git: (args, opts) => {
        if (opts.remote) trace({ system: "git", ...opts.remote });
        return new Promise((resolve, reject) => {
          execFile(
            "git",
            args,
            { cwd: opts.cwd ?? dir, env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
            (err, stdout, stderr) => {
              const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
              if (code === 0 || (opts.okCodes ?? []).includes(code)) {
                resolve({ stdout: String(stdout), code });
                return;
              }
              const all = String(stderr || stdout || (err ? errorMessage(err) : ""));
              // git's generic advice lines hide the cause (e.g. "Host key verification failed").
              const why = all
                .split("\n")
                .map((l) => l.trim())
                .filter(
                  (l) =>
                    l &&
                    !/^(Please make sure|and the repository exists|fatal: Could not read from remote)/.test(
                      l,
                    ),
                )
                .slice(-4)
                .join(" | ");
              const killed = err && (err as { killed?: boolean }).killed;
              reject(
                new OperationError(
                  o.label,
                  opts.step,
                  redact(
                    killed
                      ? `git timed out after ${(opts.timeoutMs ?? 120_000) / 1000} s`
                      : `git exit ${code}: ${why}`,
                    secrets,
                  ),
                  /Host key verification failed|REMOTE HOST IDENTIFICATION/.test(all)
                    ? "the server's host key is not in knownHosts (or changed): add its known_hosts line"
                    : /Permission denied|publickey/.test(all)
                      ? "the deploy key is authorised on the git server with write access"
                      : /non-fast-forward|fetch first|rejected/.test(all)
                        ? "someone pushed to the branch meanwhile; the next attempt starts from their commit"
                        : undefined,
                ),
              );
            },
          );
        });
      },
    };
    return await fn(session);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
