/** The errors of the core0 client: each names the node and the command; none carries the password. */
import { OperationError } from "../shared/errors";
import type { Core0Result, Core0Target } from "./model";

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
