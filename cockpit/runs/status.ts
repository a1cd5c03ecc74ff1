/**
 * Each stack's run status from the cockpit's own records (current run, queue length, last finished
 * run): what `GET /api/status`, the robot's `/status` and the page show.
 */
import type { RunManager } from "./manager";
import { FINAL_STATES, type RunKind, type RunState } from "./types";

/** One stack's runs at a glance. */
export interface StackRunStatus {
  /** The stack name. */
  name: string;
  /** The run holding the stack now, or null. */
  current: { id: string; kind: RunKind; state: RunState } | null;
  /** How many runs wait behind it. */
  queued: number;
  /** The newest finished run, or null. */
  lastRun: { id: string; kind: RunKind; state: RunState; finishedAt: string | null } | null;
}

/** The status of every stack in `stacks`. */
export function stackRunStatus(manager: RunManager, stacks: string[]): StackRunStatus[] {
  return stacks.map((name) => {
    const cur = manager.current(name);
    const last = manager.list({ stack: name, limit: 500 }).find((r) => FINAL_STATES.includes(r.state));
    const current = cur ? manager.get(cur) : undefined;
    return {
      name,
      current: current ? { id: current.id, kind: current.kind, state: current.state } : null,
      queued: manager.queued(name).length,
      lastRun: last
        ? { id: last.id, kind: last.kind, state: last.state, finishedAt: last.finishedAt ?? null }
        : null,
    };
  });
}
