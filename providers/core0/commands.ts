/**
 * The core0 commands a Core0Client offers, grouped as the node names them (info.*, job.*, corex.*,
 * zerotier.*, aggregator.*): typed wrappers over `Core0Client.call`, with the protocol differences
 * each group has. Core0Client builds one of each.
 *
 * Plain module: no Pulumi imports.
 */
import { InputError } from "../shared/errors";
import type { Core0Client } from "./client";
import {
  V09_CREATE_KEYS,
  type AggregatedMetric,
  type CallOptions,
  type ContainerCreateArgs,
  type ContainerInfo,
  type ContainerStats,
  type Core0Result,
  type CpuInfo,
  type JobInfo,
  type MemInfo,
  type NicInfo,
  type OsInfo,
  type ZerotierNetworkInfo,
} from "./model";

/** info.*: what the node reports about itself. */
export function infoCommands(c: Core0Client) {
  return {
    cpu: (o?: CallOptions) => c.call<CpuInfo[]>("info.cpu", {}, o),
    mem: (o?: CallOptions) => c.call<MemInfo>("info.mem", {}, o),
    nic: (o?: CallOptions) => c.call<NicInfo[]>("info.nic", {}, o),
    os: (o?: CallOptions) => c.call<OsInfo>("info.os", {}, o),
  };
}

/** v1.2 only: job.list / job.kill (refused for v0.9.0, which lacks them). */
export function jobCommands(c: Core0Client) {
  return {
    list: (id?: string, o?: CallOptions) => c.call<JobInfo[]>("job.list", id ? { id } : {}, o),
    kill: (id: string, signal = 9, o?: CallOptions) => c.call<boolean>("job.kill", { id, signal }, o),
  };
}

/** corex.*: containers (v0.9.0 create arguments and no tags; v1.2 adds tags and find). */
export function corexCommands(c: Core0Client) {
  const api = {
    /**
     * Creates a container; returns its id (core0 counts up from 1). v0.9.0 takes only root, mount,
     * network, port and gives containers no tags: other keys, or tags, are refused (they would be
     * silently ignored). v1.2: `tags` become the container's tags.
     */
    create: async (args: ContainerCreateArgs, tags: string[] = [], o: CallOptions = {}): Promise<number> => {
      if (c.protocol === "v0.9.0") {
        const extra = Object.keys(args).filter((k) => !V09_CREATE_KEYS.includes(k));
        if (extra.length > 0 || tags.length > 0) {
          throw new InputError(
            c.label,
            `command corex.create: ${extra.length ? extra.join(", ") : "tags"}`,
            "does not exist in core0 v0.9.0's corex.create (it reads root, mount, network, port only)",
            "leave it out and keep the returned container id to find the container again",
          );
        }
        return c.call<number>("corex.create", args as Record<string, unknown>, o);
      }
      const own = o.tags === undefined ? [] : typeof o.tags === "string" ? [o.tags] : o.tags;
      return c.call<number>("corex.create", args as Record<string, unknown>, {
        ...o,
        tags: [...own, ...tags],
      });
    },
    /** v0.9.0: `{"<id>": {cpu, rss, vms, swap, debug} | null}`; v1.2 adds `container` (ContainerInfo). */
    list: (o?: CallOptions) =>
      c.call<Record<string, ContainerStats | ContainerInfo | null>>("corex.list", {}, o),
    /** v1.2 only (refused for v0.9.0): containers whose tags include all of `tags`. */
    find: (tags: string[], o?: CallOptions) =>
      c.call<Record<string, ContainerInfo>>("corex.find", { tags }, o),
    /** Terminates a container. v0.9.0 answers SUCCESS for an unknown id too (a no-op). */
    terminate: (container: number, o?: CallOptions) => c.call<null>("corex.terminate", { container }, o),
    /**
     * Dispatches a command into a container; returns the inner job id core0 made (the id in
     * `data`: core0 replaces any id and tags of the inner command). Read it with `result`.
     * Unknown container: ERROR `container does not exist`.
     */
    dispatch: (
      container: number,
      command: {
        command: string;
        arguments: Record<string, unknown>;
        queue?: string;
        max_time?: number;
        /** v1.2 only; v0.9.0 replaces the inner command's tags with its route anyway. */
        tags?: string[];
      },
      o?: CallOptions,
    ) => {
      const inner: Record<string, unknown> = {
        command: command.command,
        arguments: command.arguments,
        queue: command.queue ?? "",
      };
      if (command.max_time) inner.max_time = command.max_time;
      inner.tags = c.protocol === "v0.9.0" ? "" : (command.tags ?? null);
      return c.call<string>("corex.dispatch", { container, command: inner }, o);
    },
    /** Dispatches, then waits for the inner job's result (raw, any state). */
    dispatchAndWait: async (
      container: number,
      command: { command: string; arguments: Record<string, unknown>; max_time?: number; tags?: string[] },
      o: CallOptions = {},
    ): Promise<Core0Result> => {
      const inner = await api.dispatch(container, command, o);
      return c.result(inner, {
        timeoutMs: o.timeoutMs,
        command: `${command.command} in container ${container}`,
      });
    },
  };
  return api;
}

/** v1.2 only: zerotier.* (refused for v0.9.0, which lacks them). */
export function zerotierCommands(c: Core0Client) {
  return {
    list: (o?: CallOptions) => c.call<ZerotierNetworkInfo[]>("zerotier.list", {}, o),
    join: (network: string, o?: CallOptions) => c.call<null>("zerotier.join", { network }, o),
    leave: (network: string, o?: CallOptions) => c.call<null>("zerotier.leave", { network }, o),
  };
}

/** v1.2 only: aggregator.query (refused for v0.9.0, which lacks it). */
export function aggregatorCommands(c: Core0Client) {
  return {
    query: (p: { key?: string; tags?: Record<string, string> } = {}, o?: CallOptions) =>
      c.call<Record<string, AggregatedMetric>>(
        "aggregator.query",
        { key: p.key ?? "", tags: p.tags ?? {} },
        o,
      ),
  };
}
