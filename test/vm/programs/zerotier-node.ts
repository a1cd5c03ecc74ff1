/**
 * Harness program: one UbuntuVm ON ZEROTIER, as the build stack makes its build node: a private
 * network on the ZeroTier controller stand-in, the VM's member pre-authorised with a fixed IP, its
 * identity generated on the KVM host (`zerotier-idtool generate`), zerotier-one installed and joined
 * by cloud-init, SSH over ZeroTier only (ufw, dead-man switch), the key block, a Telegram announcement.
 * The VM's second NIC is on the testbed's ZeroTier bridge: the wire the node-agent stand-in uses.
 * Config (g8os:*): as build-node.ts (kvm*, poolDir, network*, imageUrl, imageSha256, kernel, initrd,
 * cmdline, domainName, groupKey) plus zerotierApiUrl, zerotierToken (secret), zerotierRoute,
 * zerotierAddress, zerotierInstallCommand, zerotierBridge, telegramApiRoot, telegramBotToken
 * (secret), telegramChatId, memoryMiB (default 512).
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { testbedKvmHost } from "./testbed-host";
import { UbuntuVm } from "../../../components/vm";
import { ZerotierNetwork } from "../../../providers/zerotier";

const config = new pulumi.Config("g8os");
const { host, image } = testbedKvmHost(config);
const api = {
  backend: "controller" as const,
  apiUrl: config.require("zerotierApiUrl"),
  token: config.requireSecret("zerotierToken"),
};
const network = new ZerotierNetwork("build-1-network", {
  ...api,
  name: "g8t-vm-build-1",
  private: true,
  routes: [{ target: config.require("zerotierRoute") }],
});
const deployKey = new tls.PrivateKey("deploy-key", { algorithm: "ED25519" });
const node = new UbuntuVm("build-1-node", {
  host,
  envNumber: 1,
  role: "build-node",
  domainName: config.require("domainName"),
  baseImagePath: image.path,
  memoryMiB: config.getNumber("memoryMiB") ?? 512,
  vcpus: 1,
  diskSize: "4G",
  deployKey,
  groupKeys: [config.require("groupKey")],
  zerotier: {
    ...api,
    networkId: network.networkId,
    address: config.require("zerotierAddress"),
    timeoutSec: 900,
  },
  zerotierInstallCommand: config.require("zerotierInstallCommand"),
  // TCG guests are slow: the confirmation SSH connection over ZeroTier may take a while.
  firewallConfirmTimeoutSec: config.getNumber("firewallConfirmTimeoutSec") ?? 240,
  extraNics: [{ bridge: config.require("zerotierBridge") }],
  directBoot: {
    kernel: config.require("kernel"),
    initrd: config.require("initrd"),
    cmdline: config.require("cmdline"),
  },
  telegram: {
    token: config.requireSecret("telegramBotToken"),
    chatId: config.require("telegramChatId"),
    apiRoot: config.require("telegramApiRoot"),
  },
});

export = {
  networkId: network.networkId,
  zerotierIp: node.zerotierIp,
  domainUuid: node.domainUuid,
  hostKeySha256: node.hostKeySha256,
};
