/**
 * The build stack (REPO_BUILD_X): everything the seed's "bootstrap the build environment" and
 * "build runs" sections describe, composed from components. Stacks only compose.
 */
import { readBuildConfig } from "./config";
import type { StackSelection } from "./select";

export interface BuildEnvOutputs {
  stackKind: "build";
  envNumber: number;
  buildHostName: string;
}

/** Builds the build environment for environment `sel.envNumber`. */
export function buildEnv(sel: StackSelection): BuildEnvOutputs {
  const cfg = readBuildConfig(sel.envNumber);
  return { stackKind: "build", envNumber: sel.envNumber, buildHostName: cfg.buildHost.name };
}
