/**
 * Program entry: picks the stack's program from its name and runs it.
 *
 * Every error the program throws while it composes the stack reaches the CLI as a
 * `pulumi.RunError`, which the CLI prints as its message alone: a user sees what to fix, never
 * "unhandled exception" and a stack trace.
 */
import * as pulumi from "@pulumi/pulumi";
import { asRunError } from "../components/run-error";
import { buildEnv } from "./build";
import { ConfigReader } from "./config-reader";
import { g8osGrid } from "./grid";
import { selectStack } from "./select";

export { selectStack, StackSelectionError } from "./select";
export { asRunError } from "../components/run-error";

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
