/**
 * Program entry: picks the stack's program from its name and runs it.
 */
import * as pulumi from "@pulumi/pulumi";
import { buildEnv } from "./build";
import { g8osGrid } from "./grid";
import { selectStack } from "./select";

export { selectStack, StackSelectionError } from "./select";

/** Runs the program for the current stack and returns its outputs. */
export function main(): ReturnType<typeof buildEnv> | ReturnType<typeof g8osGrid> {
  const config = new pulumi.Config("g8os");
  const sel = selectStack(pulumi.getStack(), config.get("envNumber"));
  return sel.kind === "build" ? buildEnv(sel) : g8osGrid(sel);
}
