/**
 * UbuntuVm: the build node and the cockpit node. A qcow2 overlay on the shared Ubuntu cloud image, a
 * cloud-init seed (user, SSH key group + deploy key, pinned host key, ZeroTier identity, zerotier-one
 * install + join) and a libvirt domain on the KVM host. With `zerotier` set, the member is authorised
 * with its fixed IP before the VM boots, then (as BuildHost) the stack waits for SSH over ZeroTier,
 * closes SSH everywhere else with ufw (ZerotierOnlySsh, dead-man switch), manages the key block
 * (AuthorizedKeys) and announces the VM on Telegram.
 *
 * Sandbox mode (`zerotier` unset, for the libvirt testbed and labs without ZeroTier): the VM is
 * managed over its libvirt network address only, keys come from cloud-init alone, no ufw, no member.
 *
 * Recycling: `pulumi up --replace <URN of ${name}-generation>` or `pulumi destroy --target <URN of
 * the component> --target-dependents` then `pulumi up` (README "Recycling the build node").
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { AuthorizedKeys, ZerotierOnlySsh, type HostConnection } from "../../providers/host";
import { DEFAULT_ZEROTIER_INSTALL } from "../../providers/zerotier";
import { CloudInitSeed, LibvirtDomain, LibvirtVolume, type AddressSource } from "../../providers/libvirt";
import { TelegramMessage } from "../../providers/telegram";
import { zerotierInterfaceName } from "../../providers/zerotier/node";
import { deriveHostKey, ubuntuUserData } from "./cloud-init";
import { applyOrRunError } from "../run-error";
import {
  argError,
  libvirtConnection,
  vmGeneration,
  zerotierMembership,
  type VmExtraNic,
  type VmHostRef,
  type VmTelegram,
  type VmZerotierArgs,
} from "./common";

const KIND = "UbuntuVm";

export type UbuntuVmRole = "build-node" | "cockpit";

export interface UbuntuVmArgs {
  /** The KVM host to run on. Required. */
  host: VmHostRef;
  /** Build environment number X: in the hostname (`build-X-node`, `build-X-cockpit`) and key block. Required, >= 1. */
  envNumber: number;
  /** What the VM is for: names it and its announcement. Required. */
  role: UbuntuVmRole;
  /** libvirt domain name. Default the hostname. Letters, digits, `_.-`, up to 63. */
  domainName?: string;
  /** Path on the KVM host of the base image (an `imageVolume(...)`'s `path`). Required. */
  baseImagePath: pulumi.Input<string>;
  /** Memory in MiB. Default 4096; at least 256. */
  memoryMiB?: pulumi.Input<number>;
  /** vCPUs. Default 2; 1..256. */
  vcpus?: pulumi.Input<number>;
  /** Virtual disk size (qcow2 overlay), like "40G". Default "40G". */
  diskSize?: pulumi.Input<string>;
  /** The stack's key pair: authorised for root and the admin user; the stack logs in with it. Required. */
  deployKey: { privateKeyOpenssh: pulumi.Input<string>; publicKeyOpenssh: pulumi.Input<string> };
  /** OpenSSH public keys of the SSH key group. Required (may be empty only in sandbox mode). */
  groupKeys: pulumi.Input<pulumi.Input<string>[]>;
  /** Login user created for people (sudo, keys only). Default "g8os". */
  adminUser?: string;
  /** Build network membership. Unset = sandbox mode (see the file comment): not for production. */
  zerotier?: VmZerotierArgs;
  /** Shell command installing + starting zerotier-one in the guest when missing. Default: apt `zerotier-one`. */
  zerotierInstallCommand?: pulumi.Input<string>;
  /** Seconds the ufw dead-man switch waits for confirmation over ZeroTier. Default 90, 10..3600. */
  firewallConfirmTimeoutSec?: pulumi.Input<number>;
  /**
   * Boot a kernel from the host instead of the image's bootloader: only for images without one (the
   * testbed's debootstrapped Debian). Ubuntu cloud images boot by themselves: leave unset.
   */
  directBoot?: { kernel: pulumi.Input<string>; initrd?: pulumi.Input<string>; cmdline: pulumi.Input<string> };
  /**
   * Wait for the libvirt network address (lease) on create. Default "none" with zerotier (SSH over
   * ZeroTier is what is waited for), "lease" in sandbox mode.
   */
  addressSource?: AddressSource;
  /** Announce on Telegram (env, role, ZeroTier IP). Unset = no announcement. */
  telegram?: VmTelegram;
  /**
   * NICs after the first (see VmExtraNic). Default none. A change replaces the domain. cloud-init's
   * default network config only configures the first NIC.
   */
  extraNics?: VmExtraNic[];
}

export class UbuntuVm extends pulumi.ComponentResource {
  readonly role: UbuntuVmRole;
  readonly hostname: string;
  /** Fixed ZeroTier IP ("" in sandbox mode). */
  readonly zerotierIp: pulumi.Output<string>;
  /** Address on the libvirt network ("" unless waited for). */
  readonly libvirtAddress: pulumi.Output<string>;
  /** Pinned SSH host key of the VM (`SHA256:...`); a recycled VM gets a new one. */
  readonly hostKeySha256: pulumi.Output<string>;
  readonly domainUuid: pulumi.Output<string>;
  /** How to reach the VM as root with the deploy key (secret). Over ZeroTier, or libvirt in sandbox mode. */
  readonly connection: pulumi.Output<HostConnection>;
  /** Replace this resource to recycle the VM (see the file comment). */
  readonly generation: random.RandomId;

  constructor(name: string, args: UbuntuVmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("g8os:vm:UbuntuVm", name, {}, opts);
    if (!Number.isInteger(args.envNumber) || args.envNumber < 1)
      throw argError(KIND, name, "envNumber", `is ${args.envNumber}`, "give the environment number X (>= 1)");
    if (args.role !== "build-node" && args.role !== "cockpit")
      throw argError(KIND, name, "role", `is "${args.role}"`, 'use "build-node" or "cockpit"');
    if (!args.baseImagePath)
      throw argError(KIND, name, "baseImagePath", "is missing", "pass imageVolume(...).path");
    const env = args.envNumber;
    const child = { parent: this };
    this.role = args.role;
    this.hostname = args.role === "build-node" ? `build-${env}-node` : `build-${env}-cockpit`;
    const domainName = args.domainName ?? this.hostname;
    const conn = libvirtConnection(args.host.connection);

    this.generation = vmGeneration(name, child);
    const gen = this.generation.hex;
    // Secret seed of the SSH host key, renewed with the generation (keepers replace it).
    const hostKeySeed = new random.RandomPassword(
      `${name}-host-key-seed`,
      { length: 32, special: false, keepers: { generation: gen } },
      child,
    );
    const hostKey = pulumi.secret(hostKeySeed.result.apply((s) => deriveHostKey(s, this.hostname)));
    this.hostKeySha256 = pulumi.unsecret(hostKey.apply((k) => k.fingerprintSha256));

    const zt = args.zerotier;
    const { identity, member } = zerotierMembership(
      name,
      args.host,
      zt,
      { name: this.hostname, description: `g8os build environment ${env}: ${args.role} VM` },
      child,
    );

    const keys = pulumi
      .all([args.groupKeys, args.deployKey.publicKeyOpenssh])
      .apply(([group, deploy]) => [`${deploy.trim()} g8os-deploy-build-${env}`, ...group]);
    const userData = pulumi
      .all([keys, hostKey, identity ?? "", zt?.networkId ?? "", args.zerotierInstallCommand])
      .apply(([authorizedKeys, hk, id, nwid, install]) =>
        ubuntuUserData({
          hostname: this.hostname,
          adminUser: args.adminUser ?? "g8os",
          authorizedKeys,
          hostKey: hk,
          zerotier: zt
            ? {
                networkId: nwid,
                identity: { secret: id ?? "" },
                installCommand: install ?? DEFAULT_ZEROTIER_INSTALL,
              }
            : undefined,
        }),
      );

    const disk = new LibvirtVolume(
      `${name}-disk`,
      {
        ...conn,
        name: pulumi.interpolate`${domainName}-${gen}.qcow2`,
        poolDir: args.host.poolDir,
        backingFile: args.baseImagePath,
        size: args.diskSize ?? "40G",
      },
      child,
    );
    const seed = new CloudInitSeed(
      `${name}-seed`,
      {
        ...conn,
        name: pulumi.interpolate`${domainName}-seed-${gen}`,
        poolDir: args.host.poolDir,
        hostname: this.hostname,
        userData: pulumi.secret(userData),
      },
      child,
    );
    const domain = new LibvirtDomain(
      `${name}-domain`,
      {
        ...conn,
        name: domainName,
        memoryMiB: args.memoryMiB ?? 4096,
        vcpus: args.vcpus ?? 2,
        domainType: args.host.domainType,
        disks: [{ path: disk.path }],
        seedIso: seed.path,
        nics: [{ network: args.host.networkName }, ...(args.extraNics ?? [])],
        kernel: args.directBoot?.kernel,
        initrd: args.directBoot?.initrd,
        cmdline: args.directBoot?.cmdline,
        autostart: true,
        addressSource: args.addressSource ?? (zt ? "none" : "lease"),
      },
      // The member is authorised first, so the guest gets its IP as soon as zerotier-one starts.
      { ...child, dependsOn: member ? [member] : [] },
    );
    this.domainUuid = domain.uuid;
    this.libvirtAddress = domain.ipAddress;
    this.zerotierIp = zt ? pulumi.output(zt.address) : pulumi.output("");

    // Management: over ZeroTier (production) or the libvirt address (sandbox), as root, deploy key,
    // pinned host key. A recycled VM has a new host key: the connection changes, so the steps below
    // apply to the new VM again.
    const managedAddress = zt ? pulumi.output(zt.address) : domain.ipAddress;
    this.connection = pulumi.secret(
      pulumi.all([managedAddress, args.deployKey.privateKeyOpenssh, this.hostKeySha256]).apply(
        ([address, key, hk]) =>
          ({
            addresses: [{ host: address, port: 22 }],
            user: "root",
            privateKeys: [key],
            hostKeySha256: hk,
          }) as HostConnection,
      ),
    );

    if (zt && member) {
      // ufw: SSH only on the ZeroTier interface, lockout-proof (waits for SSH over ZeroTier first).
      // A new host key (recycled VM) replaces it: created on the new VM first (it waits for the VM
      // to answer over ZeroTier), then the old one's delete finds another key at the address and
      // leaves that VM alone. Deleting first would run while the new VM still boots, and fail.
      const firewall = new ZerotierOnlySsh(
        `${name}-firewall`,
        {
          connection: this.connection,
          zerotierAddress: zt.address,
          interfaceName: pulumi.output(zt.networkId).apply(applyOrRunError(zerotierInterfaceName)),
          sshPort: 22,
          confirmTimeoutSec: args.firewallConfirmTimeoutSec,
          reachTimeoutSec: zt.timeoutSec ?? 600,
          displayName: name,
        },
        {
          ...child,
          dependsOn: [domain, member],
          replaceOnChanges: ["connection"],
        },
      );
      // The key group as a managed block, so membership changes reach the VM without recreating it.
      const authorizedKeys = new AuthorizedKeys(
        `${name}-authorized-keys`,
        { connection: this.connection, block: `build-${env}`, keys },
        { ...child, dependsOn: [firewall] },
      );
      if (args.telegram) {
        new TelegramMessage(
          `${name}-announce`,
          {
            connection: args.telegram,
            text: pulumi.interpolate`Build env ${env}: ${args.role} ${this.hostname} is up, ZeroTier IP ${zt.address}. SSH over ZeroTier only.`,
            key: gen,
          },
          { ...child, dependsOn: [authorizedKeys] },
        );
      }
    } else if (args.telegram) {
      new TelegramMessage(
        `${name}-announce`,
        {
          connection: args.telegram,
          text: pulumi.interpolate`Build env ${env}: ${args.role} ${this.hostname} is up (sandbox mode, no ZeroTier), libvirt address ${domain.ipAddress}.`,
          key: gen,
        },
        { ...child, dependsOn: [domain] },
      );
    }

    this.registerOutputs({
      hostname: this.hostname,
      zerotierIp: this.zerotierIp,
      libvirtAddress: this.libvirtAddress,
      hostKeySha256: this.hostKeySha256,
      domainUuid: this.domainUuid,
    });
  }
}
