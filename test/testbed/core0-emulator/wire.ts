/**
 * The emulator's own wire types for core0 v0.9.0, from threefoldtech/0-core@v0.9.0
 * `base/pm/core/command.go` (Command), `base/pm/core/result.go` (JobResult, states) and the
 * argument structs of `base/pm/process/systemprocess.go`, `core0/containers/manager.go`,
 * `core0/builtin/bridge.go`, `base/builtin/{kill,get_process_stats}.go`.
 * Deliberately independent of the product's client types (providers/core0).
 */
import { GoType, T, unmarshal } from "./gojson";

/** A decoded command (Go `core.Command`); `arguments` is the raw JSON value, undefined = nil. */
export interface WireCommand {
  /** Job id chosen by the client (any string; "" is allowed but its result is never pushed). */
  id: string;
  /** Command name, e.g. "core.system". */
  command: string;
  /** Parsed JSON (numbers as GoNumber) or undefined when absent/null (Go: nil *RawMessage). */
  arguments: unknown;
  /** Queue name; "" = run at once. */
  queue: string;
  /** Statsd interval, s (not emulated). */
  stats_interval: number;
  /** Seconds before the job is stopped with state TIMEOUT; 0 = no limit. */
  max_time: number;
  /** Runs of a failing job (restart 1 s apart while runs < max_restart); 0 = once. */
  max_restart: number;
  /** Seconds between reruns until killed; 0 = none. */
  recurring_period: number;
  /** Levels forwarded to loggers (logging only, not emulated). */
  log_levels: number[] | undefined;
  /** A Go string: a JSON list here makes the whole command undecodable. */
  tags: string;
}

export const COMMAND_TYPE: GoType = {
  kind: "struct",
  name: "core.Command",
  fields: [
    ["id", T.string],
    ["command", T.string],
    ["arguments", T.raw],
    ["queue", T.string],
    ["stats_interval", T.int],
    ["max_time", T.int],
    ["max_restart", T.int],
    ["recurring_period", T.int],
    ["log_levels", { kind: "slice", elem: T.int, name: "[]int" }],
    ["tags", T.string],
  ],
};

/** `json.Unmarshal(payload, &command)` as base/sinkclient.go GetNext does. */
export function decodeCommand(payload: string): { cmd?: WireCommand; error?: string } {
  const r = unmarshal<WireCommand>(payload, COMMAND_TYPE);
  return r.error ? { error: r.error } : { cmd: r.value };
}

export const STATE = {
  SUCCESS: "SUCCESS",
  ERROR: "ERROR",
  TIMEOUT: "TIMEOUT",
  KILLED: "KILLED",
  UNKNOWN_CMD: "UNKNOWN_CMD",
  /** Spelled so in core0 (result.go). */
  DUPLICATE_ID: "DUPILICATE_ID",
} as const;

/** Go `core.JobResult`, field order as the struct (the encoder writes them in this order). */
export interface WireResult {
  /** The command's id. */
  id: string;
  /** The command's name ("" for container runners). */
  command: string;
  /** Result text: a builtin's JSON value, a process's result-level message, or an error text. */
  data: string;
  /** omitempty: absent when nil (spawn failure, UNKNOWN_CMD, DUPILICATE_ID); else [stdout, stderr]. */
  streams?: string[];
  /** omitempty: absent when "". */
  critical?: string;
  /** Level of the message in `data` (20 for builtins); 0 when none. */
  level: number;
  /** SUCCESS, ERROR, TIMEOUT, KILLED, UNKNOWN_CMD or DUPILICATE_ID. */
  state: string;
  /** Epoch milliseconds; 0 when the command never ran. */
  starttime: number;
  /** Run time, ms; 0 when the command never ran. */
  time: number;
  /** The command's tags string. */
  tags: string;
}

/** NewBasicJobResult: id, command, tags from the command; everything else zero. */
export function basicResult(cmd: WireCommand): WireResult {
  return {
    id: cmd.id,
    command: cmd.command,
    data: "",
    streams: undefined,
    critical: undefined,
    level: 0,
    state: "",
    starttime: 0,
    time: 0,
    tags: cmd.tags,
  };
}

const STRING_MAP: GoType = { kind: "map", key: "string", value: T.string, name: "map[string]string" };

/** process.SystemCommandArguments (its decode error is ignored by NewSystemProcess). */
export const SYSTEM_ARGS: GoType = {
  kind: "struct",
  name: "process.SystemCommandArguments",
  fields: [
    ["name", T.string],
    ["dir", T.string],
    ["args", { kind: "slice", elem: T.string, name: "[]string" }],
    ["env", STRING_MAP],
    ["stdin", T.bytes],
  ],
};
export interface SystemArgs {
  /** Program: a path, or a name looked up in core0's (coreX's) PATH. */
  name: string;
  /** Working directory; "" = core0's cwd "/". */
  dir: string;
  /** Arguments after the program. */
  args?: string[];
  /** The whole environment when non-empty (key/value pairs in JSON order). */
  env?: Array<[string, string]>;
  /** Bytes written to stdin (base64 on the wire). */
  stdin?: Buffer;
}

export const CREATE_ARGS: GoType = {
  kind: "struct",
  name: "containers.ContainerCreateArguments",
  fields: [
    ["root", T.string],
    ["mount", STRING_MAP],
    [
      "network",
      {
        kind: "struct",
        name: "containers.Network",
        fields: [
          ["zerotier", T.string],
          [
            "bridge",
            {
              kind: "slice",
              name: "[]containers.ContainerBridgeSettings",
              elem: { kind: "array", len: 2, elem: T.string, name: "containers.ContainerBridgeSettings" },
            },
          ],
        ],
      },
    ],
    ["port", { kind: "map", key: "int", value: T.int, name: "map[int]int" }],
  ],
};
export interface CreateArgs {
  /** Plist URL (file://, plain path, http(s)://). */
  root: string;
  /** [host dir or plist URL, path in the container] pairs. */
  mount?: Array<[string, string]>;
  /** ZeroTier network id (not emulated) and [bridge name, setup] pairs (validated). */
  network: { zerotier: string; bridge?: Array<[string, string]> };
  /** [host port, container port] pairs (validated, not forwarded). */
  port?: Array<[number, number]>;
}

export const DISPATCH_ARGS: GoType = {
  kind: "struct",
  name: "containers.ContainerDispatchArguments",
  fields: [
    ["container", T.uint16],
    ["command", COMMAND_TYPE],
  ],
};
export const TERMINATE_ARGS: GoType = {
  kind: "struct",
  name: "containers.ContainerTerminateArguments",
  fields: [["container", T.uint64]],
};
export const ID_ARGS = (name: string): GoType => ({ kind: "struct", name, fields: [["id", T.string]] });
export const BRIDGE_CREATE_ARGS: GoType = {
  kind: "struct",
  name: "builtin.BridgeCreateArguments",
  fields: [
    ["name", T.string],
    ["hwaddr", T.string],
    [
      "network",
      {
        kind: "struct",
        name: "builtin.BridgeNetwork",
        fields: [
          ["mode", T.string],
          ["nat", T.bool],
          ["settings", T.raw],
        ],
      },
    ],
  ],
};
export const BRIDGE_DELETE_ARGS: GoType = {
  kind: "struct",
  name: "builtin.BridgeDeleteArguments",
  fields: [["name", T.string]],
};
