/**
 * The shapes of a cockpit run: what was asked, by whom, from where, and what the engine did.
 * Plain data (JSON in the history file and in REST responses): no secrets are ever stored here.
 */

/**
 * What a run does to its stack. `destroy` always targets exactly one resource URN (VM recycling);
 * `drift` is a refresh in preview mode (`pulumi refresh --preview-only`): it reads every resource
 * and reports what differs from the state, changing nothing.
 */
export type RunKind = "preview" | "up" | "refresh" | "destroy" | "drift";

/** Where a run was asked from. `page` and `robot` runs of kind `up` always wait for an approval. */
export type RunOrigin = "rest" | "page" | "robot" | "schedule";

/**
 * Life of a run. `queued` -> (`previewing` -> `awaiting-approval` ->) `running` -> `succeeded` |
 * `failed`; `cancelled` from any state before the end.
 */
export type RunState =
  "queued" | "previewing" | "awaiting-approval" | "running" | "succeeded" | "failed" | "cancelled";

/** The states a run never leaves. */
export const FINAL_STATES: readonly RunState[] = ["succeeded", "failed", "cancelled"];

/** One resource step reported by the engine (from its `resourcePreEvent`/`resOutputsEvent`). */
export interface RunStep {
  /** The resource's URN. */
  urn: string;
  /** The resource type token, e.g. `pulumi-nodejs:dynamic:Resource`. */
  type: string;
  /** The engine's operation: `same`, `create`, `update`, `delete`, `replace`, `refresh`, ... */
  op: string;
  /** Top-level input or output names that changed (the engine's `diffs`); empty when none. */
  changedFields: string[];
  /** `true` once the engine reported the step done (`resOutputsEvent`), `false` while planned/in flight. */
  done: boolean;
  /** `true` when the step failed (`resOpFailedEvent`). */
  failed: boolean;
}

/** Who asked for a run. */
export interface RunRequester {
  /** The user name (JWT `sub`/`username`/`preferred_username`) or `token:<id>` for an API token. */
  user: string;
  /** Where the request came from. */
  origin: RunOrigin;
  /** The client address as the cockpit saw it (REST), or a channel id (robot); empty for a schedule. */
  from: string;
}

/** A run as kept in the history and returned by the REST API. */
export interface RunRecord {
  /** Unique id (`r-<time>-<random>`), also the log file's name. */
  id: string;
  /** The stack name (a `Pulumi.<stack>.yaml` in the project directory). */
  stack: string;
  /** What the run does. */
  kind: RunKind;
  /** For `destroy`: the one URN it removes (required); unset otherwise. */
  target?: string;
  /** For `up`: refresh first (`--refresh`), so drift is put back to what the program says (a repair). */
  refresh?: boolean;
  /** Whether an `up` first previews and waits for an operator (always for origins `page`/`robot`). */
  approval: boolean;
  /** Current state. */
  state: RunState;
  /** Who asked, from where. */
  requestedBy: RunRequester;
  /** The operator who approved an `up` (unset until approved). */
  approvedBy?: string;
  /** Who cancelled the run (unset unless cancelled by a user). */
  cancelledBy?: string;
  /** ISO time the run was asked for. */
  createdAt: string;
  /** ISO time the engine started (preview for approval runs), unset while queued. */
  startedAt?: string;
  /** ISO time the run reached a final state. */
  finishedAt?: string;
  /** The steps the engine reported, in the order first seen (of the apply phase for approval runs). */
  steps: RunStep[];
  /** The preview's steps of an approval run (what the operator approves). */
  previewSteps?: RunStep[];
  /** The engine's change summary (`op` -> count) of the last phase. */
  changes?: Record<string, number>;
  /** Why the run failed or was cancelled, redacted; unset on success. */
  error?: string;
}
