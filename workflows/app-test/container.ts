/**
 * One app's container on one core0 v0.9.0 node: create it (recovering a lost create answer), tell
 * whether a process still runs in it, and judge a test's result against what the test expects.
 * See runner.ts for why v0.9 needs each of these. Plain module: no Pulumi imports.
 */
import { errorMessage, OperationError } from "../../providers/shared/errors";
import {
  type Core0Client,
  Core0JobError,
  type Core0Result,
  Core0TimeoutError,
} from "../../providers/core0/client";
import {
  type AppTestCase,
  type AppTestLeftover,
  type AppTestResult,
  type AppUnderTest,
  plistUrlOn,
  type TestNode,
} from "./types";

const OUTPUT_TAIL_CHARS = 1500;

/** The last `max` characters of `text`, trimmed. */
export function tail(text: string, max = OUTPUT_TAIL_CHARS): string {
  const t = text.trim();
  return t.length <= max ? t : "…" + t.slice(t.length - max);
}

/** stdout and stderr of a core0 result ("" when absent). */
export function streamsOf(r: Core0Result): { stdout: string; stderr: string } {
  const s = Array.isArray(r.streams) ? r.streams : [];
  return { stdout: s[0] ?? "", stderr: s[1] ?? "" };
}

/** Judges one test result against the test's expectations; returns the reason it failed, or "". */
export function judgeTest(t: AppTestCase, r: Core0Result): { exitCode: number; reason: string } {
  const want = t.expectExitCode ?? 0;
  // core0 v0.9 reports no exit code: SUCCESS means 0, ERROR some other code.
  const exitCode = typeof r.code === "number" ? r.code : r.state === "SUCCESS" ? 0 : -1;
  if (r.state === "TIMEOUT" || r.state === "KILLED") {
    return { exitCode, reason: `${r.state === "TIMEOUT" ? "timed out" : "was killed"} (state ${r.state})` };
  }
  if (r.state !== "SUCCESS" && r.state !== "ERROR")
    return { exitCode, reason: `core0 answered state ${r.state}: ${r.data}` };
  // v0.9.0 omits streams only when the process could not be spawned; data is Go's error text.
  if (r.state === "ERROR" && !Array.isArray(r.streams) && r.data)
    return {
      exitCode,
      reason: `could not start: ${r.data} (the container is chrooted in its plist: the program must be in it)`,
    };
  const exitOk = exitCode === -1 ? want !== 0 && r.state === "ERROR" : exitCode === want;
  if (!exitOk) {
    return { exitCode, reason: `exit code ${exitCode === -1 ? "non-zero" : exitCode}, expected ${want}` };
  }
  if (t.expectOutput !== undefined) {
    const { stdout, stderr } = streamsOf(r);
    // Trailing newlines dropped, so `^3$` matches a program that prints "3\n" (as the tree docs show).
    const output = [stdout, stderr]
      .map((s) => s.replace(/\n+$/, ""))
      .filter((s) => s !== "")
      .join("\n");
    if (!new RegExp(t.expectOutput).test(output)) {
      return { exitCode, reason: `output does not match /${t.expectOutput}/` };
    }
  }
  return { exitCode, reason: "" };
}

/** What every app of one run shares. */
export interface RunContext {
  /** Shown in errors. */
  label: string;
  /** Redacted from every recorded message (the node passwords that are set). */
  secrets: string[];
  /** Wait for a `corex.create` answer, ms. */
  createTimeoutMs: number;
  /** After a lost create answer: how long to look for its result again, ms. */
  lostAnswerWaitMs: number;
  /** Called as each app finishes. */
  onAppDone: (r: AppTestResult) => Promise<void>;
  /** Containers that could not be terminated. */
  leftovers: AppTestLeftover[];
}

/** Whether job `jobId` still runs in `container` (`process.state` there; coreX has the base builtins). */
export async function processRunning(
  client: Core0Client,
  container: number,
  jobId: string,
): Promise<boolean> {
  const r = await client.corex.dispatchAndWait(
    container,
    { command: "process.state", arguments: { id: jobId } },
    { timeoutMs: 15_000 },
  );
  if (r.state === "SUCCESS") return true;
  // base/builtin/get_process_stats.go: an unknown id is an error with this text.
  if (r.state === "ERROR" && /doesn't exist/.test(r.data ?? "")) return false;
  throw new OperationError(
    client.label,
    `process.state of job ${jobId} in container ${container}`,
    `answered state ${r.state}: ${r.data}`,
  );
}

const containerIds = (list: Record<string, unknown> | null): number[] =>
  Object.keys(list ?? {})
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);

/**
 * Creates the app's container; when the answer is lost, recovers it (see the module comment).
 * Returns the container id, or throws with what happened to the container (and terminates it when
 * it can be told apart).
 */
export async function createContainer(
  client: Core0Client,
  node: TestNode,
  app: AppUnderTest,
  ctx: RunContext,
): Promise<number> {
  const crypto = require("crypto") as typeof import("crypto");
  const jobId = crypto.randomUUID();
  let before: number[] | undefined;
  try {
    before = containerIds(await client.corex.list({ timeoutMs: 30_000 }));
  } catch {
    before = undefined; // the create below says whether the node is usable
  }
  try {
    return await client.corex.create({ root: plistUrlOn(app, node) }, [], {
      timeoutMs: ctx.createTimeoutMs,
      id: jobId,
    });
  } catch (err) {
    // The node answered (e.g. plist unreadable): no container was made.
    if (!(err instanceof Core0TimeoutError)) throw err;
    const lost = errorMessage(err);
    try {
      const r = await client.result(jobId, { timeoutMs: ctx.lostAnswerWaitMs, command: "corex.create" });
      return client.decode<number>(r);
    } catch (again) {
      if (again instanceof Core0JobError) throw again;
    }
    if (!before)
      throw new OperationError(
        client.label,
        "corex.create",
        `${lost}; corex.list failed before it too, so no container can be recovered`,
        "check the node with corex.list and terminate a container of this app by hand",
      );
    const after = containerIds(await client.corex.list({ timeoutMs: 30_000 }));
    const fresh = after.filter((id) => !before!.includes(id));
    if (fresh.length === 1) {
      await client.corex.terminate(fresh[0]);
      throw new OperationError(
        client.label,
        "corex.create",
        `${lost}; its result never came back; container ${fresh[0]}, the only one that appeared meanwhile, was terminated`,
      );
    }
    throw new OperationError(
      client.label,
      "corex.create",
      fresh.length === 0
        ? `${lost}; its result never came back and no new container appeared: nothing to clean up`
        : `${lost}; its result never came back and containers ${fresh.join(", ")} appeared meanwhile (others use this node too): none was terminated`,
      fresh.length === 0
        ? undefined
        : "terminate the one of this app by hand (corex.terminate) if it is among them",
    );
  }
}
