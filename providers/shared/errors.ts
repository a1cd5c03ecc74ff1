/**
 * Errors that tell a user running `pulumi up` which resource failed, which field is at fault
 * and what to do about it. Every provider throws these instead of bare `Error`s.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 */

/** A bad input, found at `check` time or when a remote system rejects a value. */
export class InputError extends Error {
  constructor(
    /** Resource kind and name, e.g. `ZerotierNetwork "build"`. */
    readonly resource: string,
    /** Input path, e.g. `ipAssignmentPools[0].start`. */
    readonly field: string,
    /** What is wrong with the value (never the value itself when it may be secret). */
    readonly problem: string,
    /** What the user should change. */
    readonly fix: string,
  ) {
    super(`${resource}: ${field}: ${problem}. Fix: ${fix}`);
    // A serialized provider runs this class as a function calling `Error.call(this, msg)`, which
    // sets no message (the engine then shows "undefined"): set it here as well.
    this.message = `${resource}: ${field}: ${problem}. Fix: ${fix}`;
    this.name = "InputError";
    // Serialized, it has no stack either: the dynamic-provider host logs `${e}: ${e.stack}`.
    if (!this.stack) this.stack = `${this.name}: ${this.message}`;
  }

  toString(): string {
    return `${this.name}: ${this.message}`;
  }
}

/** A remote operation failed: names the resource, the step and what to check. */
export class OperationError extends Error {
  constructor(
    readonly resource: string,
    readonly step: string,
    readonly detail: string,
    readonly hint?: string,
  ) {
    super(`${resource}: ${step} failed: ${detail}${hint ? `. Check: ${hint}` : ""}`);
    // See InputError: a serialized provider would otherwise throw an error without a message.
    this.message = `${resource}: ${step} failed: ${detail}${hint ? `. Check: ${hint}` : ""}`;
    this.name = "OperationError";
    if (!this.stack) this.stack = `${this.name}: ${this.message}`;
  }

  toString(): string {
    return `${this.name}: ${this.message}`;
  }
}

/** One `check` failure, in the shape the dynamic-provider contract returns. */
export interface CheckFailure {
  property: string;
  reason: string;
}

/** Formats a resource label the same way everywhere: `Kind "name"`. */
export function resourceLabel(kind: string, name: string): string {
  return `${kind} "${name}"`;
}

/** Returns `message` with every occurrence of each secret replaced by `[secret]`. */
export function redact(message: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = message;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join("[secret]");
  }
  return out;
}

/**
 * The message of anything thrown. Duck-typed on purpose: inside the dynamic-provider host, errors
 * from node_modules come from another realm than the serialized code's `Error`, so `instanceof Error`
 * is false for them (and the message would print as "[object Object]").
 */
export function errorMessage(err: unknown): string {
  if (err && typeof err === "object" && typeof (err as { message?: unknown }).message === "string") {
    return (err as { message: string }).message;
  }
  return String(err);
}
