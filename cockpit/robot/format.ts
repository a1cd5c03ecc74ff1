/**
 * The robot's texts: plain text (no parse mode, so nothing needs escaping), short lines that read
 * well on a phone. Every text passes the cockpit's redaction before it is sent (see robot.ts).
 */
import type { StackRunStatus } from "../runs/status";
import type { EnvironmentStatus } from "../status/environment";
import type { RunRecord, RunStep } from "../runs/types";

/** Largest log tail `/log` sends (a Telegram message holds 4096 characters). */
export const LOG_TAIL_CHARS = 3500;

/** `+2 ~1 -0`-style change counts, or "no changes". */
export function changesText(changes: Record<string, number> | undefined): string {
  const parts = Object.entries(changes ?? {})
    .filter(([op, n]) => op !== "same" && n > 0)
    .map(([op, n]) => `${op} ${n}`);
  return parts.length ? parts.join(", ") : "no changes";
}

/** One line per run: id, kind, stack, state, who asked. */
export function runLine(r: RunRecord): string {
  return `${r.id} ${r.kind} ${r.stack}: ${r.state} (${r.requestedBy.user}, ${r.requestedBy.origin})`;
}

/** The `/status` text. */
export function statusText(stacks: StackRunStatus[]): string {
  if (stacks.length === 0) return "No stacks in the project.";
  return stacks
    .map((s) => {
      const cur = s.current ? `${s.current.kind} ${s.current.state} (${s.current.id})` : "idle";
      const last = s.lastRun
        ? `last ${s.lastRun.kind} ${s.lastRun.state} ${s.lastRun.finishedAt ?? ""}`.trim()
        : "no run yet";
      return `${s.name}: ${cur}; ${s.queued} queued; ${last}`;
    })
    .join("\n");
}

/** Steps that change something, one line each: op, URN's name, changed fields. */
export function stepLines(steps: RunStep[] | undefined, max = 20): string[] {
  const changing = (steps ?? []).filter((s) => s.op !== "same");
  const lines = changing.slice(0, max).map((s) => {
    const name = s.urn.split("::").pop() ?? s.urn;
    const fields = s.changedFields.length ? ` [${s.changedFields.join(", ")}]` : "";
    return `  ${s.op} ${s.type} ${name}${fields}${s.failed ? " FAILED" : ""}`;
  });
  if (changing.length > max) lines.push(`  ... and ${changing.length - max} more`);
  return lines;
}

/** A finished run, as posted to the group. */
export function resultText(r: RunRecord): string {
  const head = `${r.kind} of ${r.stack} ${r.state}: ${changesText(r.changes)} (run ${r.id}, asked by ${r.requestedBy.user})`;
  const lines = [head, ...stepLines(r.steps)];
  if (r.error) lines.push(`error: ${r.error.slice(0, 1500)}`);
  if (r.state !== "succeeded") lines.push(`log: /log ${r.id}`);
  return lines.join("\n");
}

/** An `up` whose preview is done, waiting for an operator. */
export function approvalText(r: RunRecord): string {
  return [
    `up of ${r.stack} waits for approval: ${changesText(r.changes)} (run ${r.id}, asked by ${r.requestedBy.user})`,
    ...stepLines(r.previewSteps),
    "An operator approves or cancels with the buttons below.",
  ].join("\n");
}

/** The end of a log, whole lines, at most `LOG_TAIL_CHARS`. */
export function logTail(text: string): string {
  if (text.length <= LOG_TAIL_CHARS) return text;
  const cut = text.slice(text.length - LOG_TAIL_CHARS);
  const nl = cut.indexOf("\n");
  return `...\n${nl >= 0 ? cut.slice(nl + 1) : cut}`;
}

/** `/nodes`: one line per machine. */
export function nodesText(env: EnvironmentStatus): string {
  const lines = env.nodes.map(
    (n) =>
      `${n.name} (${n.kind}, ${n.address}): ${n.state}${n.lastSeen ? `, last seen ${n.lastSeen}` : ""}${n.detail ? `; ${n.detail}` : ""}`,
  );
  return [
    ...(lines.length ? lines : ["No nodes in the state."]),
    ...env.problems.map((p) => `problem: ${p}`),
  ].join("\n");
}

/** `/apps`: the last build's apps and tests, and the templates. */
export function appsText(env: EnvironmentStatus): string {
  const b = env.build;
  if (!b) return `No build run in the state of ${env.stack}.`;
  return [
    `last build of ${env.stack}: run ${b.runId ?? "(not run by the cockpit)"}, state of ${b.at ?? "?"}`,
    ...b.apps.map((a) => `  ${a.name} ${a.buildId}: tests ${a.tests} (${a.node})`),
    ...b.templates.map((t) => `  templates ${t.branch}: ${t.rootCid} (commit ${t.commit})`),
  ].join("\n");
}

/** `/help`. */
export const HELP_TEXT = [
  "g8os cockpit robot",
  "/status - each stack: current run, queue, last run",
  "/runs - the last 10 runs",
  "/nodes - the machines: ZeroTier last seen, core0 ping",
  "/apps - the last build's apps, tests and templates",
  "/log <run> - the end of a run's log",
  "/preview <stack> - preview a stack (operators)",
  "/up <stack> - preview, then an operator approves the up (operators)",
  "/refresh <stack> - refresh a stack's state (operators)",
  "/drift <stack> - check a stack for drift now, changing nothing (operators)",
  "/cancel <run> - cancel a queued or started run (operators)",
  "/help - this text",
].join("\n");
