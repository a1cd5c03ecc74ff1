/**
 * GridPlacement: the grid's placement as a resource, so that it can see the placement of the
 * previous `up` and what the nodes report, and still be known at preview.
 *
 * Why a resource and not a program-time computation: the program cannot read the node (no client
 * calls at program time) nor the stack's previous state. A dynamic provider's check gets both: its
 * old inputs hold the previous placement, and its new inputs the Core0Node outputs (memory, CPUs)
 * once the node has answered. check runs the scheduler (placement.ts) and returns the placement in
 * the checked inputs, which are what preview shows (the engine previews a create or update with
 * the checked inputs as outputs). An app that fits nowhere is a check failure: the preview fails
 * with one message per such app. At the preview of a new stack the nodes have not answered (their
 * outputs are unknown): the grid file's memoryMb/cpu are used, or no limit when the file has none,
 * and each container's create then checks the node's available memory and CPUs (Core0Container).
 */
import * as pulumi from "@pulumi/pulumi";
import { containsUnknown, jsonEqual } from "../../providers/shared/dynamic";
import {
  type Assignment,
  type PlacementApp,
  type PlacementNode,
  PlacementError,
  placeApps,
} from "./placement";

/** One node as placement sees it. */
export interface PlacementNodeInput {
  /** Node name. */
  name: string;
  /** The grid file's cap, MiB (nodes[].memoryMb). Unset = what the node reports. */
  memoryMb?: number;
  /** The grid file's cap, CPUs (nodes[].cpu). Unset = what the node reports. */
  cpu?: number;
  /** Labels (nodes[].labels). */
  labels: string[];
  /** What the node reported (Core0Node memoryBytes); unknown until it answered. */
  reportedMemoryBytes?: number;
  /** What the node reported (Core0Node cpuCount); unknown until it answered. */
  reportedCpu?: number;
  /** False when the node did not answer at this `up` (see failover). Default true. */
  reachable?: boolean;
}

interface Inputs {
  nodes: PlacementNodeInput[];
  apps: PlacementApp[];
  /** Computed by check: app -> node and why. */
  assignments?: Record<string, Assignment>;
  /** Computed by check: node -> capacity left. */
  free?: Record<string, { memoryMb?: number; cpu?: number }>;
}

/** The capacity placement counts with: reported, capped by the file; the file's alone before the node answered. */
function capacity(n: PlacementNodeInput): PlacementNode {
  const known = (v: unknown): v is number => typeof v === "number" && !containsUnknown(v);
  const repMem = known(n.reportedMemoryBytes) ? Math.floor(n.reportedMemoryBytes / 1024 / 1024) : undefined;
  const repCpu = known(n.reportedCpu) ? n.reportedCpu : undefined;
  const min = (a?: number, b?: number) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
  const reported = repMem !== undefined || repCpu !== undefined;
  const filed = n.memoryMb !== undefined || n.cpu !== undefined;
  return {
    name: n.name,
    memoryMb: min(repMem, n.memoryMb),
    cpu: min(repCpu, n.cpu),
    labels: n.labels ?? [],
    reachable: n.reachable !== false,
    capacityFrom: reported
      ? filed
        ? "the node, capped by the grid file"
        : "the node"
      : filed
        ? "the grid file (node not read yet)"
        : "unknown until the node answers",
  };
}

export const gridPlacementProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds: Partial<Inputs>, news: Inputs) {
    const previous: Record<string, string> = {};
    const old = olds?.assignments;
    if (old && typeof old === "object" && !containsUnknown(old))
      for (const [app, a] of Object.entries(old)) if (a && typeof a.node === "string") previous[app] = a.node;
    try {
      const r = placeApps(news.nodes.map(capacity), news.apps, previous);
      // An app that stays keeps the words it was placed with: an unchanged placement diffs as no change.
      for (const [app, a] of Object.entries(r.assignments))
        if (old?.[app]?.node === a.node && typeof old[app].reason === "string") a.reason = old[app].reason;
      return { inputs: { ...news, assignments: r.assignments, free: r.free } };
    } catch (err) {
      if (!(err instanceof PlacementError) && (err as Error)?.name !== "PlacementError") throw err;
      return {
        inputs: news,
        failures: (err as PlacementError).problems.map((p) => ({ property: "apps", reason: p })),
      };
    }
  },
  async diff(_id: string, olds: Inputs, news: Inputs) {
    const changes = !jsonEqual(olds.assignments, news.assignments) || !jsonEqual(olds.free, news.free);
    return { changes, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs: Inputs) {
    return { id: "placement", outs: inputs };
  },
  async update(_id: string, _olds: Inputs, news: Inputs) {
    return { outs: news };
  },
  async delete() {
    // Nothing outside the state.
  },
};

export interface GridPlacementArgs {
  /** The nodes: file caps and labels, with what each node reported (Core0Node outputs). Required. */
  nodes: Array<{ [K in keyof PlacementNodeInput]: pulumi.Input<PlacementNodeInput[K]> }>;
  /** The apps' needs (memoryMb, cpu, labels, antiAffinity, node pin). Required. */
  apps: PlacementApp[];
}

export class GridPlacement extends pulumi.dynamic.Resource {
  /** App name -> the node it runs on and why. */
  declare readonly assignments: pulumi.Output<Record<string, Assignment>>;
  /** Node name -> capacity left (MiB, CPUs; undefined = unknown). */
  declare readonly free: pulumi.Output<Record<string, { memoryMb?: number; cpu?: number }>>;

  constructor(name: string, args: GridPlacementArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      gridPlacementProvider,
      name,
      { nodes: args.nodes, apps: args.apps, assignments: undefined, free: undefined },
      opts,
      "g8os",
      "GridPlacement",
    );
  }
}
