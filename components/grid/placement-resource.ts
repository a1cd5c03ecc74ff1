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
 *
 * Failover: when an app opts in (`failover: true`), check pings every node (`core.ping`, 5 s, all at
 * once) at each preview and up: a node that does not answer is unreachable to the scheduler, so
 * the opted-in apps on it are placed again on other fitting nodes (others stay, and no new app goes
 * there). The ping is done here because it must happen at every `up`: the Core0Node resources only
 * talk to their node at create and refresh.
 */
import * as pulumi from "@pulumi/pulumi";
import { pingError } from "../../providers/core0/common";
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
  /** The node's address and redis port, pinged when an app has failover. */
  address: string;
  port: number;
}

interface Inputs {
  nodes: PlacementNodeInput[];
  apps: PlacementApp[];
  /** The nodes' redis password (secret), for the failover ping. */
  password: string;
  /** Computed by check: nodes that did not answer the failover ping -> why. */
  unreachable?: Record<string, string>;
  /** Computed by check: app -> node and why. */
  assignments?: Record<string, Assignment>;
  /** Computed by check: node -> capacity left. */
  free?: Record<string, { memoryMb?: number; cpu?: number }>;
}

/** The capacity placement counts with: reported, capped by the file; the file's alone before the node answered. */
function capacity(n: PlacementNodeInput, down: Record<string, string>): PlacementNode {
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
    reachable: !(n.name in down),
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
    const down: Record<string, string> = {};
    if (news.apps.some((a) => a.failover) && !containsUnknown(news.password))
      await Promise.all(
        news.nodes.map(async (n) => {
          const why = await pingError({ address: n.address, port: n.port, password: news.password });
          if (why !== undefined) down[n.name] = why;
        }),
      );
    try {
      const r = placeApps(
        news.nodes.map((n) => capacity(n, down)),
        news.apps,
        previous,
      );
      // An app that stays keeps the words it was placed with: an unchanged placement diffs as no change.
      for (const [app, a] of Object.entries(r.assignments))
        if (old?.[app]?.node === a.node && typeof old[app].reason === "string") a.reason = old[app].reason;
      for (const [app, a] of Object.entries(r.assignments))
        if (previous[app] !== undefined && previous[app] !== a.node && previous[app] in down)
          a.reason = `failover: node ${previous[app]} did not answer (${down[previous[app]]}); ${a.reason}`;
      return { inputs: { ...news, unreachable: down, assignments: r.assignments, free: r.free } };
    } catch (err) {
      if (!(err instanceof PlacementError) && (err as Error)?.name !== "PlacementError") throw err;
      return {
        inputs: news,
        failures: (err as PlacementError).problems.map((p) => ({ property: "apps", reason: p })),
      };
    }
  },
  async diff(_id: string, olds: Inputs, news: Inputs) {
    const changes =
      !jsonEqual(olds.assignments, news.assignments) ||
      !jsonEqual(olds.free, news.free) ||
      !jsonEqual(olds.unreachable ?? {}, news.unreachable ?? {});
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
  /** The apps' needs (memoryMb, cpu, labels, antiAffinity, node pin, failover). Required. */
  apps: PlacementApp[];
  /** The nodes' redis password (secret), for the failover ping. Required. */
  password: pulumi.Input<string>;
}

export class GridPlacement extends pulumi.dynamic.Resource {
  /** App name -> the node it runs on and why. */
  declare readonly assignments: pulumi.Output<Record<string, Assignment>>;
  /** Node name -> capacity left (MiB, CPUs; undefined = unknown). */
  declare readonly free: pulumi.Output<Record<string, { memoryMb?: number; cpu?: number }>>;
  /** Nodes that did not answer the failover ping at this preview/up -> why. */
  declare readonly unreachable: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: GridPlacementArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      gridPlacementProvider,
      name,
      {
        nodes: args.nodes,
        apps: args.apps,
        password: pulumi.secret(args.password),
        unreachable: undefined,
        assignments: undefined,
        free: undefined,
      },
      { ...opts, additionalSecretOutputs: ["password"] },
      "g8os",
      "GridPlacement",
    );
  }
}
