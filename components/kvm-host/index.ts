/**
 * KvmHost: a machine prepared to run VMs with libvirt/QEMU, reached over SSH.
 * Installs what is missing (libvirt, QEMU, cloud-image-utils...), makes sure libvirtd runs,
 * creates the pool directory and a libvirt network, and reports whether KVM acceleration is
 * usable. VMs on it are LibvirtVolume + CloudInitSeed + LibvirtDomain resources that take
 * `connection`, `poolDir`, `networkName` and `domainType` from this component's outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { KvmHostSetup, type HostNetworkSpec } from "../../providers/libvirt/host-setup";
import { InputError, resourceLabel } from "../../providers/shared/errors";
import type { SshTargetArgs } from "../../providers/shared/ssh-target";

/**
 * The KVM host's SSH connection is the shared model (`SshTargetArgs`, providers/shared/ssh-target.ts):
 * `host` (required), `port` (default 22), `user` (root, or a user in group `libvirt` with sudo for
 * package installs; default "root"), `privateKey` (required; secret in state) and `hostKeySha256`
 * (pinned `SHA256:...`; unset = accept any: pin it in production, as the build stack does).
 */
export interface KvmHostArgs extends SshTargetArgs {
  /** Absolute directory for images and seed ISOs. Default "/var/lib/g8os/images". Created mode 0711 when missing. */
  poolDir?: pulumi.Input<string>;
  /**
   * libvirt network for the VMs (DHCP by libvirt's dnsmasq, so `addressSource: "lease"` works).
   * Default: `{ name: "g8os", bridge: "g8os-br0", cidr: "10.216.0.0/24", forward: "nat" }`.
   * Name 1..63 of [A-Za-z0-9_.-]; bridge <= 15 chars; cidr /8../29; forward "nat" or "none".
   * An existing network of that name is adopted as is (and not removed on delete).
   */
  network?: pulumi.Input<HostNetworkSpec>;
  /**
   * "auto" (default): KVM only on bare metal with /dev/kvm, VT-x/AMD-V and libvirt KVM support;
   * a host that is itself a VM gets "qemu" (TCG), because nested KVM guests hang on the machines we
   * checked. "kvm" or "qemu" force the choice.
   */
  domainType?: pulumi.Input<"auto" | "kvm" | "qemu">;
  /** Install missing packages with apt. Default true; false = fail naming the missing packages. */
  installPackages?: pulumi.Input<boolean>;
}

export const DEFAULT_POOL_DIR = "/var/lib/g8os/images";
export const DEFAULT_NETWORK: HostNetworkSpec = {
  name: "g8os",
  bridge: "g8os-br0",
  cidr: "10.216.0.0/24",
  forward: "nat",
};

export class KvmHost extends pulumi.ComponentResource {
  /** "kvm" or "qemu": what VMs on this host should use. */
  readonly domainType: pulumi.Output<"kvm" | "qemu">;
  /** Why that domain type was chosen. */
  readonly domainTypeReason: pulumi.Output<string>;
  readonly poolDir: pulumi.Output<string>;
  readonly networkName: pulumi.Output<string>;
  readonly libvirtVersion: pulumi.Output<string>;

  constructor(name: string, args: KvmHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("g8os:kvm:KvmHost", name, {}, opts);
    if (args.host === undefined || args.host === "")
      throw new InputError(
        resourceLabel("KvmHost", name),
        "host",
        "is required",
        "give the address of the machine to run VMs on",
      );
    if (args.privateKey === undefined)
      throw new InputError(
        resourceLabel("KvmHost", name),
        "privateKey",
        "is required",
        "pass the SSH private key (as a secret)",
      );
    const network = args.network ?? DEFAULT_NETWORK;
    const poolDir = args.poolDir ?? DEFAULT_POOL_DIR;
    const setup = new KvmHostSetup(
      `${name}-setup`,
      {
        host: args.host,
        port: args.port,
        user: args.user,
        privateKey: args.privateKey,
        hostKeySha256: args.hostKeySha256,
        name,
        poolDir,
        network,
        domainType: args.domainType ?? "auto",
        installPackages: args.installPackages ?? true,
      },
      { parent: this },
    );
    this.domainType = setup.effectiveDomainType;
    this.domainTypeReason = setup.domainTypeReason;
    this.libvirtVersion = setup.libvirtVersion;
    this.poolDir = pulumi.output(poolDir);
    this.networkName = pulumi.output(network).apply((n) => n.name);
    this.registerOutputs({
      domainType: this.domainType,
      domainTypeReason: this.domainTypeReason,
      poolDir: this.poolDir,
      networkName: this.networkName,
      libvirtVersion: this.libvirtVersion,
    });
  }
}
