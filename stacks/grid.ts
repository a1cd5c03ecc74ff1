/**
 * The grid stack (REPO_G8OS_GRID_X): a G8OS management network, core0 nodes monitored over
 * redis, and apps installed as core0 containers. Stacks only compose.
 */
import type { StackSelection } from "./select";

export interface GridOutputs {
  stackKind: "grid";
  envNumber: number;
}

/** Builds the grid for environment `sel.envNumber`. */
export function g8osGrid(sel: StackSelection): GridOutputs {
  return { stackKind: "grid", envNumber: sel.envNumber };
}
