/**
 * Streaming remote commands on an open `SshSession` (see ssh.ts): the command's stdout is a Node
 * Readable with SSH flow control (a slow reader slows the remote side, memory stays flat), and
 * its stdin can be fed from a stream. Used to copy build outputs from a build node straight into
 * IPFS and to upload a source tree as a tar stream, without buffering whole files.
 *
 * `SshSession.exec` buffers all output into a string, which is fine for short commands only.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 */
import type { Readable, Writable } from "stream";
import { OperationError, redact } from "./errors";
import type { SshSession } from "./ssh";
import { trace } from "./trace";

export interface StreamExecOptions {
  /** True when the command changes the host (counted by benchmarks and no-op tests). */
  write?: boolean;
  /** What this step is, for error messages: "copy /usr/bin/hello". */
  step: string;
  /** Strings to blank out of any error message. */
  secrets?: string[];
}

export interface StreamExec {
  /** The command's stdout. Consume it (or destroy it), else the command never ends. */
  stdout: Readable;
  /** The command's stdin; end it when the command reads stdin, else leave it. */
  stdin: Writable;
  /**
   * Settles when the command has ended: resolves on exit status 0, rejects with an
   * OperationError naming the step and the stderr tail otherwise, or when the connection drops.
   */
  done: Promise<void>;
}

type Ssh2Channel = Readable &
  Writable & {
    stderr: Readable;
    on(ev: "exit", cb: (code: number | null, signal?: string) => void): Ssh2Channel;
  };
type Ssh2Client = {
  exec(cmd: string, cb: (err: Error | undefined, ch: Ssh2Channel) => void): boolean;
};

/**
 * Starts `command` on the session's host and hands back its streams at once, on the session's
 * raw ssh2 connection.
 */
export function execStream(
  session: SshSession,
  command: string,
  opts: StreamExecOptions,
): Promise<StreamExec> {
  const label = session.label;
  const connection = session.rawConnection() as Ssh2Client | null;
  const secrets = [session.target.privateKey, ...(opts.secrets ?? [])];
  const fail = (detail: string): OperationError =>
    new OperationError(label, opts.step, redact(`${detail} on ${session.target.host}`, secrets));
  trace({ system: "ssh", op: "exec-stream", write: !!opts.write, target: session.target.host });
  if (!connection) return Promise.reject(fail("the SSH connection is closed"));
  return new Promise<StreamExec>((resolve, reject) => {
    connection.exec(command, (err, channel) => {
      if (err) {
        reject(fail(`could not start the command: ${err.message}`));
        return;
      }
      let stderrTail = "";
      let exitCode: number | null | undefined;
      let exitSignal: string | undefined;
      channel.stderr.on("data", (d: Buffer) => {
        // Keep only the end: a chatty command must not grow memory.
        stderrTail = (stderrTail + d.toString()).slice(-4000);
      });
      channel.on("exit", (code, signal) => {
        exitCode = code;
        exitSignal = signal;
      });
      const done = new Promise<void>((res, rej) => {
        channel.once("close", () => {
          if (exitCode === 0) return res();
          const tail = stderrTail.trim().split("\n").slice(-5).join(" | ");
          if (exitCode === undefined || (exitCode === null && !exitSignal)) {
            rej(fail("the SSH connection closed before the command ended (host down or sshd killed?)"));
          } else {
            rej(
              fail(
                `exit ${exitSignal ? `signal ${exitSignal}` : `status ${exitCode}`}: ${tail || "(no output)"}`,
              ),
            );
          }
        });
      });
      // A rejection nobody awaited yet (the caller is still reading stdout) must not crash the process.
      done.catch(() => undefined);
      resolve({ stdout: channel, stdin: channel, done });
    });
  });
}
