/**
 * The run manager: one run at a time per stack, the others queued in order; approval of `up`s
 * asked from the page or the robot; cancel; the history kept on disk and restored on start.
 *
 * Every change of a run is saved (history) and emitted as `"change"` (the robot and tests listen).
 */
import { EventEmitter } from "events";
import * as crypto from "crypto";
import { errorMessage } from "../../providers/shared/errors";
import { RequestError } from "../errors";
import type { EngineOp, StackEngine } from "./engine";
import type { RunHistory } from "./history";
import type { RunLogs } from "./log";
import type { RunRequestBody } from "./request";
import { applyEvent } from "./steps";
import { FINAL_STATES, type RunRecord, type RunRequester, type RunState, type RunStep } from "./types";

/** What the manager is built from. */
export interface RunManagerOptions {
  /** Runs the operations. */
  engine: StackEngine;
  /** Where runs are kept across restarts. */
  history: RunHistory;
  /** Where each run's log goes. */
  logs: RunLogs;
  /** The stack names that may be run (read each time, so a re-synced project is seen). */
  stacks: () => string[];
  /** Removes secrets from error messages before they are stored. */
  redact: (text: string) => string;
}

/** A created run and its place in its stack's queue (1 = next; 0 = started at once). */
export interface CreatedRun {
  /** The run as recorded. */
  run: RunRecord;
  /** Position in the stack's queue: 0 when it started at once, else how many runs are ahead plus one. */
  position: number;
}

/** Filters for `list`. */
export interface RunFilter {
  /** Only runs of this stack. */
  stack?: string;
  /** Only runs in this state. */
  state?: RunState;
  /** At most this many, newest first. Default 50. */
  limit?: number;
}

interface Active {
  id: string;
  controller: AbortController;
  approve?: () => void;
  done: Promise<void>;
}

/** The longest error text kept on a run (the full text is in its log). */
const MAX_ERROR_CHARS = 4000;

export class RunManager extends EventEmitter {
  private readonly runs: RunRecord[];
  private readonly queues = new Map<string, string[]>();
  private readonly active = new Map<string, Active>();
  private started = false;

  constructor(private readonly o: RunManagerOptions) {
    super();
    this.runs = o.history.load();
    const now = new Date().toISOString();
    for (const r of this.runs) {
      if (r.state === "queued") {
        // Never lost: a run still waiting when the cockpit stopped waits again, in the same order.
        this.queue(r.stack).push(r.id);
      } else if (!FINAL_STATES.includes(r.state)) {
        r.error = `interrupted: the cockpit stopped while this run was ${r.state}; check the stack (refresh) and ask again`;
        r.state = "failed";
        r.finishedAt = now;
        this.o.logs.append(r.id, `\n--- ${r.error}\n`);
      }
    }
    this.o.history.save(this.runs);
  }

  /** Starts the queues restored from the history (call once the listeners are attached). */
  start(): void {
    this.started = true;
    for (const stack of this.queues.keys()) this.pump(stack);
  }

  /** Asks for a run; it starts at once when its stack is idle, else waits its turn. */
  create(req: RunRequestBody, requestedBy: RunRequester): CreatedRun {
    if (!this.o.stacks().includes(req.stack)) {
      throw new RequestError(
        404,
        "run request",
        "stack",
        `stack "${req.stack}" is not a stack of the project`,
        "use a name from GET /api/stacks",
      );
    }
    // An `up` from the page or the robot is applied only after an operator saw its preview.
    const approval =
      req.kind === "up" &&
      (req.approval === true || requestedBy.origin === "page" || requestedBy.origin === "robot");
    const run: RunRecord = {
      id: `r-${Date.now().toString(36)}-${crypto.randomBytes(4).toString("hex")}`,
      stack: req.stack,
      kind: req.kind,
      ...(req.target ? { target: req.target } : {}),
      ...(req.refresh ? { refresh: true } : {}),
      approval,
      state: "queued",
      requestedBy: { ...requestedBy },
      createdAt: new Date().toISOString(),
      steps: [],
    };
    this.runs.push(run);
    this.queue(run.stack).push(run.id);
    this.changed(run);
    this.o.logs.append(
      run.id,
      `--- ${run.kind} of ${run.stack} asked by ${requestedBy.user} (${requestedBy.origin})\n`,
    );
    if (this.started) this.pump(run.stack);
    return { run, position: this.position(run.id) };
  }

  /** The run `id`; 404 when unknown. */
  get(id: string): RunRecord {
    const r = this.runs.find((x) => x.id === id);
    if (!r) throw new RequestError(404, "run", "id", `no run "${id}"`, "use an id from GET /api/runs");
    return r;
  }

  /** Runs matching `f`, newest first. */
  list(f: RunFilter = {}): RunRecord[] {
    const limit = f.limit ?? 50;
    const out: RunRecord[] = [];
    for (let i = this.runs.length - 1; i >= 0 && out.length < limit; i--) {
      const r = this.runs[i];
      if (f.stack && r.stack !== f.stack) continue;
      if (f.state && r.state !== f.state) continue;
      out.push(r);
    }
    return out;
  }

  /** The queue position of a queued run (1 = next), 0 for any other. */
  position(id: string): number {
    const r = this.get(id);
    const i = (this.queues.get(r.stack) ?? []).indexOf(id);
    return i < 0 ? 0 : i + 1;
  }

  /** Queued run ids of `stack`, in order. */
  queued(stack: string): string[] {
    return [...(this.queues.get(stack) ?? [])];
  }

  /** The id of the run holding `stack` now (running, previewing or awaiting approval), if any. */
  current(stack: string): string | undefined {
    return this.active.get(stack)?.id;
  }

  /** Approves an `up` waiting for approval; 409 in any other state. */
  approve(id: string, user: string): RunRecord {
    const r = this.get(id);
    const act = this.active.get(r.stack);
    if (r.state !== "awaiting-approval" || !act || act.id !== id || !act.approve) {
      throw new RequestError(
        409,
        `run "${id}"`,
        "state",
        `is ${r.state}, not awaiting-approval`,
        "approve only a run whose preview is done and waits (GET /api/runs/{id})",
      );
    }
    r.approvedBy = user;
    this.o.logs.append(id, `--- approved by ${user}\n`);
    act.approve();
    return r;
  }

  /** Cancels a run: a queued one leaves the queue, a started one is stopped (SIGINT to the CLI). */
  cancel(id: string, user: string): RunRecord {
    const r = this.get(id);
    if (FINAL_STATES.includes(r.state)) {
      throw new RequestError(409, `run "${id}"`, "state", `is already ${r.state}`, "nothing to cancel");
    }
    r.cancelledBy = user;
    const q = this.queues.get(r.stack) ?? [];
    const i = q.indexOf(id);
    if (i >= 0) {
      q.splice(i, 1);
      this.finish(r, "cancelled", `cancelled by ${user} while queued`);
      return r;
    }
    this.o.logs.append(id, `--- cancel asked by ${user}\n`);
    this.active.get(r.stack)?.controller.abort();
    return r;
  }

  /** Resolves once no run is active or queued (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const acts = [...this.active.values()];
      if (acts.length === 0) return;
      await Promise.all(acts.map((a) => a.done));
    }
  }

  /** Stops every started run (recorded as cancelled by `reason`) and waits for them; queued runs stay queued. */
  async shutdown(reason: string): Promise<void> {
    this.started = false;
    const acts = [...this.active.values()];
    for (const a of acts) {
      const r = this.get(a.id);
      r.cancelledBy = reason;
      a.controller.abort();
    }
    await Promise.all(acts.map((a) => a.done));
  }

  private queue(stack: string): string[] {
    let q = this.queues.get(stack);
    if (!q) {
      q = [];
      this.queues.set(stack, q);
    }
    return q;
  }

  private pump(stack: string): void {
    if (!this.started || this.active.has(stack)) return;
    const id = this.queue(stack).shift();
    if (!id) return;
    const run = this.get(id);
    const act: Active = { id, controller: new AbortController(), done: Promise.resolve() };
    this.active.set(stack, act);
    act.done = this.execute(run, act).finally(() => {
      this.active.delete(stack);
      this.pump(stack);
    });
  }

  private async execute(run: RunRecord, act: Active): Promise<void> {
    run.startedAt = new Date().toISOString();
    const signal = act.controller.signal;
    try {
      if (run.approval) {
        const previewSteps: RunStep[] = [];
        run.previewSteps = previewSteps;
        this.setState(run, "previewing");
        const p = await this.engineRun(run, "preview", previewSteps, signal);
        run.changes = p;
        this.setState(run, "awaiting-approval");
        this.o.logs.append(run.id, `--- preview done; waiting for an operator's approval\n`);
        await new Promise<void>((resolve, reject) => {
          if (signal.aborted) return reject(new Error("aborted"));
          act.approve = resolve;
          signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
        });
        act.approve = undefined;
      }
      this.setState(run, "running");
      run.changes = await this.engineRun(run, run.kind, run.steps, signal);
      // A cancel that reached the CLI after its last step: the run did complete, so say so.
      if (signal.aborted) this.o.logs.append(run.id, "--- the cancel came after the engine had finished\n");
      this.finish(run, "succeeded");
    } catch (err) {
      if (signal.aborted) this.finish(run, "cancelled", `cancelled by ${run.cancelledBy ?? "request"}`);
      else this.finish(run, "failed", errorMessage(err));
    }
  }

  private async engineRun(
    run: RunRecord,
    op: EngineOp,
    steps: RunStep[],
    signal: AbortSignal,
  ): Promise<Record<string, number>> {
    this.o.logs.append(
      run.id,
      `--- pulumi ${op === "drift" ? "refresh --preview-only" : op} ${run.stack}${run.refresh ? " --refresh" : ""}${run.target ? ` --target ${run.target}` : ""}\n`,
    );
    let summary: Record<string, number> | undefined;
    const result = await this.o.engine.run(run.stack, op, {
      onOutput: (text) => this.o.logs.append(run.id, text),
      onEvent: (e) => {
        summary = applyEvent(steps, e) ?? summary;
      },
      signal,
      ...(run.refresh ? { refresh: true } : {}),
      ...(run.target ? { target: [run.target] } : {}),
    });
    return Object.keys(result.changes).length > 0 ? result.changes : (summary ?? {});
  }

  private setState(run: RunRecord, state: RunState): void {
    run.state = state;
    this.o.logs.append(run.id, `--- ${state}\n`);
    this.changed(run);
  }

  private finish(run: RunRecord, state: RunState, error?: string): void {
    run.state = state;
    run.finishedAt = new Date().toISOString();
    if (error) {
      const e = this.o.redact(error);
      run.error =
        e.length > MAX_ERROR_CHARS ? `${e.slice(0, MAX_ERROR_CHARS)}... (full text in the run's log)` : e;
      this.o.logs.append(run.id, `\n--- ${state}: ${e}\n`);
    } else {
      this.o.logs.append(run.id, `--- ${state}\n`);
    }
    this.changed(run);
    this.o.logs.end(run.id);
  }

  private changed(run: RunRecord): void {
    this.o.history.save(this.runs);
    this.emit("change", run);
  }
}
