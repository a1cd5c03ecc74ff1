/**
 * Harness program: a KvmHost adopting the libvirt testbed's network and pool, the guest image as a
 * pinned image volume, and one UbuntuVm in sandbox mode (no ZeroTier: the testbed guests have no
 * zerotier-one) booting the debootstrapped Debian image's kernel directly.
 * Config (g8os:*): kvmHost, kvmPort, kvmPrivateKey (secret), kvmHostKey, poolDir, networkName,
 * networkBridge, networkCidr, imageUrl, imageSha256, kernel, initrd, cmdline, domainName, groupKey,
 * vmCount (default 1: more VMs named <domainName>-2.., created in parallel, for bench/vms.ts),
 * addressSource (default "none": no wait for the guest's address; "lease" waits for its DHCP lease).
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { testbedKvmHost } from "./testbed-host";
import { UbuntuVm } from "../../../components/vm";
import type { AddressSource } from "../../../providers/libvirt";

const config = new pulumi.Config("g8os");
const { host, image } = testbedKvmHost(config);
const deployKey = new tls.PrivateKey("deploy-key", { algorithm: "ED25519" });
const vmCount = config.getNumber("vmCount") ?? 1;
const vms = Array.from({ length: vmCount }, (_, i) => {
  const suffix = i === 0 ? "" : `-${i + 1}`;
  return new UbuntuVm(`build-1-node${suffix}`, {
    host,
    envNumber: 1,
    role: "build-node",
    domainName: `${config.require("domainName")}${suffix}`,
    baseImagePath: image.path,
    memoryMiB: 512,
    vcpus: 1,
    diskSize: "4G",
    deployKey,
    groupKeys: [config.require("groupKey")],
    directBoot: {
      kernel: config.require("kernel"),
      initrd: config.require("initrd"),
      cmdline: config.require("cmdline"),
    },
    // Default: keep the run short (real.test.ts in test/libvirt proves lease + SSH on this image).
    addressSource: (config.get("addressSource") as AddressSource | undefined) ?? "none",
  });
});
const node = vms[0];

export = { domainUuid: node.domainUuid, hostKeySha256: node.hostKeySha256, imagePath: image.path };
