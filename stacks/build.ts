/**
 * The build stack (REPO_BUILD_X): everything the seed's "bootstrap the build environment" and
 * "build runs" sections describe, composed from components. Stacks only compose.
 */
import type { StackSelection } from "./select";

export interface BuildEnvOutputs {
  stackKind: "build";
  envNumber: number;
}

/** Builds the build environment for environment `sel.envNumber`. */
export function buildEnv(sel: StackSelection): BuildEnvOutputs {
  return { stackKind: "build", envNumber: sel.envNumber };
}
