/**
 * Harness program: a KvmHost (adopting the testbed's network and pool) and one VM on it made of
 * a base volume (file:// URL + sha256), a qcow2 overlay, a cloud-init seed and a domain.
 * Config (g8os:*): kvmHost, kvmPort, kvmPrivateKey (secret), kvmHostKey, poolDir, networkName,
 * networkBridge, networkCidr, baseImageUrl, baseImageSha256, kernel, initrd, cmdline, vmName,
 * memoryMiB, guestPublicKey, addressSource.
 */
import * as pulumi from "@pulumi/pulumi";
import { KvmHost } from "../../../components/kvm-host";
import { CloudInitSeed, LibvirtDomain, LibvirtVolume, type AddressSource } from "../../../providers/libvirt";

const config = new pulumi.Config("g8os");
const connection = {
  host: config.require("kvmHost"),
  port: config.requireNumber("kvmPort"),
  user: "root",
  privateKey: config.requireSecret("kvmPrivateKey"),
  hostKeySha256: config.require("kvmHostKey"),
};
const poolDir = config.require("poolDir");
const vmName = config.require("vmName");

const host = new KvmHost("kvm", {
  ...connection,
  poolDir,
  network: {
    name: config.require("networkName"),
    bridge: config.require("networkBridge"),
    cidr: config.require("networkCidr"),
    forward: "none",
  },
  installPackages: false,
});

const base = new LibvirtVolume("base", {
  ...connection,
  name: `${vmName}-base.qcow2`,
  poolDir: host.poolDir,
  sourceUrl: config.require("baseImageUrl"),
  sha256: config.require("baseImageSha256"),
});

const disk = new LibvirtVolume("disk", {
  ...connection,
  name: `${vmName}.qcow2`,
  poolDir: host.poolDir,
  backingFile: base.path,
  size: "4G",
});

const seed = new CloudInitSeed("seed", {
  ...connection,
  name: `${vmName}-seed`,
  poolDir: host.poolDir,
  hostname: vmName,
  userData: [
    "#cloud-config",
    "users:",
    "  - name: tester",
    "    ssh_authorized_keys:",
    `      - ${config.require("guestPublicKey")}`,
    "",
  ].join("\n"),
});

const vm = new LibvirtDomain("vm", {
  ...connection,
  name: vmName,
  memoryMiB: config.requireNumber("memoryMiB"),
  vcpus: 1,
  domainType: host.domainType,
  disks: [{ path: disk.path }],
  seedIso: seed.path,
  nics: [{ network: host.networkName }],
  kernel: config.require("kernel"),
  initrd: config.require("initrd"),
  cmdline: config.require("cmdline"),
  addressSource: (config.get("addressSource") ?? "lease") as AddressSource,
});

export = {
  domainType: host.domainType,
  uuid: vm.uuid,
  ipAddress: vm.ipAddress,
  diskPath: disk.path,
  basePath: base.path,
  seedPath: seed.path,
};
