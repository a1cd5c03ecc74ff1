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
import { InputError, OperationError, resourceLabel } from "../shared/errors";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import { pingError, withNode } from "./common";
import {
  type Core0ContainerInputs,
  type Core0ContainerOutputs,
  type ProcessStatus,
  conn,
  core0ContainerKit,
  fields,
  label,
  normalise,
} from "./container-schema";
import {
  checkCapacity,
  created,
  createArgs,
  exists,
  monitor,
  outputs,
  runStartCommands,
} from "./container-lifecycle";

export {
  type ContainerBridge,
  type StartCommand,
  type ProcessStatus,
  type Core0ContainerInputs,
  type Core0ContainerOutputs,
  core0ContainerKit,
} from "./container-schema";

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
