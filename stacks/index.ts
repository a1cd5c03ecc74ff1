/**
 * Program entry: picks the stack's program from its name and runs it.
 *
 * Every error the program throws while it composes the stack reaches the CLI as a
 * `pulumi.RunError`, which the CLI prints as its message alone: a user sees what to fix, never
 * "unhandled exception" and a stack trace.
 */
import * as pulumi from "@pulumi/pulumi";
import { buildEnv } from "./build";
import { ConfigReader } from "./config-reader";
import { g8osGrid } from "./grid";
import { selectStack } from "./select";

export { selectStack, StackSelectionError } from "./select";

/**
 * `err` as a RunError: kept when it is one, else its name and message. An error that is not one of
 * the project's own (a bug) says so, and carries its stack only when G8OS_DEBUG is set.
 */
export function asRunError(err: unknown): pulumi.RunError {
  if (pulumi.RunError.isInstance(err)) return err;
  const e = err as { name?: unknown; message?: unknown; stack?: unknown } | undefined;
  const name = typeof e?.name === "string" ? e.name : "Error";
  const message = typeof e?.message === "string" ? e.message : String(err);
  const own = ["StackSelectionError", "GridSpecError", "BuildTreeError", "InputError", "OperationError"];
  if (own.includes(name)) return new pulumi.RunError(message);
  const stack = process.env.G8OS_DEBUG && typeof e?.stack === "string" ? `\n${e.stack}` : "";
  return new pulumi.RunError(
    `g8os program error (${name}): ${message}${stack}\n` +
      "  This is a bug in the program, not in your settings: please report it (G8OS_DEBUG=1 adds the stack).",
  );
}

/** Runs the program for the current stack and returns its outputs. */
export function main(): ReturnType<typeof buildEnv> | ReturnType<typeof g8osGrid> {
  try {
    const r = new ConfigReader();
    const env = r.string("envNumber", { example: "1" });
    r.done();
    const sel = selectStack(pulumi.getStack(), env);
    return sel.kind === "build" ? buildEnv(sel) : g8osGrid(sel);
  } catch (err) {
    throw asRunError(err);
  }
}
