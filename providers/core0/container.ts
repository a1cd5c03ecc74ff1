/**
 * Core0Container: a container (coreX) on a core0 v0.9.0 node, built from a plist.
 *
 * - create: checks the node's capacity against memoryMb/cpu (admission only), `corex.create` with
 *   v0.9.0's arguments (root, mount, network, port), keeps the id core0 returns (v0.9.0 has no
 *   container tags and no corex.find: the id in state is how the container is found again), checks
 *   that corex.list shows it (coreX exits at once when the root cannot run it, e.g. no /proc), then
 *   runs the start commands inside it with corex.dispatch. A start command that fails terminates
 *   the container and fails the up naming the command; the next up creates it afresh. (Not a
 *   partial create: the engine would record the container without the serialized provider, and
 *   its delete then fails; carrying the provider in the error overflows the gRPC error metadata.
 *   Both seen in test/core0/harness.test.ts.)
 * - read (refresh = monitor): `corex.list` still has the id; gone = empty id, so refresh drops it
 *   and the next `up` re-creates it. Otherwise the container's CPU and RSS (corex.list) are recorded,
 *   with `overMemory` when RSS exceeds memoryMb, and each background start command is asked for by
 *   its job id among the container's jobs (`process.state` dispatched into the container; v0.9.0
 *   removes a job once it ended): one that ended is started again while it has restarts left
 *   (`restartLimit`), and every restart and failure is recorded in `processes` and `events`. A job
 *   running the same command that no service owns is adopted instead (the restart an earlier read
 *   made, whose state the engine dropped: `pulumi refresh` runs read in its preview too). core0 numbers containers from 1 again after a reboot, so after a node reboot a
 *   recorded id may name another container: v0.9.0 gives nothing to tell them apart.
 * - diff: the root (plistUrl), mounts, network, ports, env, start commands and the node's
 *   address/port replace the container (core0 cannot change them in place), deleting the old one
 *   first (host ports stay free); nodePassword, name, tags, memoryMb and cpu update in place.
 * - delete: `corex.terminate` (v0.9.0 answers SUCCESS for an id it does not know); with
 *   forgetWhenUnreachable, a node that does not answer is left alone and the delete succeeds.
 * - refresh of a container whose node does not answer keeps it as it was, with an event saying so.
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckFailure, InputError, OperationError, resourceLabel } from "../shared/errors";
import {
  hostname,
  intInRange,
  nonEmptyString,
  nonEmptyStringList,
  stringMap,
  type Validator,
} from "../shared/validate";
import { containsUnknown, plainOutputs } from "../shared/dynamic";
import { declareResource, required, withDefault, type KitInputs } from "../shared/resource-kit";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import type { Core0Client, ContainerCreateArgs } from "./client";
import { type Core0Connection, pingError, withNode } from "./common";

/** A bridge the container is attached to (core0 v0.9.0 `network.bridge` entry). */
export interface ContainerBridge {
  /** Name of an existing bridge on the node (core0 refuses unknown bridges). */
  name: string;
  /** "" or "none" (no address), "dhcp", or a CIDR such as "10.20.0.5/24". Default "". */
  setup?: string;
}

export interface StartCommand {
  /** Program to run (path inside the container root, or a name on coreX's PATH). */
  name: string;
  /** Arguments. Default none. */
  args?: string[];
  /** Working dir inside the container root. Default "/". */
  dir?: string;
  /** Environment of the process (over the container's `env`); core0 adds nothing else. */
  env?: Record<string, string>;
  /** Text fed to the process's stdin (sent base64, as v0.9.0 wants). Default none. */
  stdin?: string;
  /**
   * A service (e.g. redis-server): dispatched and left running instead of awaited. It must still be
   * running `settleMs` later (default 2000), else the container fails with the process's output.
   */
  background?: boolean;
  settleMs?: number;
}

const plistUrl: Validator = (v) =>
  typeof v === "string" && /^(file:\/\/\/|https?:\/\/)\S+$/.test(v)
    ? undefined
    : "must be a file:///path or http(s):// URL of a plist";

const fields = {
  /** The node's address (ZeroTier IP or host name), e.g. from a Core0Node. Replaces. */
  nodeAddress: required<string>({ validate: hostname, change: "replace" }),
  /** The node's redis port (1 to 65535). Default 6379. Replaces. */
  nodePort: withDefault<number>(6379, { validate: intInRange(1, 65535), change: "replace" }),
  /** The node's redis password; stored as a secret. */
  nodePassword: required<string>({ validate: nonEmptyString, secret: true }),
  /** Container name, for messages and state only (v0.9.0 containers have no name or tags). */
  name: required<string>({ validate: nonEmptyString }),
  /** plist URL (`file:///...` on the node, or http(s)). Changing it replaces the container. */
  plistUrl: required<string>({ validate: plistUrl, change: "replace" }),
  /**
   * Labels recorded in state only: core0 v0.9.0 containers have no tags (the container is found
   * by the id corex.create returned). Default none.
   */
  tags: withDefault<string[]>([], { validate: nonEmptyStringList }),
  /**
   * Environment for every start command (merged under each command's own `env`). core0 v0.9.0
   * containers have no environment of their own and core0 adds none. Default none. Replaces.
   */
  env: withDefault<Record<string, string>>({}, { validate: stringMap, change: "replace" }),
  /**
   * Admission check only: at create (and when changed) the node's available memory (info.mem
   * `available`) must be at least this many MiB, else the up fails naming this field. core0
   * v0.9.0's corex.create has no memory argument: nothing limits what the container then uses.
   * Default 0 = no check.
   */
  memoryMb: withDefault<number>(0, { validate: intInRange(0, 16 * 1024 * 1024) }),
  /**
   * Admission check only: at create (and when changed) the node must have at least this many CPUs
   * (info.cpu entries). core0 v0.9.0 pins or limits nothing. Default 0 = no check.
   */
  cpu: withDefault<number>(0, { validate: intInRange(0, 4096) }),
  /**
   * host directory (absolute, must exist on the node) or plist URL -> absolute container path.
   * Default none. Replaces.
   */
  mounts: withDefault<Record<string, string>>({}, { change: "replace" }),
  /** ZeroTier network id (16 hex) the container joins (v0.9.0 `network.zerotier`); "" = none. Replaces. */
  zerotierNetwork: withDefault<string>("", { change: "replace" }),
  /** Existing node bridges to attach (v0.9.0 `network.bridge`). Default none. Replaces. */
  bridges: withDefault<ContainerBridge[]>([], { change: "replace" }),
  /** host port -> container port, e.g. {"8080": 80}. Default none. Replaces. */
  ports: withDefault<Record<string, number>>({}, { change: "replace" }),
  /** Run in the container after create, in order; each must exit 0 (or stay up, if background). Replaces. */
  startCommands: withDefault<StartCommand[]>([], { change: "replace" }),
  /**
   * How many times refresh starts each background start command again once it ended (0 to 1000),
   * counted over the container's life; then it stays down and is reported. Default 0 = never.
   */
  restartLimit: withDefault<number>(0, { validate: intInRange(0, 1000), change: "none" }),
  /**
   * At delete, a node that does not answer `core.ping` within 5 s lets the delete succeed without
   * terminating (the caller, e.g. the grid's janitor, terminates the container once the node is
   * back). Default false: such a delete fails.
   */
  forgetWhenUnreachable: withDefault<boolean>(false, { change: "none" }),
};

/** A background start command as refresh last saw it. */
export interface ProcessStatus {
  /** startCommands index. */
  index: number;
  /** The program. */
  name: string;
  /** The job id core0 gave it (changes on restart). */
  jobId: string;
  /** Still running at the last look. */
  running: boolean;
  /** Times refresh started it again. */
  restarts: number;
}

/** Network, mount, port and start-command rules (the fields' own checks ran first). */
function containerRules(raw: Record<string, unknown>): CheckFailure[] {
  const news = raw as Partial<Core0ContainerInputs>;
  const failures = [...networkFailures(news), ...portFailures(news.ports)];
  if (Array.isArray(news.startCommands) && !containsUnknown(news.startCommands)) {
    news.startCommands.forEach((s, n) => {
      if (!s || typeof s.name !== "string" || !s.name) {
        failures.push({ property: `startCommands[${n}].name`, reason: "must be the program to run" });
      }
    });
  }
  return failures;
}

/**
 * The Core0Container declaration: type token core0:Container; deleting the old container before
 * its replacement keeps host ports free.
 */
export const core0ContainerKit = declareResource({
  kind: "Core0Container",
  module: "core0",
  type: "Container",
  fields,
  outputs: ["containerId", "processes", "cpuPercent", "rssBytes", "overMemory", "events"],
  deleteBeforeReplace: true,
  rules: containerRules,
});

export type Core0ContainerInputs = KitInputs<typeof fields>;

export interface Core0ContainerOutputs extends Core0ContainerInputs {
  /** The id `corex.create` returned. */
  containerId: number;
  /** The background start commands, as the last create or refresh saw them. */
  processes: ProcessStatus[];
  /** The container's CPU percent (corex.list) at the last refresh; 0 at create. */
  cpuPercent: number;
  /** The container's resident memory, bytes (corex.list) at the last refresh; 0 at create. */
  rssBytes: number;
  /** rssBytes above memoryMb (when memoryMb is set): core0 v0.9.0 limits nothing, so it is reported. */
  overMemory: boolean;
  /** What the last refresh did or found (restarts, processes down, over memory), oldest first. */
  events: string[];
}

const conn = (i: Core0ContainerInputs): Core0Connection => ({
  address: i.nodeAddress,
  port: i.nodePort,
  password: i.nodePassword,
});
const label = (i: object): string => core0ContainerKit.label(i);

function networkFailures(i: Partial<Core0ContainerInputs>): CheckFailure[] {
  const out: CheckFailure[] = [];
  const z = i.zerotierNetwork;
  if (
    z !== undefined &&
    !containsUnknown(z) &&
    z !== "" &&
    !(typeof z === "string" && /^[0-9a-f]{16}$/.test(z))
  )
    out.push({ property: "zerotierNetwork", reason: 'must be a 16-hex ZeroTier network id, or "" for none' });
  const b = i.bridges;
  if (b !== undefined && !containsUnknown(b)) {
    if (!Array.isArray(b)) out.push({ property: "bridges", reason: "must be a list of {name, setup?}" });
    else
      b.forEach((x: ContainerBridge, n) => {
        if (!x || typeof x.name !== "string" || !x.name)
          out.push({ property: `bridges[${n}].name`, reason: "must be the name of a bridge on the node" });
        const setup = x?.setup ?? "";
        if (typeof setup !== "string" || !/^(|none|dhcp|\d+\.\d+\.\d+\.\d+\/\d+)$/.test(setup))
          out.push({ property: `bridges[${n}].setup`, reason: 'must be "", "none", "dhcp" or a CIDR' });
      });
  }
  const m = i.mounts;
  if (m !== undefined && !containsUnknown(m)) {
    if (!m || typeof m !== "object" || Array.isArray(m))
      out.push({ property: "mounts", reason: "must be a map of host dir (or plist URL) to container path" });
    else
      for (const [src, dst] of Object.entries(m)) {
        if (!src.startsWith("/") && !/^(file:\/\/\/|https?:\/\/)/.test(src))
          out.push({
            property: `mounts["${src}"]`,
            reason: "source must be an absolute host path or a plist URL",
          });
        if (typeof dst !== "string" || !dst.startsWith("/"))
          out.push({
            property: `mounts["${src}"]`,
            reason: "target must be an absolute path in the container",
          });
      }
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
const normalise = (i: object): Core0ContainerInputs => core0ContainerKit.normalise(i) as Core0ContainerInputs;

/** Whether corex.list still shows container `id` (the only way v0.9.0 can tell). */
async function exists(c: Core0Client, id: number): Promise<boolean> {
  return String(id) in (await c.corex.list());
}

/** v0.9.0 corex.create arguments (`core0/containers/manager.go` ContainerCreateArguments). */
function createArgs(i: Core0ContainerInputs): ContainerCreateArgs {
  const args: ContainerCreateArgs = { root: i.plistUrl, mount: i.mounts, port: i.ports };
  if (i.zerotierNetwork || i.bridges.length > 0) {
    args.network = {};
    if (i.zerotierNetwork) args.network.zerotier = i.zerotierNetwork;
    if (i.bridges.length > 0) args.network.bridge = i.bridges.map((b) => [b.name, b.setup ?? ""]);
  }
  return args;
}

/**
 * Admission only: refuses when the node has less available memory (info.mem `available`) than
 * memoryMb, or fewer CPUs (info.cpu entries) than cpu. core0 v0.9.0 sets no container limits, so
 * nothing stops the container from using more afterwards.
 */
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

/** core.system for start command `s` (its env over the container's). */
function systemCommand(c: Core0Client, i: Core0ContainerInputs, s: StartCommand) {
  return {
    command: "core.system",
    arguments: c.systemArgs(s.name, s.args ?? [], {
      dir: s.dir ?? "",
      env: { ...i.env, ...(s.env ?? {}) },
      stdin: s.stdin ?? "",
    }),
  };
}

/** Starts background command `n`; returns its job id once it stayed up `settleMs`. */
async function startService(c: Core0Client, i: Core0ContainerInputs, id: number, n: number): Promise<string> {
  const s = i.startCommands[n];
  const job = await c.corex.dispatch(id, systemCommand(c, i, s));
  // Still running after the settle time = started. A result means it already ended.
  const ended = await c
    .result(job, { timeoutMs: s.settleMs ?? 2000, command: s.name })
    .catch(() => undefined);
  if (!ended) return job;
  // A spawn failure has no streams: its Go error text is the data.
  const tail =
    (Array.isArray(ended.streams) ? ended.streams.join("\n") : "").trim().split("\n").slice(-3).join(" | ") ||
    ended.data;
  throw new OperationError(
    label(i),
    `startCommands[${n}] (${s.name})`,
    `the service exited at once in state ${ended.state}${tail ? `: ${tail}` : ""}`,
    "the command and its arguments, and that the plist contains the program and what it needs",
  );
}

async function runStartCommands(
  c: Core0Client,
  i: Core0ContainerInputs,
  id: number,
): Promise<ProcessStatus[]> {
  const started: ProcessStatus[] = [];
  for (const [n, s] of i.startCommands.entries()) {
    const command = systemCommand(c, i, s);
    if (s.background) {
      started.push({
        index: n,
        name: s.name,
        jobId: await startService(c, i, id, n),
        running: true,
        restarts: 0,
      });
      continue;
    }
    const r = await c.corex.dispatchAndWait(id, command);
    if (r.state !== "SUCCESS") {
      const stderr =
        (Array.isArray(r.streams) ? (r.streams[1] ?? "") : "").trim().split("\n").slice(-3).join(" | ") ||
        r.data;
      throw new OperationError(
        label(i),
        `startCommands[${n}] (${s.name})`,
        `ended in state ${r.state}${r.code !== undefined ? ` with exit code ${r.code}` : ""}${stderr ? `: ${stderr}` : ""}`,
        "the command and its arguments, and that the plist contains the program",
      );
    }
  }
  return started;
}

/** What refresh measured and did; the create's figures are zero, with every service running. */
interface Observed {
  processes: ProcessStatus[];
  cpuPercent: number;
  rssBytes: number;
  overMemory: boolean;
  events: string[];
}

function outputs(i: Core0ContainerInputs, id: number, o: Observed): Core0ContainerOutputs {
  return plainOutputs({ ...i, containerId: id, ...o });
}

const created = (processes: ProcessStatus[]): Observed => ({
  processes,
  cpuPercent: 0,
  rssBytes: 0,
  overMemory: false,
  events: [],
});

/**
 * The monitor pass of refresh: stats from corex.list, each background service looked up by its job
 * id (v0.9.0 `process.state` inside the container errs once the job ended), ended ones started
 * again while restarts are left.
 */
async function monitor(
  c: Core0Client,
  i: Core0ContainerInputs,
  id: number,
  stats: { cpu?: number; rss?: number } | null,
  before: ProcessStatus[],
): Promise<Observed> {
  const events: string[] = [];
  const rssBytes = Number(stats?.rss ?? 0);
  const overMemory = i.memoryMb > 0 && rssBytes > i.memoryMb * 1024 * 1024;
  if (overMemory)
    events.push(
      `container uses ${Math.round(rssBytes / 1024 / 1024)} MiB, over its declared memoryMb ${i.memoryMb}`,
    );
  const processes: ProcessStatus[] = [];
  const tracked = before.filter((p) => i.startCommands[p.index]?.background);
  if (tracked.length === 0)
    return { processes, cpuPercent: Number(stats?.cpu ?? 0), rssBytes, overMemory, events };
  // Every job the container runs, with its command (v0.9.0 process.state without id).
  const r = await c.corex.dispatchAndWait(id, { command: "process.state", arguments: {} });
  let jobs: Array<{
    cmd?: { id?: string; command?: string; arguments?: { name?: string; args?: unknown } };
  }> = [];
  try {
    jobs = r.state === "SUCCESS" ? (JSON.parse(r.data) ?? []) : [];
  } catch {
    jobs = [];
  }
  const running = new Set(jobs.map((j) => j.cmd?.id).filter((x): x is string => !!x));
  const claimed = new Set(tracked.map((p) => p.jobId).filter((j) => running.has(j)));
  for (const p of tracked) {
    const s = i.startCommands[p.index];
    if (running.has(p.jobId)) {
      processes.push({ ...p, running: true });
      continue;
    }
    const restarted = `startCommands[${p.index}] (${p.name}) had ended: restarted (${p.restarts + 1} of ${i.restartLimit})`;
    // A job running this very command that no tracked service owns: a restart by an earlier read
    // whose state was dropped (the engine's refresh preview runs read too). Adopted, not started twice.
    const twin = jobs.find(
      (j) =>
        j.cmd?.id &&
        !claimed.has(j.cmd.id) &&
        j.cmd.command === "core.system" &&
        j.cmd.arguments?.name === s.name &&
        JSON.stringify(j.cmd.arguments?.args ?? []) === JSON.stringify(s.args ?? []),
    );
    if (twin && p.restarts < i.restartLimit) {
      claimed.add(twin.cmd!.id!);
      events.push(restarted);
      processes.push({ ...p, jobId: twin.cmd!.id!, running: true, restarts: p.restarts + 1 });
      continue;
    }
    if (p.restarts >= i.restartLimit) {
      events.push(
        `startCommands[${p.index}] (${p.name}) is not running; restartLimit ${i.restartLimit} reached`,
      );
      processes.push({ ...p, running: false });
      continue;
    }
    try {
      const jobId = await startService(c, i, id, p.index);
      claimed.add(jobId);
      events.push(restarted);
      processes.push({ ...p, jobId, running: true, restarts: p.restarts + 1 });
    } catch (err) {
      events.push(
        `startCommands[${p.index}] (${p.name}) had ended; restart failed: ${(err as Error).message}`,
      );
      processes.push({ ...p, running: false, restarts: p.restarts + 1 });
    }
  }
  return { processes, cpuPercent: Number(stats?.cpu ?? 0), rssBytes, overMemory, events };
}

export const core0ContainerProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: Partial<Core0ContainerInputs>, news: Partial<Core0ContainerInputs>) {
    return core0ContainerKit.check(news);
  },
  async diff(_id: string, olds: Core0ContainerOutputs, news: Core0ContainerInputs) {
    const d = core0ContainerKit.diff(olds, news);
    // Updated in place, compared here: state written before these fields existed holds nothing
    // for them, and their default is what such a container runs with (no change).
    const later = { restartLimit: 0, forgetWhenUnreachable: false } as const;
    const moved = (Object.keys(later) as (keyof typeof later)[]).some(
      (k) => (olds[k] ?? later[k]) !== (news[k] ?? later[k]),
    );
    return { changes: d.changes || moved, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },
  async create(raw: Core0ContainerInputs) {
    const i = normalise(raw);
    return withNode(
      label(i),
      conn(i),
      async (c) => {
        await checkCapacity(c, i);
        const id = await c.corex.create(createArgs(i));
        // core0 answers once coreX started; a root coreX cannot run makes it exit right away, and
        // then there is nothing to record (terminate is a no-op for an id core0 no longer has).
        if (!(await exists(c, id))) {
          await c.corex.terminate(id);
          throw new OperationError(
            label(i),
            `container ${id}`,
            "core0 created it but corex.list no longer shows it: its coreX exited at once",
            "that the plist has an empty /proc directory (coreX mounts proc there) and the files the start commands need",
          );
        }
        let processes: ProcessStatus[];
        try {
          processes = await runStartCommands(c, i, id);
        } catch (err) {
          await c.corex.terminate(id).catch(() => undefined);
          throw err;
        }
        return { id: String(id), outs: outputs(i, id, created(processes)) };
      },
      "node",
    );
  },
  async read(id: string, props: Core0ContainerOutputs) {
    const i = normalise(props);
    const containerId = Number(props.containerId ?? id);
    const down = await pingError(conn(i));
    if (down !== undefined)
      return {
        id,
        props: { ...props, events: [`node ${i.nodeAddress}:${i.nodePort} did not answer: ${down}`] },
      };
    return withNode(
      label(i),
      conn(i),
      async (c) => {
        const list = await c.corex.list();
        if (!(String(containerId) in list)) return { id: "", props: {} };
        const seen = await monitor(c, i, containerId, list[String(containerId)], props.processes ?? []);
        return { id: String(containerId), props: outputs(i, containerId, seen) };
      },
      "node",
    );
  },
  async update(id: string, olds: Core0ContainerOutputs, news: Core0ContainerInputs) {
    const i = normalise(news);
    const containerId = Number(olds.containerId ?? id);
    return withNode(
      label(i),
      conn(i),
      async (c) => {
        if (!(await exists(c, containerId))) {
          throw new OperationError(
            label(i),
            "update",
            `container ${containerId} is gone from node ${i.nodeAddress}`,
            "run `pulumi refresh` so the next up re-creates it",
          );
        }
        if (i.memoryMb !== olds.memoryMb || i.cpu !== olds.cpu) await checkCapacity(c, i);
        return {
          outs: outputs(i, containerId, {
            processes: olds.processes ?? [],
            cpuPercent: olds.cpuPercent ?? 0,
            rssBytes: olds.rssBytes ?? 0,
            overMemory: olds.overMemory ?? false,
            events: olds.events ?? [],
          }),
        };
      },
      "node",
    );
  },
  async delete(id: string, props: Core0ContainerOutputs) {
    const i = normalise(props);
    if (i.forgetWhenUnreachable && (await pingError(conn(i))) !== undefined) return;
    await withNode(
      label(i),
      conn(i),
      async (c) => {
        await c.corex.terminate(Number(props.containerId ?? id));
      },
      "node",
    );
  },
};

/** Core0Container's arguments: the fields, with `containerName` for `name` (default: the resource name). */
export type Core0ContainerArgs = Omit<KitArgs<typeof fields>, "name"> & {
  /** Name used in messages and state. Default: the resource name. */
  containerName?: pulumi.Input<string>;
};

export class Core0Container extends KitResource {
  declare readonly containerId: pulumi.Output<number>;
  declare readonly processes: pulumi.Output<ProcessStatus[]>;
  declare readonly cpuPercent: pulumi.Output<number>;
  declare readonly rssBytes: pulumi.Output<number>;
  declare readonly overMemory: pulumi.Output<boolean>;
  declare readonly events: pulumi.Output<string[]>;
  declare readonly name: pulumi.Output<string>;
  declare readonly tags: pulumi.Output<string[]>;

  constructor(name: string, args: Core0ContainerArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.nodePassword) {
      throw new InputError(
        resourceLabel(core0ContainerKit.decl.kind, name),
        "nodePassword",
        "is missing",
        "pass the node redis password (a secret)",
      );
    }
    const { containerName, ...rest } = args;
    super(core0ContainerKit, core0ContainerProvider, name, { ...rest, name: containerName ?? name }, opts);
  }
}
