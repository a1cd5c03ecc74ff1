/**
 * The grid's scheduler: which node each app runs on. Pure and deterministic (no Pulumi, no I/O, no
 * clock, no randomness): the same nodes, apps and previous placement always give the same answer.
 * Plain module: GridPlacement's dynamic provider runs it in its check, so it is captured by value.
 *
 * Order of placement (why: adding an app never moves another, and a hand pin always wins):
 * 1. kept: an app placed before (`previous`) stays on that node while the node still exists, has
 *    its labels, keeps its anti-affinity, is not unreachable with the app opted in to failover, has
 *    room, and the app is not pinned elsewhere. Apps are kept in name order.
 * 2. pinned: apps with `node` set go there (they must fit: a pin has no alternative).
 * 3. the rest, in name order: among the nodes that have every label the app needs, hold no app it
 *    must not share a node with (either side may declare it), are not unreachable, and have the
 *    memory and CPU left, the one with the most free memory, then the most free CPU, then the first
 *    name. (Spreading: a node that goes away takes as little as possible with it.)
 * A new app only takes what is left, so it can never move an app kept in step 1.
 *
 * A node's capacity is what it reported (Core0Node memory/CPUs), capped by the grid file's
 * memoryMb/cpu when set; when the node has not answered yet (preview of a new stack) the file's
 * figure alone, and with neither the capacity is unknown: unlimited here, and the container's
 * create checks the node's available memory and CPUs when it does answer.
 */

export interface PlacementNode {
  /** Node name (nodes[].name). */
  name: string;
  /** MiB the node offers apps; undefined = unknown (no limit here). */
  memoryMb?: number;
  /** CPUs the node offers apps; undefined = unknown (no limit here). */
  cpu?: number;
  /** Where the capacity comes from, for the reasons shown: e.g. "node", "grid file", "unknown". */
  capacityFrom?: string;
  /** Labels the node has. Default none. */
  labels?: string[];
  /** False when the node did not answer: opted-in apps leave it, no new app goes there. Default true. */
  reachable?: boolean;
}

export interface PlacementApp {
  /** App name (apps[].name). */
  name: string;
  /** MiB it needs. Default 0. */
  memoryMb?: number;
  /** CPUs it needs. Default 0. */
  cpu?: number;
  /** Labels a node must have for it. Default none. */
  labels?: string[];
  /** Apps it must not share a node with. Default none. */
  antiAffinity?: string[];
  /** Pinned to this node by hand. */
  node?: string;
  /** Leaves an unreachable node for another fitting one. Default false. */
  failover?: boolean;
}

export interface Assignment {
  /** The node it runs on. */
  node: string;
  /** Why this node, in words (shown at preview as the stack output `placement`). */
  reason: string;
}

export interface PlacementResult {
  /** App name -> where and why. */
  assignments: Record<string, Assignment>;
  /** Node name -> what is left once every app is placed (undefined = unknown capacity). */
  free: Record<string, { memoryMb?: number; cpu?: number }>;
}

/** Apps that fit nowhere: one problem per app, naming what it needs and each node's free capacity. */
export class PlacementError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "PlacementError";
  }
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const fmt = (v: number | undefined, unit: string) => (v === undefined ? `? ${unit}` : `${v} ${unit}`);

/** Places every app; throws PlacementError listing every app that fits nowhere. */
export function placeApps(
  nodes: PlacementNode[],
  apps: PlacementApp[],
  previous: Record<string, string> = {},
): PlacementResult {
  const free = new Map<string, { memoryMb?: number; cpu?: number }>();
  for (const n of [...nodes].sort(byName)) free.set(n.name, { memoryMb: n.memoryMb, cpu: n.cpu });
  const nodeOf = new Map(nodes.map((n) => [n.name, n]));
  const placed = new Map<string, string>(); // app -> node
  const order = new Map<string, number>(); // app -> when it was placed
  const assignments: Record<string, Assignment> = {};
  const problems: string[] = [];
  const sorted = [...apps].sort(byName);
  const sortedNodes = [...nodes].sort(byName);
  // app -> the apps it must not share a node with, declared on either side. Looked up per app
  // instead of scanning every placed app per node and app (that was apps^2 x nodes).
  const avoid = new Map<string, Set<string>>();
  const avoidOf = (name: string) => avoid.get(name) ?? avoid.set(name, new Set()).get(name)!;
  for (const a of apps)
    for (const other of a.antiAffinity ?? []) {
      avoidOf(a.name).add(other);
      avoidOf(other).add(a.name);
    }

  /** Why `app` cannot go on `node` now, or undefined when it can. */
  const refusal = (app: PlacementApp, n: PlacementNode): string | undefined => {
    const missing = (app.labels ?? []).filter((l) => !(n.labels ?? []).includes(l));
    if (missing.length) return `no label ${missing.join(", ")}`;
    // The conflict named is the one placed first, as a scan in placement order would find.
    let conflict: string | undefined;
    for (const other of avoid.get(app.name) ?? []) {
      if (placed.get(other) !== n.name) continue;
      if (conflict === undefined || order.get(other)! < order.get(conflict)!) conflict = other;
    }
    if (conflict !== undefined) return `runs ${conflict} (antiAffinity)`;
    const f = free.get(n.name)!;
    const short: string[] = [];
    if (f.memoryMb !== undefined && (app.memoryMb ?? 0) > f.memoryMb) short.push(`${f.memoryMb} MiB free`);
    if (f.cpu !== undefined && (app.cpu ?? 0) > f.cpu) short.push(`${f.cpu} CPU free`);
    if (short.length) return short.join(", ");
    return undefined;
  };
  const take = (app: PlacementApp, node: string, reason: string) => {
    const f = free.get(node)!;
    if (f.memoryMb !== undefined) f.memoryMb -= app.memoryMb ?? 0;
    if (f.cpu !== undefined) f.cpu -= app.cpu ?? 0;
    placed.set(app.name, node);
    order.set(app.name, order.size);
    assignments[app.name] = { node, reason };
  };
  const needs = (app: PlacementApp) =>
    [
      `${app.memoryMb ?? 0} MiB`,
      `${app.cpu ?? 0} CPU`,
      ...(app.labels?.length ? [`labels ${app.labels.join(", ")}`] : []),
      ...(app.antiAffinity?.length ? [`not with ${app.antiAffinity.join(", ")}`] : []),
    ].join(", ");
  const freeText = (n: PlacementNode) => {
    const f = free.get(n.name)!;
    return `${fmt(f.memoryMb, "MiB")} / ${fmt(f.cpu, "CPU")} free`;
  };

  // 1. Kept where they were.
  for (const app of sorted) {
    const was = previous[app.name];
    const n = was === undefined ? undefined : nodeOf.get(was);
    if (!n || (app.node !== undefined && app.node !== n.name)) continue;
    if (n.reachable === false && app.failover) continue;
    if (refusal(app, n) === undefined)
      take(
        app,
        n.name,
        app.node !== undefined ? "pinned (the app sets node)" : "kept: placed there before and still fits",
      );
  }
  // 2. Pinned by hand.
  for (const app of sorted) {
    if (placed.has(app.name) || app.node === undefined) continue;
    const n = nodeOf.get(app.node);
    const why = n ? refusal(app, n) : "is not a node of this grid";
    if (n && why === undefined) take(app, n.name, "pinned (the app sets node)");
    else
      problems.push(
        `app ${app.name} is pinned to node ${app.node} but does not fit there: it needs ${needs(app)}; ` +
          `node ${app.node}: ${n ? `${freeText(n)}, ${why}` : why}. ` +
          `Fix: lower the app's memoryMb/cpu, pin it to another node or remove its node to let the grid place it`,
      );
  }
  // 3. The rest.
  for (const app of sorted) {
    if (placed.has(app.name) || app.node !== undefined) continue;
    const why: string[] = [];
    let best: PlacementNode | undefined;
    for (const n of sortedNodes) {
      const r = n.reachable === false ? "unreachable" : refusal(app, n);
      if (r !== undefined) {
        why.push(`${n.name}: ${freeText(n)}, ${r}`);
        continue;
      }
      if (!best) best = n;
      else {
        const a = free.get(n.name)!;
        const b = free.get(best.name)!;
        const cmp = (x?: number, y?: number) => (x ?? Infinity) - (y ?? Infinity);
        const d = cmp(a.memoryMb, b.memoryMb) || cmp(a.cpu, b.cpu);
        if (d > 0) best = n;
      }
    }
    if (!best) {
      problems.push(
        `app ${app.name} fits on no node: it needs ${needs(app)}; ${why.join("; ")}. ` +
          "Fix: lower the app's memoryMb/cpu, free a node (fewer or smaller apps), add a node or give one the labels it needs",
      );
      continue;
    }
    const f = free.get(best.name)!;
    const others = why.length ? `; not ${why.join("; ")}` : "";
    take(
      app,
      best.name,
      `most free: ${fmt(f.memoryMb, "MiB")} / ${fmt(f.cpu, "CPU")} (capacity from ${best.capacityFrom ?? "the grid file"})${others}`,
    );
  }
  if (problems.length) throw new PlacementError(problems);
  // Unknown figures are left out (undefined has no place in a resource's state).
  const known = (f: { memoryMb?: number; cpu?: number }) => ({
    ...(f.memoryMb !== undefined ? { memoryMb: f.memoryMb } : {}),
    ...(f.cpu !== undefined ? { cpu: f.cpu } : {}),
  });
  return { assignments, free: Object.fromEntries([...free].map(([n, f]) => [n, known(f)])) };
}
