/**
 * Harness program: a Core0Node and one Core0Container on it.
 * Config: g8os:core0Address, g8os:core0Port, g8os:core0Password (secret), g8os:plistUrl,
 * g8os:containerEnv (JSON map, optional), g8os:startScript (optional, run with /bin/sh -c in the
 * container at start), g8os:memoryMb (optional, default 16).
 */
import * as pulumi from "@pulumi/pulumi";
import { Core0Container, Core0Node } from "../../../providers/core0";

const config = new pulumi.Config("g8os");
const password = config.requireSecret("core0Password");

const node = new Core0Node("test-node", {
  address: config.require("core0Address"),
  port: config.requireNumber("core0Port"),
  password,
});

const startScript = config.get("startScript");
const app = new Core0Container("app", {
  nodeAddress: node.address,
  nodePort: node.port,
  nodePassword: password,
  plistUrl: config.require("plistUrl"),
  tags: ["g8os-test"],
  env: config.getObject<Record<string, string>>("containerEnv") ?? {},
  ports: { "18080": 80 },
  memoryMb: config.getNumber("memoryMb") ?? 16,
  cpu: 1,
  startCommands: startScript ? [{ name: "/bin/sh", args: ["-c", startScript] }] : [],
});

export = {
  nodeVersion: node.version,
  nodeCpus: node.cpuCount,
  nodeMemory: node.memoryBytes,
  containerId: app.containerId,
};
