/**
 * Core0Node: a core0 node we talk to (we do not own its life: delete forgets it).
 * create/refresh ping it with the password and record its version, memory and CPU capacity.
 * A wrong password names the `password` field; an unreachable node names `address`/`port` at
 * create. At refresh a node that does not answer keeps what it reported last, with
 * `reachable: false` and the reason in `lastError` (the grid reports it and fails over; refresh
 * goes on).
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, resourceLabel } from "../shared/errors";
import { hostname, intInRange, nonEmptyString } from "../shared/validate";
import { plainOutputs } from "../shared/dynamic";
import { declareResource, required, withDefault, type KitInputs } from "../shared/resource-kit";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import { pingError, withNode } from "./common";

const fields = {
  /** Resource name, for messages. Set by the constructor. */
  name: required<string>({ change: "none" }),
  /** ZeroTier IP or host name of the node. Replaces. */
  address: required<string>({ validate: hostname, change: "replace" }),
  /** Redis port of core0 (1 to 65535). Default 6379. Replaces. */
  port: withDefault<number>(6379, { validate: intInRange(1, 65535), change: "replace" }),
  /** The node redis password; stored as a secret. */
  password: required<string>({ validate: nonEmptyString, secret: true }),
  /**
   * Seconds create and update wait for a node that does not answer yet (one just booted): 0 to
   * 3600, default 0 (it must answer at once). A refused password fails at once either way.
   */
  waitSec: withDefault<number>(0, { validate: intInRange(0, 3600), change: "none" }),
};

/** The Core0Node declaration: type token core0:Node. */
export const core0NodeKit = declareResource({
  kind: "Core0Node",
  module: "core0",
  type: "Node",
  fields,
  outputs: ["version", "memoryBytes", "cpuCount", "cpuModel", "hostname", "reachable", "lastError"],
});

export type Core0NodeInputs = KitInputs<typeof fields>;

export interface Core0NodeOutputs extends Core0NodeInputs {
  /** What `core.ping` answers ("PONG <version>"). */
  version: string;
  memoryBytes: number;
  cpuCount: number;
  cpuModel: string;
  hostname: string;
  /** Answered at the last create or refresh. */
  reachable: boolean;
  /** Why it did not ("" when it did). */
  lastError: string;
}

async function inspect(i: Core0NodeInputs): Promise<Core0NodeOutputs> {
  const label = core0NodeKit.label(i);
  return withNode(label, i, async (c) => {
    const [version, mem, cpu, os] = await Promise.all([c.ping(), c.info.mem(), c.info.cpu(), c.info.os()]);
    return plainOutputs({
      ...i,
      port: i.port ?? 6379,
      version: version.replace(/^PONG\s*/, ""),
      memoryBytes: mem.total,
      cpuCount: cpu.length,
      cpuModel: cpu[0]?.modelName ?? "",
      hostname: os.hostname,
      reachable: true,
      lastError: "",
    });
  });
}

/**
 * `inspect`, retried every few seconds while the node cannot be reached, up to `waitSec`. Only a
 * refused password (an InputError on `password`) ends the wait early: anything else may be a node
 * still booting.
 */
async function inspectWaiting(i: Core0NodeInputs): Promise<Core0NodeOutputs> {
  const deadline = Date.now() + (i.waitSec ?? 0) * 1000;
  for (;;) {
    try {
      return await inspect(i);
    } catch (err) {
      const e = err as { field?: unknown; message?: unknown };
      if (e?.field === "password" || Date.now() >= deadline) {
        if (!i.waitSec || e?.field === "password") throw err;
        const m = typeof e?.message === "string" ? e.message : String(err);
        (err as { message: string }).message =
          `${m} (waited ${i.waitSec} s, waitSec, for the node to answer)`;
        throw err;
      }
      await new Promise((r) => setTimeout(r, Math.min(5000, Math.max(0, deadline - Date.now()))));
    }
  }
}

export const core0NodeProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: Core0NodeInputs, news: Core0NodeInputs) {
    return core0NodeKit.check(news);
  },
  async diff(_id: string, olds: Core0NodeOutputs, news: Core0NodeInputs) {
    const d = core0NodeKit.diff(olds, { ...news, port: news.port ?? 6379 });
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: false, detailedDiff: undefined };
  },
  async create(inputs: Core0NodeInputs) {
    const outs = await inspectWaiting(inputs);
    return { id: `${outs.address}:${outs.port}`, outs };
  },
  async read(id: string, props: Core0NodeOutputs) {
    const down = await pingError(props);
    if (down !== undefined) return { id, props: { ...props, reachable: false, lastError: down } };
    return { id, props: await inspect(props) };
  },
  async update(_id: string, _olds: Core0NodeOutputs, news: Core0NodeInputs) {
    return { outs: await inspectWaiting(news) };
  },
  async delete() {
    // The node lives on; this resource only verified it.
  },
};

/** Core0Node's arguments (everything but `name`, which is the resource name). */
export type Core0NodeArgs = Omit<KitArgs<typeof fields>, "name">;

export class Core0Node extends KitResource {
  declare readonly address: pulumi.Output<string>;
  declare readonly port: pulumi.Output<number>;
  declare readonly password: pulumi.Output<string>;
  declare readonly version: pulumi.Output<string>;
  declare readonly memoryBytes: pulumi.Output<number>;
  declare readonly cpuCount: pulumi.Output<number>;
  declare readonly cpuModel: pulumi.Output<string>;
  declare readonly hostname: pulumi.Output<string>;
  declare readonly reachable: pulumi.Output<boolean>;
  declare readonly lastError: pulumi.Output<string>;

  constructor(name: string, args: Core0NodeArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.password) {
      throw new InputError(
        resourceLabel(core0NodeKit.decl.kind, name),
        "password",
        "is missing",
        "pass the node redis password (a secret)",
      );
    }
    super(
      core0NodeKit,
      core0NodeProvider,
      name,
      {
        name,
        address: args.address,
        port: args.port ?? 6379,
        password: args.password,
        waitSec: args.waitSec,
      },
      opts,
    );
  }
}
