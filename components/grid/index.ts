/**
 * G8osGrid: the seed's phase 2. A G8OS management network (ZeroTier id + the nodes' redis password),
 * core0 nodes known by their ZeroTier IPs (each verified and monitored over redis: refresh pings it
 * and reads its load), and apps installed as core0 containers from their plist, with the resources
 * they need, their processes started at install.
 */
import * as pulumi from "@pulumi/pulumi";
import { Core0Container, Core0Node } from "../../providers/core0";
import type { GridSpec } from "./spec";

export * from "./spec";

export interface G8osGridArgs {
  /** The validated grid file (see spec.ts). Required. */
  spec: GridSpec;
  /** The redis password of every core0 node of the management network (secret). Required. */
  redisPassword: pulumi.Input<string>;
}

export class G8osGrid extends pulumi.ComponentResource {
  /** Per node: address and what it reported (version, memory, CPUs). */
  readonly nodes: Record<string, Core0Node> = {};
  /** Per app: its container id on its node. */
  readonly apps: Record<string, pulumi.Output<number>> = {};

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

    for (const a of args.spec.apps) {
      const node = this.nodes[a.node];
      const spec = args.spec.nodes.find((n) => n.name === a.node)!;
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
          env: a.env,
          memoryMb: a.memoryMb,
          cpu: a.cpu,
          startCommands: a.processes.map(({ oneshot, ...p }) => ({ ...p, background: !oneshot })),
        },
        // The node must answer (right password, reachable) before anything is installed on it.
        { ...child, dependsOn: [node] },
      );
      this.apps[a.name] = container.containerId;
    }
    this.registerOutputs({ apps: this.apps });
  }
}
