/**
 * Reads a run request (the REST body, or what the robot builds) into a typed one, refusing the
 * first bad field with a 400 that names it and the fix.
 */
import { RequestError } from "../errors";
import type { RunKind } from "./types";

/** The run kinds a request may ask for. */
export const RUN_KINDS: readonly RunKind[] = ["preview", "up", "refresh", "destroy", "drift"];

/** A run request's fields, as checked by `parseRunRequest`. */
export interface RunRequestBody {
  /** The stack to run on; required. */
  stack: string;
  /** What to do; required, one of `RUN_KINDS`. */
  kind: RunKind;
  /** For `destroy` only, and required there: the URN of the one resource to remove. */
  target?: string;
  /** For `up` only: refresh first, which repairs drift (`pulumi up --refresh`; its approval preview is `preview --refresh`). Default false. */
  refresh?: boolean;
  /** For `up` only: preview first and wait for an operator's approval. Default false (true from the page/robot). */
  approval?: boolean;
}

const FIELDS = ["stack", "kind", "target", "approval", "refresh"];

/** Checks `body` field by field; throws a 400 `RequestError` naming the first bad one. */
export function parseRunRequest(body: unknown): RunRequestBody {
  const bad = (field: string, problem: string, fix: string) =>
    new RequestError(400, "run request", field, problem, fix);
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw bad(
      "body",
      "is not a JSON object",
      'send {"stack": "<name>", "kind": "preview|up|refresh|destroy|drift"}',
    );
  }
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!FIELDS.includes(k))
      throw bad(k, "is not a run request field", `remove it; the fields are ${FIELDS.join(", ")}`);
  }
  if (typeof b.stack !== "string" || !/^[A-Za-z0-9_.-]{1,100}$/.test(b.stack)) {
    throw bad(
      "stack",
      "is missing or not a stack name",
      "give the name of a stack of the project (GET /api/stacks)",
    );
  }
  if (typeof b.kind !== "string" || !RUN_KINDS.includes(b.kind as RunKind)) {
    throw bad("kind", "is missing or unknown", `use one of ${RUN_KINDS.join(", ")}`);
  }
  const kind = b.kind as RunKind;
  if (b.target !== undefined) {
    if (kind !== "destroy")
      throw bad("target", `is only taken by kind destroy, not ${kind}`, "remove target");
    if (typeof b.target !== "string" || !b.target.startsWith(`urn:pulumi:${b.stack}::`)) {
      throw bad(
        "target",
        `is not a URN of stack "${b.stack}"`,
        `give one URN starting with urn:pulumi:${b.stack}:: (GET /api/stacks/${b.stack}/resources)`,
      );
    }
  } else if (kind === "destroy") {
    throw bad(
      "target",
      "is required for kind destroy",
      "give the URN of the one VM to recycle; whole-stack destroy is not offered",
    );
  }
  if (b.approval !== undefined) {
    if (typeof b.approval !== "boolean") throw bad("approval", "is not a boolean", "send true or false");
    if (b.approval && kind !== "up")
      throw bad("approval", `only applies to kind up, not ${kind}`, "remove approval");
  }
  if (b.refresh !== undefined) {
    if (typeof b.refresh !== "boolean") throw bad("refresh", "is not a boolean", "send true or false");
    if (b.refresh && kind !== "up")
      throw bad("refresh", `only applies to kind up, not ${kind}`, "remove refresh (kind refresh refreshes)");
  }
  return {
    stack: b.stack,
    kind,
    ...(b.refresh === true ? { refresh: true } : {}),
    ...(typeof b.target === "string" ? { target: b.target } : {}),
    ...(typeof b.approval === "boolean" ? { approval: b.approval } : {}),
  };
}
