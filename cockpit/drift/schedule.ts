/**
 * Drift detection: every `drift.intervalMinutes` the cockpit asks a `drift` run (a refresh in
 * preview mode: `pulumi refresh --preview-only`, reads every resource, keeps nothing) of each
 * stack, unless one is already waiting or running there. When one ends with resources that
 * differ from the state, the findings (resource, operation, fields) go to the listeners (the
 * robot posts them) and, with `autoRepair`, a repair is asked at once: an `up` with `refresh`
 * (`pulumi up --refresh`, which puts the real resources back to what the program says), origin
 * `schedule`, without approval. Without `autoRepair` the repair is an `up` someone approves.
 */
import { errorMessage } from "../../providers/shared/errors";
import type { RunManager } from "../runs/manager";
import type { RunRecord, RunRequester } from "../runs/types";

/** The `drift:` part of the cockpit config. */
export interface DriftSettings {
  /** Minutes between two checks of each stack (1-10080); required. */
  intervalMinutes: number;
  /** Only these stacks; default every stack of the project. */
  stacks?: string[];
  /** Repair found drift at once with an unapproved `up --refresh`. Default false: someone approves the repair. */
  autoRepair: boolean;
}

/** One resource that differs from the state. */
export interface DriftFinding {
  /** Its URN. */
  urn: string;
  /** Its type token. */
  type: string;
  /** `update` (properties differ) or `delete` (gone from the real world). */
  op: string;
  /** The properties that differ. */
  fields: string[];
}

/** A drift run that found something. */
export interface DriftReport {
  /** The drift run. */
  run: RunRecord;
  /** What differs. */
  findings: DriftFinding[];
  /** The repair run asked (autoRepair), if any. */
  repairRunId?: string;
}

/** The requester of scheduled runs. */
export const SCHEDULE: RunRequester = { user: "schedule", origin: "schedule", from: "" };

/** The resources a finished drift run found changed (steps other than `same`). */
export function driftFindings(run: RunRecord): DriftFinding[] {
  return run.steps
    .filter((s) => s.op !== "same" && s.type !== "pulumi:pulumi:Stack")
    .map((s) => ({ urn: s.urn, type: s.type, op: s.op, fields: [...s.changedFields] }));
}

export class DriftSchedule {
  private timer?: ReturnType<typeof setInterval>;
  private readonly listeners: Array<(r: DriftReport) => void> = [];
  private readonly onChange = (r: RunRecord) => this.changed(r);

  constructor(
    /** The schedule; undefined: no timer, but drift runs asked by hand are still reported. */
    private readonly s: DriftSettings | undefined,
    private readonly manager: RunManager,
    private readonly stacks: () => string[],
    private readonly log: (line: string) => void,
  ) {}

  /** Starts the timer and listens for drift runs ending (whoever asked them). */
  start(): void {
    this.manager.on("change", this.onChange);
    if (!this.s) return;
    this.timer = setInterval(() => this.check(), this.s.intervalMinutes * 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.manager.off("change", this.onChange);
  }

  /** Calls `l` for every drift run that found something. */
  onDrift(l: (r: DriftReport) => void): void {
    this.listeners.push(l);
  }

  /** Asks a drift run of each scheduled stack now; returns the run ids asked (stacks already checking are skipped). */
  check(): string[] {
    const ids: string[] = [];
    const project = this.stacks();
    for (const stack of this.s?.stacks ?? project) {
      if (!project.includes(stack)) {
        this.log(`drift: stack "${stack}" of drift.stacks is not in the project; skipped`);
        continue;
      }
      const pending = [this.manager.current(stack), ...this.manager.queued(stack)]
        .filter((id): id is string => !!id)
        .some((id) => this.manager.get(id).kind === "drift");
      if (pending) continue;
      try {
        ids.push(this.manager.create({ stack, kind: "drift" }, SCHEDULE).run.id);
      } catch (err) {
        this.log(`drift: cannot check ${stack}: ${errorMessage(err)}`);
      }
    }
    return ids;
  }

  private changed(run: RunRecord): void {
    if (run.kind !== "drift" || run.state !== "succeeded") return;
    const findings = driftFindings(run);
    if (findings.length === 0) return;
    const report: DriftReport = { run, findings };
    if (this.s?.autoRepair) {
      try {
        report.repairRunId = this.manager.create(
          { stack: run.stack, kind: "up", refresh: true },
          SCHEDULE,
        ).run.id;
      } catch (err) {
        this.log(`drift: repair of ${run.stack} not asked: ${errorMessage(err)}`);
      }
    }
    this.log(`drift: ${run.stack}: ${findings.length} resource(s) differ from the state (run ${run.id})`);
    for (const l of this.listeners) l(report);
  }
}
