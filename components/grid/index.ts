/**
 * G8osGrid: the seed's phase 2. A G8OS management network (ZeroTier id + the nodes' redis password),
 * core0 nodes known by their ZeroTier IPs (each verified and monitored over redis: refresh pings it
 * and reads its load), and apps installed as core0 containers from their plist, with the resources
 * they need, their processes started at install.
 */
import * as pulumi from "@pulumi/pulumi";
import { Core0Container, Core0Node } from "../../providers/core0";
import { GridJanitor } from "./janitor-resource";
import { GridMonitor } from "./monitor-resource";
import { GridPlacement } from "./placement-resource";
import type { GridSpec } from "./spec";

export * from "./spec";
export * from "./placement";
export * from "./health";

export interface G8osGridArgs {
  /** The validated grid file (see spec.ts). Required. */
  spec: GridSpec;
  /** The redis password of every core0 node of the management network (secret). Required. */
  redisPassword: pulumi.Input<string>;
  /** Bot token for alerts to the grid file's alerts.telegramChatId (secret). Unset = no alerts. */
  telegramBotToken?: pulumi.Input<string>;
  /** Bot API root. Default https://api.telegram.org. */
  telegramApiRoot?: string;
}

export class G8osGrid extends pulumi.ComponentResource {
  /** Per node: address and what it reported (version, memory, CPUs). */
  readonly nodes: Record<string, Core0Node> = {};
  /** Per app: its container id on its node. */
  readonly apps: Record<string, pulumi.Output<number>> = {};
  /** Per app: its container (processes, CPU, RSS, over memory, what refresh did). */
  readonly containers: Record<string, Core0Container> = {};
  /** Where each app runs and why (components/grid/placement.ts). */
  readonly placement: GridPlacement;
  /** Node monitoring and health checks, refreshed by `pulumi refresh` (health.ts). */
  readonly monitor: GridMonitor;
  /** Terminates containers left on nodes that did not answer, once they do (janitor-resource.ts). */
  readonly janitor: GridJanitor;

  constructor(name: string, args: G8osGridArgs, opts?: pulumi.ComponentResourceOptions) {
    super("g8os:grid:G8osGrid", name, {}, opts);
    const child = { parent: this };

    for (const n of args.spec.nodes) {
      this.nodes[n.name] = new Core0Node(
        `${name}-${n.name}`,
        { address: n.address, port: n.port, password: args.redisPassword },
        child,
      );
    }

    this.monitor = new GridMonitor(
      `${name}-monitor`,
      {
        grid: name,
        nodes: args.spec.nodes.map((n) => ({ name: n.name, address: n.address, port: n.port })),
        password: args.redisPassword,
        thresholds: args.spec.health,
        telegram:
          args.spec.alerts && args.telegramBotToken
            ? {
                chatId: args.spec.alerts.telegramChatId,
                token: args.telegramBotToken,
                apiRoot: args.telegramApiRoot,
              }
            : undefined,
      },
      child,
    );

    // Placement sees the nodes' reported capacity (unknown before they answered) and, through its
    // own state, the previous placement: placement-resource.ts says why it is a resource.
    this.placement = new GridPlacement(
      `${name}-placement`,
      {
        nodes: args.spec.nodes.map((n) => ({
          name: n.name,
          memoryMb: n.memoryMb,
          cpu: n.cpu,
          labels: n.labels,
          address: n.address,
          port: n.port,
          reportedMemoryBytes: this.nodes[n.name].memoryBytes,
          reportedCpu: this.nodes[n.name].cpuCount,
        })),
        apps: args.spec.apps.map((a) => ({
          name: a.name,
          memoryMb: a.memoryMb ?? 0,
          cpu: a.cpu ?? 0,
          labels: a.labels,
          antiAffinity: a.antiAffinity,
          ...(a.node !== undefined ? { node: a.node } : {}),
          failover: a.failover,
        })),
        password: args.redisPassword,
      },
      child,
    );
    const nodeOf = (app: string) =>
      this.placement.assignments.apply((p) => args.spec.nodes.find((n) => n.name === p[app].node)!);

    for (const a of args.spec.apps) {
      const spec = nodeOf(a.name);
      const container = new Core0Container(
        `${name}-${a.name}`,
        {
          nodeAddress: spec.address,
          nodePort: spec.port,
          nodePassword: args.redisPassword,
          plistUrl: a.plist,
          containerName: a.name,
          tags: [`grid:${name}`],
          ports: a.ports,
          mounts: a.mounts,
          env: a.env,
          memoryMb: a.memoryMb,
          cpu: a.cpu,
          startCommands: a.processes.map(({ oneshot, ...p }) => ({ ...p, background: !oneshot })),
          restartLimit: a.restartLimit,
          // A failed-over app's old container stays on the silent node; the janitor removes it later.
          forgetWhenUnreachable: a.failover,
        },
        // Through the placement, every node answered (right password, reachable) before anything is installed.
        child,
      );
      this.apps[a.name] = container.containerId;
      this.containers[a.name] = container;
    }
    const refs: Record<
      string,
      pulumi.Output<{ node: string; address: string; port: number; containerId: number }>
    > = {};
    for (const a of args.spec.apps)
      refs[a.name] = pulumi
        .all([nodeOf(a.name), this.containers[a.name].containerId])
        .apply(([n, containerId]) => ({ node: n.name, address: n.address, port: n.port, containerId }));
    this.janitor = new GridJanitor(
      `${name}-janitor`,
      { containers: refs, password: args.redisPassword },
      child,
    );
    this.registerOutputs({
      apps: this.apps,
      placement: this.placement.assignments,
      health: this.monitor.checks,
    });
  }
}
