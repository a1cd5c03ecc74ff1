/**
 * Core0Container's declaration: its fields (type, default, replace rule, doc), the rules across
 * fields, its inputs and outputs, and the small helpers every step shares (connection, label,
 * normalise). The lifecycle is in container-lifecycle.ts, the provider in container.ts.
 */
import { type CheckFailure } from "../shared/errors";
import {
  hostname,
  intInRange,
  nonEmptyString,
  nonEmptyStringList,
  stringMap,
  type Validator,
} from "../shared/validate";
import { containsUnknown } from "../shared/dynamic";
import { declareResource, required, withDefault, type KitInputs } from "../shared/resource-kit";
import type { Core0Connection } from "./common";

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

export const fields = {
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

export const conn = (i: Core0ContainerInputs): Core0Connection => ({
  address: i.nodeAddress,
  port: i.nodePort,
  password: i.nodePassword,
});
export const label = (i: object): string => core0ContainerKit.label(i);

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
export const normalise = (i: object): Core0ContainerInputs =>
  core0ContainerKit.normalise(i) as Core0ContainerInputs;
