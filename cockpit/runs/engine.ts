/**
 * The engine the run manager drives, as an interface: the production one is `AutomationEngine`
 * (Pulumi Automation API over the project directory); unit tests give a fake with the same shape.
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";

/** The operations the engine performs. `destroy` is always targeted (one URN); `drift` is `refresh --preview-only`. */
export type EngineOp = "preview" | "up" | "refresh" | "destroy" | "drift";

/** What a run hands the engine. */
export interface EngineRunOptions {
  /** Receives the CLI's output text as it comes (chunks, not necessarily whole lines). */
  onOutput: (text: string) => void;
  /** Receives each engine event (resource steps, summary, diagnostics). */
  onEvent: (event: EngineEvent) => void;
  /** Aborted when the run is cancelled: the engine stops the CLI (SIGINT) and rejects. */
  signal: AbortSignal;
  /** For `preview` and `up`: refresh first (`--refresh`). Default false. */
  refresh?: boolean;
  /** URNs to limit the operation to (`--target`); required for `destroy`, unset otherwise. */
  target?: string[];
}

/** What the engine reports at the end of an operation. */
export interface EngineResult {
  /** Operation -> count of resources (the engine's change summary); `{}` when it gave none. */
  changes: Record<string, number>;
}

/** One resource of a stack's state, without its inputs/outputs (those may hold secrets). */
export interface StateResource {
  /** The resource's URN. */
  urn: string;
  /** The type token. */
  type: string;
  /** The provider's id of the resource; empty for components. */
  id: string;
  /** The parent's URN; empty for the stack itself. */
  parent: string;
}

/** An engine that runs operations on the stacks of one project. */
export interface StackEngine {
  /** Runs `op` on `stack` to the end; rejects on failure or when `opts.signal` aborts. */
  run(stack: string, op: EngineOp, opts: EngineRunOptions): Promise<EngineResult>;
  /** The resources of the stack's current state. */
  resources(stack: string): Promise<StateResource[]>;
}
