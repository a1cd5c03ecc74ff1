/**
 * What UbuntuVm and Core0Vm share: where they run (a KVM host), how they join the build network,
 * images fetched once per host, the pre-generated ZeroTier identity, and the VM "generation" that
 * recycling replaces.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ZerotierPlacement } from "../build-host";
import * as random from "@pulumi/random";
import { ZerotierIdentity } from "../../providers/host";
import { LibvirtVolume } from "../../providers/libvirt";
import { InputError, resourceLabel } from "../../providers/shared/errors";
import type { PinnedSshTargetArgs } from "../../providers/shared/ssh-target";
import type { TelegramMessageArgs } from "../../providers/telegram";
import { ZerotierMember } from "../../providers/zerotier";
import { zerotierNodeId } from "./cloud-init";

/** The KVM host the VMs run on: usually a KvmHost's outputs plus the connection it was given. */
export interface VmHostRef {
  /**
   * How to reach the KVM host over SSH: the shared connection model, host key pinned (required;
   * the build stack pins the BuildHost's key). privateKey is kept secret by every resource.
   */
  connection: PinnedSshTargetArgs;
  /** Absolute pool directory on the host (KvmHost.poolDir). */
  poolDir: pulumi.Input<string>;
  /** libvirt network for the VMs' first NIC (KvmHost.networkName). */
  networkName: pulumi.Input<string>;
  /** "kvm" or "qemu" (KvmHost.domainType), or "auto". */
  domainType: pulumi.Input<"auto" | "kvm" | "qemu">;
}

/**
 * The build ZeroTier network and the VM's fixed place on it (same shape as the BuildHost's; for VMs
 * `timeoutSec` defaults to 600: a first boot installs packages).
 */
export type VmZerotierArgs = ZerotierPlacement;

export type VmConnection = VmHostRef["connection"];

/** The flat connection inputs for libvirt resources. */
export function libvirtConnection(c: VmConnection) {
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    privateKey: c.privateKey,
    hostKeySha256: c.hostKeySha256,
  };
}

/**
 * An image file (Ubuntu cloud image, core0 kernel or initrd) fetched on the KVM host once and
 * checked against its pinned sha256. The file name carries the digest, so VMs of the same image share
 * it and a new pin is a new file.
 */
export function imageVolume(
  name: string,
  host: VmHostRef,
  image: { url: pulumi.Input<string>; sha256: string; prefix: string },
  opts?: pulumi.CustomResourceOptions,
): LibvirtVolume {
  return new LibvirtVolume(
    name,
    {
      ...libvirtConnection(host.connection),
      name: `${image.prefix}-${image.sha256.slice(0, 16)}`,
      poolDir: host.poolDir,
      sourceUrl: image.url,
      sha256: image.sha256,
    },
    opts,
  );
}

/**
 * A ZeroTier identity generated ON the KVM host (which runs zerotier-one as a build network member,
 * so `zerotier-idtool` is there): the VM gets it through its seed, so its member id is known, and
 * authorised with its fixed IP, before it boots. The output (identity.secret) is secret.
 * `ZerotierIdentity` pins the KVM host's key; it takes over (alias of the old URN) the
 * `command.remote.Command` earlier versions used, keeping its identity (see its file comment).
 */
export function zerotierIdentity(
  name: string,
  host: VmHostRef,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  const c = host.connection;
  const id = new ZerotierIdentity(
    name,
    {
      connection: {
        host: c.host,
        port: c.port,
        user: c.user ?? "root",
        privateKey: c.privateKey,
        hostKeySha256: c.hostKeySha256,
      },
    },
    opts,
  );
  return pulumi.secret(id.identity);
}

/**
 * A VM's place on the build network, before it boots: its identity (generated on the KVM host) and
 * its member, authorised with the fixed address. Undefined both in sandbox mode (no `zerotier`).
 */
export function zerotierMembership(
  name: string,
  host: VmHostRef,
  zt: VmZerotierArgs | undefined,
  member: { name: pulumi.Input<string>; description: string },
  opts: pulumi.CustomResourceOptions,
): { identity?: pulumi.Output<string>; member?: ZerotierMember } {
  if (!zt) return {};
  const identity = zerotierIdentity(`${name}-zerotier-identity`, host, opts);
  return {
    identity,
    member: new ZerotierMember(
      `${name}-member`,
      {
        backend: zt.backend,
        apiUrl: zt.apiUrl,
        token: zt.token,
        networkId: zt.networkId,
        memberId: pulumi.unsecret(identity.apply(zerotierNodeId)),
        name: member.name,
        description: member.description,
        authorized: true,
        ipAssignments: [zt.address],
      },
      opts,
    ),
  };
}

/**
 * The VM's generation: a random id that names its disk and seed. Replacing it (`pulumi up --replace
 * <its URN>`) replaces the disk, the seed and so the domain: a fresh VM with the same name,
 * ZeroTier identity and fixed IP. Nothing else in the stack depends on it.
 */
export function vmGeneration(name: string, opts: pulumi.CustomResourceOptions): random.RandomId {
  return new random.RandomId(`${name}-generation`, { byteLength: 4 }, opts);
}

/**
 * A NIC after a VM's first one (which is on `host.networkName`): on a libvirt `network` or a host
 * `bridge` (a LAN bridge, or the bridge a ZeroTier stand-in uses), with an optional fixed lowercase
 * `mac`. A change replaces the domain.
 */
export interface VmExtraNic {
  /** libvirt network name. Give this or `bridge`. */
  network?: string;
  /** Host bridge name. Give this or `network`. */
  bridge?: string;
  /** Fixed MAC (lowercase, `52:54:00:..`). Default: libvirt picks one. */
  mac?: string;
}

/** Telegram connection for announcements (unset = none). */
export type VmTelegram = TelegramMessageArgs["connection"];

/** The component's argument error (InputError): resource, field, what is wrong and the fix. */
export function argError(kind: string, name: string, field: string, what: string, fix: string): InputError {
  return new InputError(resourceLabel(kind, name), field, what, fix);
}
