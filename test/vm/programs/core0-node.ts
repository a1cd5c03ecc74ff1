/**
 * Harness program: one Core0Vm ON ZEROTIER, as the build stack makes its core0 test nodes: a private
 * network on the ZeroTier controller stand-in, the node's identity generated on the KVM host and
 * its member pre-authorised with a fixed IP, direct kernel boot of the testbed's core0 image with
 * `zerotier=<network id>` plus the testbed flags, the redis password and identity on the seed ISO,
 * and the node checked over redis at its ZeroTier IP (Core0Node). The second NIC is on the
 * testbed's ZeroTier bridge: the wire the image's node-agent stand-in uses.
 * Config (g8os:*): kvm*, poolDir, network*, imageUrl, imageSha256 (testbed-host.ts), core0Kernel,
 * core0Initrd, core0KernelFlags (JSON list), domainName, zerotierApiUrl, zerotierToken (secret),
 * zerotierRoute, zerotierAddress, zerotierBridge, consoleLogPath, memoryMiB (default 1024).
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { testbedKvmHost } from "./testbed-host";
import { Core0Vm } from "../../../components/vm";
import { ZerotierNetwork } from "../../../providers/zerotier";

const config = new pulumi.Config("g8os");
const { host } = testbedKvmHost(config);
const api = {
  backend: "controller" as const,
  apiUrl: config.require("zerotierApiUrl"),
  token: config.requireSecret("zerotierToken"),
};
const network = new ZerotierNetwork("build-1-network", {
  ...api,
  name: "g8t-vm-core0-1",
  private: true,
  routes: [{ target: config.require("zerotierRoute") }],
});
// Letters and digits only: the image's seed reader takes the password as one redis.conf word.
const redisPassword = new random.RandomPassword("redis-password", { length: 24, special: false });
const node = new Core0Vm("build-1-core0-1", {
  host,
  envNumber: 1,
  index: 1,
  domainName: config.require("domainName"),
  kernelPath: config.require("core0Kernel"),
  initrdPath: config.require("core0Initrd"),
  kernelFlags: config.requireObject<string[]>("core0KernelFlags"),
  memoryMiB: config.getNumber("memoryMiB") ?? 1024,
  vcpus: 1,
  redisPassword: redisPassword.result,
  zerotier: {
    ...api,
    networkId: network.networkId,
    address: config.require("zerotierAddress"),
  },
  verifyRedis: true,
  // TCG: loading a ~150 MB initramfs and starting node takes minutes.
  bootTimeoutSec: 900,
  extraNics: [{ bridge: config.require("zerotierBridge") }],
  consoleLogPath: config.require("consoleLogPath"),
});

export = {
  networkId: network.networkId,
  zerotierIp: node.zerotierIp,
  domainUuid: node.domainUuid,
  cmdline: node.cmdline,
};
