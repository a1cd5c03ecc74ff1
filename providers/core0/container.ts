/**
 * Core0Container: a container (coreX) on a core0 node, built from a plist.
 *
 * - create: corex.create with tags [name, ...tags], wait until corex.find([name]) shows it, then run
 *   the start commands inside it (each must succeed; a failure keeps the container recorded through
 *   a partial-create error, so the next `up` retries the start commands or replaces it).
 * - read: found by its name tag (core0 gives no stable id across reboots); gone = empty id, so a
 *   refresh drops it and the next `up` re-creates it.
 * - diff: the root (plistUrl), name, tags, nics, ports, env, hostname, start commands and the node's
 *   address/port replace the container (core0 cannot change them in place), deleting the old one
 *   first (the name tag must stay unique); nodePassword and the memory/CPU requests update in place
 *   (they are checked, not applied: core0 v0.9 sets no container limits).
 * - delete: corex.terminate (nothing to do when already gone).
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckFailure, InputError, OperationError, resourceLabel } from "../shared/errors";
import { collectFailures, intInRange, nonEmptyString, type Validator } from "../shared/validate";
import { containsUnknown, diffFields, partialCreateError, plainOutputs } from "../shared/dynamic";
import { pollUntil } from "../shared/retry";
import type { Core0Client, ContainerInfo } from "./client";
import { type Core0Connection, connectionRules, withNode } from "./common";

export interface ContainerNic {
  type: "default" | "bridge" | "zerotier" | "vlan" | "vxlan";
  id?: string;
  name?: string;
  hwaddr?: string;
  config?: { dhcp?: boolean; cidr?: string; gateway?: string; dns?: string[] };
}

export interface StartCommand {
  /** Program to run (path inside the container, or on its PATH). */
  name: string;
  args?: string[];
  /** Working dir inside the container root. */
  dir?: string;
  env?: Record<string, string>;
  stdin?: string;
  /**
   * A service (e.g. redis-server): dispatched and left running instead of awaited. It must still be
   * running `settleMs` later (default 2000), else the container fails with the process's output.
   */
  background?: boolean;
  settleMs?: number;
}

export interface Core0ContainerInputs {
  nodeAddress: string;
  nodePort: number;
  nodePassword: string;
  /** Container name: also its first tag, how it is found again. */
  name: string;
  /** plist URL (`file://` on the node, or http(s)). */
  plistUrl: string;
  tags: string[];
  nics: ContainerNic[];
  /** host port -> container port */
  ports: Record<string, number>;
  env: Record<string, string>;
  hostname: string;
  /** Memory the container needs, MiB: checked against the node's available memory at create. */
  memoryMb: number;
  /** Logical CPUs it needs: checked against the node's CPU count at create. */
  cpu: number;
  startCommands: StartCommand[];
}

export interface Core0ContainerOutputs extends Core0ContainerInputs {
  containerId: number;
  /** Root directory on the node. */
  root: string;
}

const KIND = "Core0Container";
const REPLACE_ON = [
  "nodeAddress",
  "nodePort",
  "name",
  "plistUrl",
  "tags",
  "nics",
  "ports",
  "env",
  "hostname",
  "startCommands",
];
const UPDATE_ON = ["nodePassword", "memoryMb", "cpu"];

const conn = (i: Core0ContainerInputs): Core0Connection => ({
  address: i.nodeAddress,
  port: i.nodePort,
  password: i.nodePassword,
});
const label = (i: { name?: unknown }): string =>
  resourceLabel(KIND, typeof i.name === "string" ? i.name : "?");

const plistUrl: Validator = (v) =>
  typeof v === "string" && /^(file:\/\/\/|https?:\/\/)\S+$/.test(v)
    ? undefined
    : "must be a file:///path or http(s):// URL of a plist";
const stringList: Validator = (v) =>
  Array.isArray(v) && v.every((t) => typeof t === "string" && t.length > 0)
    ? undefined
    : "must be a list of non-empty strings";
const stringMap: Validator = (v) =>
  v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string")
    ? undefined
    : "must be a map of strings";

function nicFailures(nics: unknown): CheckFailure[] {
  if (nics === undefined || containsUnknown(nics)) return [];
  if (!Array.isArray(nics))
    return [{ property: "nics", reason: "must be a list of {type, name?, id?, config?}" }];
  const out: CheckFailure[] = [];
  const types = ["default", "bridge", "zerotier", "vlan", "vxlan"];
  nics.forEach((n: ContainerNic, i) => {
    if (!types.includes(n?.type))
      out.push({ property: `nics[${i}].type`, reason: `must be one of ${types.join(", ")}` });
    const name = n?.name;
    if (name !== undefined && (name.length > 15 || name === "default" || /^(eth|zt)/.test(name))) {
      out.push({
        property: `nics[${i}].name`,
        reason: "must be at most 15 characters and not default, eth* or zt* (core0 reserves them)",
      });
    }
    if ((n?.type === "zerotier" || n?.type === "vlan" || n?.type === "vxlan") && !n.id) {
      out.push({ property: `nics[${i}].id`, reason: `is required for a ${n.type} nic (network id / tag)` });
    }
  });
  if (nics.filter((n: ContainerNic) => n?.type === "default").length > 1) {
    out.push({ property: "nics", reason: "at most one nic may be of type default" });
  }
  return out;
}

function portFailures(ports: unknown): CheckFailure[] {
  if (ports === undefined || containsUnknown(ports)) return [];
  if (!ports || typeof ports !== "object" || Array.isArray(ports)) {
    return [{ property: "ports", reason: 'must be a map of host port to container port, e.g. {"8080": 80}' }];
  }
  const out: CheckFailure[] = [];
  for (const [host, inner] of Object.entries(ports as Record<string, unknown>)) {
    if (!/^\d+$/.test(host) || Number(host) < 1 || Number(host) > 65535) {
      out.push({ property: `ports["${host}"]`, reason: "host port must be a number from 1 to 65535" });
    }
    const bad = intInRange(1, 65535)(inner);
    if (bad) out.push({ property: `ports["${host}"]`, reason: `container port ${bad}` });
  }
  return out;
}

/** Fills defaults so state and diffs never see `undefined`. */
function normalise(i: Partial<Core0ContainerInputs>): Core0ContainerInputs {
  return {
    nodeAddress: i.nodeAddress!,
    nodePort: i.nodePort ?? 6379,
    nodePassword: i.nodePassword!,
    name: i.name!,
    plistUrl: i.plistUrl!,
    tags: i.tags ?? [],
    nics: i.nics ?? [],
    ports: i.ports ?? {},
    env: i.env ?? {},
    hostname: i.hostname ?? "",
    memoryMb: i.memoryMb ?? 0,
    cpu: i.cpu ?? 0,
    startCommands: i.startCommands ?? [],
  };
}

async function findByName(c: Core0Client, name: string): Promise<[number, ContainerInfo] | undefined> {
  const found = Object.entries(await c.corex.find([name]));
  if (found.length === 0) return undefined;
  const [id, info] = found.sort((a, b) => Number(a[0]) - Number(b[0]))[0];
  return [Number(id), info];
}

/** Refuses to create when the node lacks the requested memory or CPUs. */
async function checkCapacity(c: Core0Client, i: Core0ContainerInputs): Promise<void> {
  if (i.memoryMb > 0) {
    const mem = await c.info.mem();
    const availableMb = Math.floor(mem.available / 1024 / 1024);
    if (availableMb < i.memoryMb) {
      throw new InputError(
        label(i),
        "memoryMb",
        `asks for ${i.memoryMb} MiB but node ${i.nodeAddress} has ${availableMb} MiB available`,
        "lower memoryMb or place the container on another node",
      );
    }
  }
  if (i.cpu > 0) {
    const cpus = (await c.info.cpu()).length;
    if (cpus < i.cpu) {
      throw new InputError(
        label(i),
        "cpu",
        `asks for ${i.cpu} CPUs but node ${i.nodeAddress} has ${cpus}`,
        "lower cpu",
      );
    }
  }
}

async function runStartCommands(c: Core0Client, i: Core0ContainerInputs, id: number): Promise<void> {
  for (const [n, s] of i.startCommands.entries()) {
    const command = {
      command: "core.system",
      arguments: {
        name: s.name,
        args: s.args ?? [],
        dir: s.dir ?? "",
        env: s.env ?? {},
        stdin: s.stdin ?? "",
      },
    };
    if (s.background) {
      const job = await c.corex.dispatch(id, command);
      // Still running after the settle time = started. A result means it already ended.
      const ended = await c
        .result(job, { timeoutMs: s.settleMs ?? 2000, command: s.name })
        .catch(() => undefined);
      if (!ended) continue;
      const tail = (Array.isArray(ended.streams) ? ended.streams.join("\n") : "")
        .trim()
        .split("\n")
        .slice(-3)
        .join(" | ");
      throw new OperationError(
        label(i),
        `startCommands[${n}] (${s.name})`,
        `the service exited at once in state ${ended.state}${tail ? `: ${tail}` : ""}`,
        "the command and its arguments, and that the plist contains the program and what it needs",
      );
    }
    const r = await c.corex.dispatchAndWait(id, command);
    if (r.state !== "SUCCESS") {
      const stderr = (Array.isArray(r.streams) ? (r.streams[1] ?? "") : "")
        .trim()
        .split("\n")
        .slice(-3)
        .join(" | ");
      throw new OperationError(
        label(i),
        `startCommands[${n}] (${s.name})`,
        `ended in state ${r.state}${r.code !== undefined ? ` with exit code ${r.code}` : ""}${stderr ? `: ${stderr}` : ""}`,
        "the command and its arguments, and that the plist contains the program",
      );
    }
  }
}

function outputs(i: Core0ContainerInputs, id: number, info: ContainerInfo): Core0ContainerOutputs {
  return plainOutputs({ ...i, containerId: id, root: info.container.root ?? "" });
}

export const core0ContainerProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: Partial<Core0ContainerInputs>, news: Partial<Core0ContainerInputs>) {
    const failures = collectFailures([
      ...connectionRules(conn(news as Core0ContainerInputs), "node"),
      { path: "name", value: news.name, check: nonEmptyString },
      { path: "plistUrl", value: news.plistUrl, check: plistUrl },
      { path: "tags", value: news.tags, check: stringList, optional: true },
      { path: "env", value: news.env, check: stringMap, optional: true },
      { path: "memoryMb", value: news.memoryMb, check: intInRange(0, 16 * 1024 * 1024), optional: true },
      { path: "cpu", value: news.cpu, check: intInRange(0, 4096), optional: true },
    ]);
    failures.push(...nicFailures(news.nics), ...portFailures(news.ports));
    if (Array.isArray(news.startCommands) && !containsUnknown(news.startCommands)) {
      news.startCommands.forEach((s, n) => {
        if (!s || typeof s.name !== "string" || !s.name) {
          failures.push({ property: `startCommands[${n}].name`, reason: "must be the program to run" });
        }
      });
    }
    if (failures.length > 0) return { inputs: news, failures };
    return { inputs: containsUnknown(news) ? news : normalise(news), failures };
  },
  async diff(_id: string, olds: Core0ContainerOutputs, news: Core0ContainerInputs) {
    const d = diffFields(
      olds as unknown as Record<string, unknown>,
      news as unknown as Record<string, unknown>,
      {
        replaceOn: REPLACE_ON,
        updateOn: UPDATE_ON,
        deleteBeforeReplace: true,
      },
    );
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },
  async create(raw: Core0ContainerInputs) {
    const i = normalise(raw);
    return withNode(
      label(i),
      conn(i),
      async (c) => {
        await checkCapacity(c, i);
        const id = await c.corex.create(
          {
            root: i.plistUrl,
            name: i.name,
            hostname: i.hostname,
            nics: i.nics,
            port: i.ports,
            env: i.env,
          },
          [i.name, ...i.tags.filter((t) => t !== i.name)],
        );
        try {
          const [, info] = await pollUntil(
            async () => {
              const f = await findByName(c, i.name);
              return f && f[0] === id
                ? f
                : { pending: `corex.find([${i.name}]) does not list container ${id}` };
            },
            { timeoutMs: 60_000, intervalMs: 250, what: `container ${id} in corex.list` },
          );
          await runStartCommands(c, i, id);
          return { id: String(id), outs: outputs(i, id, info) };
        } catch (err) {
          throw partialCreateError(err, String(id), { ...i, containerId: id, root: "" });
        }
      },
      "node",
    );
  },
  async read(_id: string, props: Core0ContainerOutputs) {
    const i = normalise(props);
    return withNode(
      label(i),
      conn(i),
      async (c) => {
        const f = await findByName(c, i.name);
        if (!f) return { id: "", props: {} };
        return { id: String(f[0]), props: outputs(i, f[0], f[1]) };
      },
      "node",
    );
  },
  async update(id: string, olds: Core0ContainerOutputs, news: Core0ContainerInputs) {
    const i = normalise(news);
    return withNode(
      label(i),
      conn(i),
      async (c) => {
        const f = await findByName(c, i.name);
        if (!f) {
          throw new OperationError(
            label(i),
            "update",
            `container ${id} is gone from node ${i.nodeAddress}`,
            "run `pulumi refresh` so the next up re-creates it",
          );
        }
        await checkCapacity(c, i);
        // A partial create left the start commands unfinished: run them now.
        if (!olds.root) await runStartCommands(c, i, f[0]);
        return { outs: outputs(i, f[0], f[1]) };
      },
      "node",
    );
  },
  async delete(_id: string, props: Core0ContainerOutputs) {
    const i = normalise(props);
    await withNode(
      label(i),
      conn(i),
      async (c) => {
        const f = await findByName(c, i.name);
        if (f) await c.corex.terminate(f[0]);
      },
      "node",
    );
  },
};

export interface Core0ContainerArgs {
  /** The node's address, port and redis password (e.g. from a Core0Node). */
  nodeAddress: pulumi.Input<string>;
  /** Default 6379. */
  nodePort?: pulumi.Input<number>;
  nodePassword: pulumi.Input<string>;
  /** plist URL (`file:///...` on the node, or http(s)). */
  plistUrl: pulumi.Input<string>;
  /** Extra tags (the name is always the first tag). */
  tags?: pulumi.Input<string[]>;
  nics?: pulumi.Input<ContainerNic[]>;
  /** host port -> container port, e.g. {"8080": 80}. */
  ports?: pulumi.Input<Record<string, number>>;
  env?: pulumi.Input<Record<string, string>>;
  hostname?: pulumi.Input<string>;
  /** Memory needed, MiB (checked against the node at create). Default 0 = no check. */
  memoryMb?: pulumi.Input<number>;
  /** CPUs needed (checked against the node at create). Default 0 = no check. */
  cpu?: pulumi.Input<number>;
  /** Run in the container after create, in order; each must exit 0. */
  startCommands?: pulumi.Input<StartCommand[]>;
  /** Container name on the node. Default: the resource name. */
  containerName?: pulumi.Input<string>;
}

export class Core0Container extends pulumi.dynamic.Resource {
  declare readonly containerId: pulumi.Output<number>;
  declare readonly root: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly tags: pulumi.Output<string[]>;

  constructor(name: string, args: Core0ContainerArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.nodePassword) {
      throw new InputError(
        resourceLabel(KIND, name),
        "nodePassword",
        "is missing",
        "pass the node redis password (a secret)",
      );
    }
    const { containerName, ...rest } = args;
    super(
      core0ContainerProvider,
      name,
      {
        ...rest,
        name: containerName ?? name,
        nodePassword: pulumi.secret(args.nodePassword),
        containerId: undefined,
        root: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "nodePassword"] },
      "core0",
      "Container",
    );
  }
}
