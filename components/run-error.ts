/**
 * The project's failures as `pulumi.RunError`, which the CLI prints as its message alone (the
 * Node language host hides the stack of a RunError: @pulumi/pulumi cmd/run/run.ts, the
 * uncaughtException / unhandledRejection handler). A plain Error thrown there, or inside an
 * `.apply(...)` callback, which rejects an Output and surfaces as an unhandled rejection, is
 * printed as "unhandled exception" with a stack trace instead.
 */
import * as pulumi from "@pulumi/pulumi";

/** Error class names of the project's own failures: their message already says what to fix. */
const OWN_ERRORS = ["StackSelectionError", "GridSpecError", "BuildTreeError", "InputError", "OperationError"];

/**
 * `err` as a RunError: kept when it is one, else its name and message. An error that is not one of
 * the project's own (a bug) says so, and carries its stack only when G8OS_DEBUG is set.
 */
export function asRunError(err: unknown): pulumi.RunError {
  if (pulumi.RunError.isInstance(err)) return err;
  const e = err as { name?: unknown; message?: unknown; stack?: unknown } | undefined;
  const name = typeof e?.name === "string" ? e.name : "Error";
  const message = typeof e?.message === "string" ? e.message : String(err);
  if (OWN_ERRORS.includes(name)) return new pulumi.RunError(message);
  const stack = process.env.G8OS_DEBUG && typeof e?.stack === "string" ? `\n${e.stack}` : "";
  return new pulumi.RunError(
    `g8os program error (${name}): ${message}${stack}\n` +
      "  This is a bug in the program, not in your settings: please report it (G8OS_DEBUG=1 adds the stack).",
  );
}

/**
 * `callback` for `.apply(...)` with whatever it throws turned into a RunError (`asRunError`), so
 * a failure computed from resolved values reads like one found before any resource.
 */
export function applyOrRunError<T, U>(callback: (value: T) => U): (value: T) => U {
  return (value: T): U => {
    try {
      return callback(value);
    } catch (err) {
      throw asRunError(err);
    }
  };
}
