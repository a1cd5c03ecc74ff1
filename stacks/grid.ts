/**
 * The grid stack (REPO_G8OS_GRID_X): a G8OS management network, core0 nodes monitored over
 * redis, and apps installed as core0 containers. Its desired state is the grid file
 * (components/grid/spec.ts); config holds the file's path and the nodes' redis password.
 */
import { G8osGrid, loadGridSpec, GridSpecError, type GridSpec } from "../components/grid";
import { ConfigError, ConfigReader } from "./config-reader";
import type { StackSelection } from "./select";

/** Builds the grid for environment `sel.envNumber`. */
export function g8osGrid(sel: StackSelection) {
  const r = new ConfigReader();
  r.checkUnknownKeys();
  const file = r.string("gridFile", {
    example: `grid/grid-${sel.envNumber}.yaml`,
    default: `grid/grid-${sel.envNumber}.yaml`,
  })!;
  const redisPassword = r.secret("gridRedisPassword", {
    required: true,
    what: "redis password of the grid's core0 nodes",
  });
  const telegramBotToken = r.secret("telegramBotToken", {
    what: "Telegram bot token for the grid's alerts (the chat is the grid file's alerts.telegramChatId)",
  });
  const telegramApiRoot = r.string("telegramApiRoot", {
    example: "https://api.telegram.org",
    default: "https://api.telegram.org",
  })!;
  // The grid file's problems join the config's: one report for both.
  let spec: GridSpec | undefined;
  try {
    // Relative to the project (the CLI runs the program there); messages show the path as set.
    spec = loadGridSpec(file);
  } catch (err) {
    if (err instanceof GridSpecError) r.addLines(err.problems);
    else throw err;
  }
  r.done();
  if (!spec) throw new ConfigError(["grid file: not loaded"]);
  const grid = new G8osGrid(`grid-${sel.envNumber}`, {
    spec,
    redisPassword,
    telegramBotToken,
    telegramApiRoot,
  });
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
    /** App -> {node, reason}: where each app goes and why (known at preview). */
    placement: grid.placement.assignments,
    /** Nodes that did not answer the failover ping at this up -> why. */
    unreachable: grid.placement.unreachable,
    /** Containers left on nodes that did not answer, terminated once they do. */
    orphans: grid.janitor.orphans,
    /** `<node>.<redis|cpu|memory|disk>` -> {state, value, detail}, as of the last monitoring pass. */
    health: grid.monitor.checks,
    /** Per node: reachable, CPU and memory load, per-container CPU/RSS. */
    monitoring: grid.monitor.reports,
    /** Per app: its services (running, restarts), CPU, RSS, over memory, what refresh did. */
    appStatus: Object.fromEntries(
      Object.entries(grid.containers).map(([a, c]) => [
        a,
        {
          processes: c.processes,
          cpuPercent: c.cpuPercent,
          rssBytes: c.rssBytes,
          overMemory: c.overMemory,
          events: c.events,
        },
      ]),
    ),
  };
}
