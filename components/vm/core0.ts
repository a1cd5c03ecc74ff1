/**
 * Core0Vm: a core0 test node as a libvirt domain booting the core0 kernel (and initrd, unless the
 * kernel is an EFI image with the initramfs built in) directly, with the kernel command line
 * `console=ttyS0,115200n8 zerotier=<network id>` plus configured flags (core0-protocol.md).
 *
 * Secrets never go on the kernel command line (readable in /proc/cmdline, the domain XML and the
 * state): the redis password and the pre-generated ZeroTier identity travel on a `cidata` seed ISO
 * (CloudInitSeed, secret user-data) attached as a SATA cdrom, as files `/g8os/redis-password` and
 * `/var/lib/zerotier-one/identity.secret`. docs/core0-image-contract.md is what an image must do
 * with them; test/vm/core0.vm.test.ts boots the testbed's image that meets it (no stock v0.9 image
 * does: the doc says what an image build must add). With the identity known, the member is authorised with its
 * fixed IP before boot; `verifyRedis` then checks the node over redis (Core0Node) at that IP.
 */
import * as pulumi from "@pulumi/pulumi";
import { Core0Node } from "../../providers/core0";
import { CloudInitSeed, LibvirtDomain } from "../../providers/libvirt";
import { TelegramMessage } from "../../providers/telegram";
import { core0Cmdline, core0SeedUserData } from "./cloud-init";
import { applyOrRunError } from "../run-error";
import {
  argError,
  libvirtConnection,
  vmGeneration,
  zerotierMembership,
  type VmHostRef,
  type VmExtraNic,
  type VmTelegram,
  type VmZerotierArgs,
} from "./common";

const KIND = "Core0Vm";

export interface Core0VmArgs {
  /** The KVM host to run on. Required. */
  host: VmHostRef;
  /** Build environment number X (hostname `build-X-core0-<index>`). Required, >= 1. */
  envNumber: number;
  /** Which core0 node, 1.. . Required. */
  index: number;
  /** libvirt domain name. Default the hostname. */
  domainName?: string;
  /** Kernel path on the KVM host (an `imageVolume(...)`'s `path`). Required. */
  kernelPath: pulumi.Input<string>;
  /** initrd path on the KVM host. Unset for an EFI kernel with the initramfs built in. */
  initrdPath?: pulumi.Input<string>;
  /** Extra kernel flags (`development`, `debug`, `quiet`, `key=value`). Default none. No secrets here. */
  kernelFlags?: string[];
  /** Memory in MiB. Default 2048. */
  memoryMiB?: pulumi.Input<number>;
  /** vCPUs. Default 2. */
  vcpus?: pulumi.Input<number>;
  /** The node redis password (secret): delivered on the seed ISO. Required. */
  redisPassword: pulumi.Input<string>;
  /** Build network membership. Unset = sandbox mode: no `zerotier=` arg, no member. */
  zerotier?: VmZerotierArgs;
  /** Check the node over redis (core.ping, info) at its ZeroTier IP after boot. Default false. Needs zerotier. */
  verifyRedis?: boolean;
  /** With verifyRedis: seconds to wait for the booting node to answer. Default 600 (0 to 3600). */
  bootTimeoutSec?: number;
  /** Wait for a libvirt lease on create. Default "none" (core0 may not DHCP on the libvirt NIC). */
  addressSource?: "lease" | "none";
  /** Announce on Telegram. Unset = none. */
  telegram?: VmTelegram;
  /**
   * NICs after the first (see VmExtraNic). Default none. A change replaces the domain. A core0
   * image takes its underlay address on the first NIC; the testbed's image gives the second to its
   * ZeroTier node-agent stand-in (docs/core0-image-contract.md).
   */
  extraNics?: VmExtraNic[];
  /**
   * Absolute path on the KVM host the serial console is written to (core0 has no SSH: its console
   * is where it tells what it did at boot). Removed with the domain. A change replaces the domain.
   * Default: a pty (`virsh console`).
   */
  consoleLogPath?: string;
}

export class Core0Vm extends pulumi.ComponentResource {
  readonly hostname: string;
  readonly zerotierIp: pulumi.Output<string>;
  /** The kernel command line it boots with. */
  readonly cmdline: pulumi.Output<string>;
  readonly domainUuid: pulumi.Output<string>;

  constructor(name: string, args: Core0VmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("g8os:vm:Core0Vm", name, {}, opts);
    if (!Number.isInteger(args.envNumber) || args.envNumber < 1)
      throw argError(KIND, name, "envNumber", `is ${args.envNumber}`, "give the environment number X (>= 1)");
    if (!Number.isInteger(args.index) || args.index < 1)
      throw argError(KIND, name, "index", `is ${args.index}`, "number the core0 nodes from 1");
    if (!args.kernelPath)
      throw argError(KIND, name, "kernelPath", "is missing", "pass imageVolume(...).path");
    if (args.redisPassword === undefined)
      throw argError(
        KIND,
        name,
        "redisPassword",
        "is missing",
        "pass the build stack's redis password (secret)",
      );
    if (args.verifyRedis && !args.zerotier)
      throw argError(KIND, name, "verifyRedis", "needs zerotier", "set zerotier, or verifyRedis false");
    const env = args.envNumber;
    const child = { parent: this };
    this.hostname = `build-${env}-core0-${args.index}`;
    const domainName = args.domainName ?? this.hostname;
    const conn = libvirtConnection(args.host.connection);
    const gen = vmGeneration(name, child).hex;
    const zt = args.zerotier;

    const { identity, member } = zerotierMembership(
      name,
      args.host,
      zt,
      { name: this.hostname, description: `g8os build environment ${env}: core0 test node ${args.index}` },
      child,
    );

    const seed = new CloudInitSeed(
      `${name}-seed`,
      {
        ...conn,
        name: pulumi.interpolate`${domainName}-seed-${gen}`,
        poolDir: args.host.poolDir,
        hostname: this.hostname,
        userData: pulumi.secret(
          pulumi
            .all([args.redisPassword, identity ?? ""])
            .apply(([pw, id]) =>
              core0SeedUserData({ redisPassword: pw, identity: id ? { secret: id } : undefined }),
            ),
        ),
      },
      child,
    );
    const cmdline = pulumi
      .output(zt?.networkId)
      .apply(applyOrRunError((nwid) => core0Cmdline(nwid, args.kernelFlags ?? [])));
    this.cmdline = cmdline;
    const domain = new LibvirtDomain(
      `${name}-domain`,
      {
        ...conn,
        name: domainName,
        memoryMiB: args.memoryMiB ?? 2048,
        vcpus: args.vcpus ?? 2,
        domainType: args.host.domainType,
        seedIso: seed.path,
        nics: [{ network: args.host.networkName }, ...(args.extraNics ?? [])],
        kernel: args.kernelPath,
        initrd: args.initrdPath,
        cmdline,
        autostart: true,
        addressSource: args.addressSource ?? "none",
        serialLogPath: args.consoleLogPath,
      },
      { ...child, dependsOn: member ? [member] : [] },
    );
    this.domainUuid = domain.uuid;
    this.zerotierIp = zt ? pulumi.output(zt.address) : pulumi.output("");

    let ready: pulumi.Resource = domain;
    if (zt && args.verifyRedis) {
      ready = new Core0Node(
        `${name}-node`,
        { address: zt.address, password: args.redisPassword, waitSec: args.bootTimeoutSec ?? 600 },
        { ...child, dependsOn: [domain] },
      );
    }
    if (args.telegram) {
      new TelegramMessage(
        `${name}-announce`,
        {
          connection: args.telegram,
          text: zt
            ? pulumi.interpolate`Build env ${env}: core0 node ${this.hostname} booted, ZeroTier IP ${zt.address}${args.verifyRedis ? " (redis answers)" : ""}.`
            : pulumi.interpolate`Build env ${env}: core0 node ${this.hostname} booted (sandbox mode, no ZeroTier).`,
          key: gen,
        },
        { ...child, dependsOn: [ready] },
      );
    }
    this.registerOutputs({
      hostname: this.hostname,
      zerotierIp: this.zerotierIp,
      domainUuid: this.domainUuid,
    });
  }
}
