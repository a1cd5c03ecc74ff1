/**
 * What the VM test programs share: a KvmHost adopting the libvirt testbed's network and pool (no
 * package install) and the guest image as a pinned image volume, from the program config
 * (g8os: kvmHost, kvmPort, kvmPrivateKey (secret), kvmHostKey, poolDir, networkName, networkBridge,
 * networkCidr, imageUrl, imageSha256).
 */
import * as pulumi from "@pulumi/pulumi";
import { KvmHost } from "../../../components/kvm-host";
import { imageVolume, type VmHostRef } from "../../../components/vm";

export function testbedKvmHost(config: pulumi.Config) {
  const connection = {
    host: config.require("kvmHost"),
    port: config.requireNumber("kvmPort"),
    user: "root",
    privateKey: config.requireSecret("kvmPrivateKey"),
    hostKeySha256: config.require("kvmHostKey"),
  };
  const kvm = new KvmHost("kvm", {
    ...connection,
    poolDir: config.require("poolDir"),
    network: {
      name: config.require("networkName"),
      bridge: config.require("networkBridge"),
      cidr: config.require("networkCidr"),
      forward: "none",
    },
    installPackages: false,
  });
  const host: VmHostRef = {
    connection,
    poolDir: kvm.poolDir,
    networkName: kvm.networkName,
    domainType: kvm.domainType,
  };
  const image = imageVolume(
    "guest-image",
    host,
    { url: config.require("imageUrl"), sha256: config.require("imageSha256"), prefix: "g8t-vm-debian" },
    { dependsOn: [kvm] },
  );
  return { host, image };
}
