/**
 * GridJanitor: terminates the containers the grid left behind on nodes that did not answer.
 *
 * When an app fails over, its old container's delete is skipped because its node does not answer
 * (Core0Container `forgetWhenUnreachable`). The janitor sees every app's container (node address,
 * port, id) as inputs; its state keeps the previous set. At each up, a container that was the
 * grid's and no longer is (moved, or its app removed) is an orphan until its node answers: then
 * `corex.terminate` (v0.9.0 answers SUCCESS for an id it does not know). It never terminates an id
 * the grid uses on that node now. While orphans remain, every up tries again (diff reports a
 * change). core0 v0.9.0 numbers containers from 1 again after a reboot and has no tags: a node
 * that rebooted while away may hold another container under an orphan's id. corex.list is read
 * first, so an id the node no longer has is only dropped.
 */
import * as pulumi from "@pulumi/pulumi";
import { clientFor } from "../../providers/core0/common";
import { jsonEqual } from "../../providers/shared/dynamic";
import { errorMessage, redact } from "../../providers/shared/errors";

/** One container of the grid: where it runs. */
export interface GridContainerRef {
  node: string;
  address: string;
  port: number;
  containerId: number;
}

/** A container left behind by `app`. */
export interface Orphan extends GridContainerRef {
  app: string;
  /** Why it is still there ("" until a try failed). */
  lastError: string;
}

interface Inputs {
  containers: Record<string, GridContainerRef>;
  password: string;
}
interface Outputs extends Inputs {
  orphans: Orphan[];
  /** What the last up terminated, e.g. "web: container 1 on mid". */
  cleaned: string[];
}

const key = (r: GridContainerRef) => `${r.address}:${r.port}#${r.containerId}`;

async function sweep(olds: Partial<Outputs>, news: Inputs): Promise<Outputs> {
  const inUse = new Set(Object.values(news.containers).map(key));
  const candidates: Orphan[] = [...(olds.orphans ?? [])];
  for (const [app, was] of Object.entries(olds.containers ?? {}))
    if (!inUse.has(key(was)) && !candidates.some((o) => key(o) === key(was)))
      candidates.push({ app, ...was, lastError: "" });
  const orphans: Orphan[] = [];
  const cleaned: string[] = [];
  for (const o of candidates) {
    if (inUse.has(key(o))) continue;
    const client = clientFor({ address: o.address, port: o.port, password: news.password }, 5000);
    try {
      const list = await client.corex.list({ timeoutMs: 5000 });
      if (String(o.containerId) in list) {
        await client.corex.terminate(o.containerId, { timeoutMs: 5000 });
        cleaned.push(`${o.app}: container ${o.containerId} on ${o.node}`);
      }
    } catch (err) {
      const why = redact(errorMessage(err), [news.password]).replace(/ \(job [0-9a-f-]+\)/g, "");
      orphans.push({ ...o, lastError: why });
    } finally {
      await client.close();
    }
  }
  return { ...news, orphans, cleaned };
}

export const gridJanitorProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: Outputs, news: Inputs) {
    const changes =
      (olds.orphans ?? []).length > 0 ||
      !jsonEqual(olds.containers, news.containers) ||
      olds.password !== news.password;
    return { changes, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs: Inputs) {
    return { id: "janitor", outs: { ...inputs, orphans: [], cleaned: [] } };
  },
  async update(_id: string, olds: Outputs, news: Inputs) {
    return { outs: await sweep(olds, news) };
  },
  async delete() {
    // Its orphans are the nodes' business once the grid is gone.
  },
};

export interface GridJanitorArgs {
  /** App -> its container (node name, address, port, id). Required. */
  containers: Record<string, pulumi.Input<GridContainerRef>>;
  /** The nodes' redis password (secret). Required. */
  password: pulumi.Input<string>;
}

export class GridJanitor extends pulumi.dynamic.Resource {
  /** Containers left behind, waiting for their node to answer. */
  declare readonly orphans: pulumi.Output<Orphan[]>;
  /** What the last up terminated. */
  declare readonly cleaned: pulumi.Output<string[]>;

  constructor(name: string, args: GridJanitorArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      gridJanitorProvider,
      name,
      {
        containers: args.containers,
        password: pulumi.secret(args.password),
        orphans: undefined,
        cleaned: undefined,
      },
      { ...opts, additionalSecretOutputs: ["password"] },
      "g8os",
      "GridJanitor",
    );
  }
}
