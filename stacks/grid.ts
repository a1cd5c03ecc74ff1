/**
 * The grid stack (REPO_G8OS_GRID_X): a G8OS management network, core0 nodes monitored over
 * redis, and apps installed as core0 containers. Its desired state is the grid file
 * (components/grid/spec.ts); config holds the file's path and the nodes' redis password.
 */
import * as path from "path";
import { G8osGrid, loadGridSpec, GridSpecError } from "../components/grid";
import { ConfigError, ConfigReader } from "./config-reader";
import type { StackSelection } from "./select";

/** Builds the grid for environment `sel.envNumber`. */
export function g8osGrid(sel: StackSelection) {
  const r = new ConfigReader();
  const file = r.string("gridFile", { default: `grid/grid-${sel.envNumber}.yaml` })!;
  const redisPassword = r.secret("gridRedisPassword", {
    required: true,
    what: "redis password of the grid's core0 nodes",
  });
  r.done();
  let spec;
  try {
    spec = loadGridSpec(path.resolve(file));
  } catch (err) {
    if (err instanceof GridSpecError) throw new ConfigError(err.problems);
    throw err;
  }
  const grid = new G8osGrid(`grid-${sel.envNumber}`, { spec, redisPassword });
  return {
    stackKind: "grid" as const,
    envNumber: sel.envNumber,
    managementNetwork: spec.network,
    nodes: Object.fromEntries(
      Object.entries(grid.nodes).map(([n, node]) => [
        n,
        { version: node.version, memoryBytes: node.memoryBytes, cpuCount: node.cpuCount },
      ]),
    ),
    apps: grid.apps,
  };
}
