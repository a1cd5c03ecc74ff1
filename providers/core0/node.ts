/**
 * Core0Node: a core0 node we talk to (we do not own its life: delete forgets it).
 * create/refresh ping it with the password and record its version, memory and CPU capacity.
 * A wrong password names the `password` field; an unreachable node names `address`/`port`.
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, resourceLabel } from "../shared/errors";
import { collectFailures } from "../shared/validate";
import { diffFields, plainOutputs } from "../shared/dynamic";
import { type Core0Connection, connectionRules, withNode } from "./common";

export interface Core0NodeInputs extends Core0Connection {
  /** Resource name, for messages. */
  name: string;
}

export interface Core0NodeOutputs extends Core0NodeInputs {
  /** What `core.ping` answers ("PONG <version>"). */
  version: string;
  memoryBytes: number;
  cpuCount: number;
  cpuModel: string;
  hostname: string;
}

const KIND = "Core0Node";

async function inspect(i: Core0NodeInputs): Promise<Core0NodeOutputs> {
  const label = resourceLabel(KIND, i.name);
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
    });
  });
}

export const core0NodeProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: Core0NodeInputs, news: Core0NodeInputs) {
    return { inputs: news, failures: collectFailures(connectionRules(news)) };
  },
  async diff(_id: string, olds: Core0NodeOutputs, news: Core0NodeInputs) {
    const d = diffFields(
      olds as unknown as Record<string, unknown>,
      { ...news, port: news.port ?? 6379 },
      {
        replaceOn: ["address", "port"],
        updateOn: ["password"],
      },
    );
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: false, detailedDiff: undefined };
  },
  async create(inputs: Core0NodeInputs) {
    const outs = await inspect(inputs);
    return { id: `${outs.address}:${outs.port}`, outs };
  },
  async read(id: string, props: Core0NodeOutputs) {
    return { id, props: await inspect(props) };
  },
  async update(_id: string, _olds: Core0NodeOutputs, news: Core0NodeInputs) {
    return { outs: await inspect(news) };
  },
  async delete() {
    // The node lives on; this resource only verified it.
  },
};

export interface Core0NodeArgs {
  /** ZeroTier IP or host name of the node. */
  address: pulumi.Input<string>;
  /** Redis port of core0. Default 6379. */
  port?: pulumi.Input<number>;
  /** The node redis password (secret). */
  password: pulumi.Input<string>;
}

export class Core0Node extends pulumi.dynamic.Resource {
  declare readonly address: pulumi.Output<string>;
  declare readonly port: pulumi.Output<number>;
  declare readonly password: pulumi.Output<string>;
  declare readonly version: pulumi.Output<string>;
  declare readonly memoryBytes: pulumi.Output<number>;
  declare readonly cpuCount: pulumi.Output<number>;
  declare readonly cpuModel: pulumi.Output<string>;
  declare readonly hostname: pulumi.Output<string>;

  constructor(name: string, args: Core0NodeArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.password) {
      throw new InputError(
        resourceLabel(KIND, name),
        "password",
        "is missing",
        "pass the node redis password (a secret)",
      );
    }
    super(
      core0NodeProvider,
      name,
      {
        name,
        address: args.address,
        port: args.port ?? 6379,
        password: pulumi.secret(args.password),
        version: undefined,
        memoryBytes: undefined,
        cpuCount: undefined,
        cpuModel: undefined,
        hostname: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "password"] },
      "core0",
      "Node",
    );
  }
}
