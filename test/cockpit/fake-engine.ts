/**
 * Test code: a `StackEngine` whose operations the test drives: each call becomes a job the test
 * finishes (or that finishes by itself after `autoMs`), emitting output and engine events the way
 * the Automation API hands them over. It records start order and the highest number of
 * operations running at once per stack.
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";
import type {
  EngineOp,
  EngineResult,
  EngineRunOptions,
  StackEngine,
  StateResource,
} from "../../cockpit/runs/engine";

export interface Job {
  stack: string;
  op: EngineOp;
  target?: string[];
  opts: EngineRunOptions;
  /** Ends the job; `quiet` leaves out its resource step (nothing changed). */
  finish(changes?: Record<string, number>, quiet?: boolean): void;
  fail(message: string): void;
}

export class FakeEngine implements StackEngine {
  readonly jobs: Job[] = [];
  readonly running = new Map<string, number>();
  maxConcurrent = 0;
  private waiters: Array<() => void> = [];

  /** When true, jobs ignore the abort signal (a CLI that finished before the SIGINT reached it). */
  ignoreAbort = false;
  /** When set, each job finishes by itself after this many ms. */
  constructor(public autoMs?: number) {}

  /** Resolves when at least `n` jobs were started. */
  async started(n: number, timeoutMs = 10000): Promise<Job> {
    const deadline = Date.now() + timeoutMs;
    while (this.jobs.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.jobs.length} of ${n} engine jobs started`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.jobs[n - 1];
  }

  run(stack: string, op: EngineOp, opts: EngineRunOptions): Promise<EngineResult> {
    const now = (this.running.get(stack) ?? 0) + 1;
    this.running.set(stack, now);
    this.maxConcurrent = Math.max(this.maxConcurrent, now);
    return new Promise<EngineResult>((resolve, reject) => {
      let over = false;
      const end = () => {
        over = true;
        this.running.set(stack, (this.running.get(stack) ?? 1) - 1);
      };
      const urn = `urn:pulumi:${stack}::g8os::test:index:Thing::a`;
      const ev = (e: Partial<EngineEvent>) =>
        opts.onEvent({ sequence: 0, timestamp: 0, ...e } as EngineEvent);
      const job: Job = {
        stack,
        op,
        ...(opts.target ? { target: opts.target } : {}),
        opts,
        finish: (changes = { update: 1 }, quiet = false) => {
          if (over) return;
          ev({
            resOutputsEvent: {
              metadata: {
                op: quiet ? "same" : "update",
                urn,
                type: "test:index:Thing",
                provider: "",
                diffs: quiet ? [] : ["size"],
              },
            },
          });
          ev({
            summaryEvent: {
              maybeCorrupt: false,
              durationSeconds: 1,
              resourceChanges: changes,
              policyPacks: {},
            },
          });
          opts.onOutput(`${op} done\n`);
          end();
          resolve({ changes });
        },
        fail: (message) => {
          if (over) return;
          end();
          reject(new Error(message));
        },
      };
      opts.signal.addEventListener("abort", () => {
        if (over || this.ignoreAbort) return;
        opts.onOutput("^C received, stopping\n");
        end();
        reject(new Error("stopped by SIGINT"));
      });
      opts.onOutput(`${op} of ${stack} started\n`);
      ev({
        resourcePreEvent: {
          metadata: { op: "update", urn, type: "test:index:Thing", provider: "", diffs: ["size"] },
        },
      });
      this.jobs.push(job);
      this.waiters.splice(0).forEach((w) => w());
      if (this.autoMs !== undefined) setTimeout(() => job.finish(), this.autoMs);
    });
  }

  async resources(stack: string): Promise<StateResource[]> {
    return [
      {
        urn: `urn:pulumi:${stack}::g8os::pulumi:pulumi:Stack::g8os-${stack}`,
        type: "pulumi:pulumi:Stack",
        id: "",
        parent: "",
      },
    ];
  }
}
