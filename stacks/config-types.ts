/**
 * The build stack's settings, as `readBuildConfig` (stacks/config.ts) returns them after every
 * config key has been read and checked. Each key is described in Pulumi.yaml; names here map
 * to `g8os:<key>` as noted.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { BuildRunSettings } from "./build-runs";
import type { NetworkMemberSettings } from "./config-network";

/** Telegram build group the stack reports to. */
export interface TelegramSettings {
  /** g8os:telegramBotToken, required, a Pulumi secret (`<bot id>:<secret>`). */
  botToken: pulumi.Output<string>;
  /** g8os:telegramChatId, required: a number (groups are negative) or @channelname. */
  chatId: string;
  /** g8os:telegramTopicId: forum topic (message_thread_id); unset = no topic. 1..2^31. */
  topicId?: number;
  /** g8os:telegramApiRoot: Bot API root URL; default https://api.telegram.org. */
  apiRoot: string;
}

/** The ZeroTier build network and the API that manages it. */
export interface ZerotierSettings {
  /** g8os:zerotierBackend: "central" (Central API v1, default) or "controller" (self-hosted). */
  backend: "central" | "controller";
  /** g8os:zerotierApiUrl: API base URL; default https://api.zerotier.com/api/v1. */
  apiUrl: string;
  /** g8os:zerotierToken, required, a Pulumi secret: API token or the controller's authtoken. */
  token: pulumi.Output<string>;
  /** g8os:zerotierNetworkName; default `g8os-build-<envNumber>`. */
  networkName: string;
  /** g8os:zerotierPools: auto-assign pools, each inside a route, disjoint. */
  pools: { start: string; end: string }[];
  /** g8os:zerotierRoutes: managed routes (IPv4 CIDRs); default ["10.147.17.0/24"]. */
  routes: string[];
  /** g8os:zerotierTimeoutSec: seconds to wait for SSH over ZeroTier (5..3600); unset = program defaults. */
  timeoutSec?: number;
  /** g8os:buildNetworkMembers: machines the stack authorises (the operator's, the group's); default none. */
  members: NetworkMemberSettings[];
}

/** g8os:keySource and the keys of the chosen kind: where the SSH key group's public keys come from. */
export type KeySourceSettings =
  | {
      kind: "itsyouonline";
      /** g8os:keySourceUrl; default https://itsyou.online. */
      baseUrl: string;
      /** g8os:keyOrganization; default gig_build. */
      organization: string;
      /** g8os:itsyouonlineClientId, required for this kind. */
      clientId: string;
      /** g8os:itsyouonlineClientSecret, required for this kind, a Pulumi secret. */
      clientSecret: pulumi.Output<string>;
      /** g8os:keyInline: keys added to the group's. */
      extraKeys: string[];
    }
  | {
      kind: "keys-url";
      /** g8os:keySourceUrl, required for this kind (e.g. https://github.com). */
      baseUrl: string;
      /** g8os:keyUsers: at least one user whose `<base>/<user>.keys` are fetched. */
      users: string[];
      /** g8os:keyInline: keys added to the users'. */
      extraKeys: string[];
    }
  | {
      kind: "inline";
      /** g8os:keyInline: the OpenSSH public key lines of the group. */
      keys: string[];
    };

/** The physical KVM host, reached over SSH at its bootstrap address until it is locked down. */
export interface BuildHostSettings {
  /** g8os:buildHostName, required: a host name (e.g. ovh4), used in hostnames and announcements. */
  name: string;
  /** g8os:buildHostZerotierIp: fixed ZeroTier address (inside a route, outside the pools); default the first route's first address. */
  zerotierIp: string;
  /** g8os:buildHostAddress, required: the public (bootstrap) address. */
  address: string;
  /** g8os:buildHostPort: SSH port of the bootstrap address; default 22. */
  port: number;
  /** g8os:buildHostUser: SSH user with root rights; default root. */
  user: string;
  /** g8os:buildHostKeySha256: pinned host key `SHA256:<43 base64 chars>`; unset = pinned on first contact. */
  hostKeySha256?: string;
  /** g8os:bootstrapPrivateKey, required, a Pulumi secret: unencrypted OpenSSH private key. */
  bootstrapPrivateKey: pulumi.Output<string>;
  /**
   * How zerotier-one is installed where missing: g8os:zerotierInstallCommand, else the pinned apt
   * install (stacks/pins.ts zerotierInstallCommand, from pins.yaml's zerotierAptKey/Source).
   */
  zerotierInstallCommand?: string;
  /** g8os:firewallConfirmTimeoutSec: seconds the ufw dead-man switch waits for confirmation (10..3600). */
  firewallConfirmTimeoutSec?: number;
}

/** The VMs on the physical host (g8os:vmsEnabled): build node, 2 core0 nodes, cockpit. */
export interface VmSettings {
  /** Ubuntu cloud image (qcow2) URL and its pinned sha256 (pins.yaml ubuntuImage, or its overrides). */
  image: { url: string; sha256: string };
  /** core0 kernel (EFI image or bzImage) and optional initrd, each URL + sha256 (pins.yaml core0Kernel/core0Initrd). */
  core0Kernel: { url: string; sha256: string };
  core0Initrd?: { url: string; sha256: string };
  /** g8os:core0KernelFlags: extra kernel flags, one word or key=value each. */
  core0KernelFlags: string[];
  /** Fixed ZeroTier IPs (default: buildHostZerotierIp + 1, +2/+3, +4). */
  buildNodeZerotierIp: string;
  core0ZerotierIps: [string, string];
  cockpitZerotierIp: string;
  /** Check the core0 nodes over redis after boot. */
  core0VerifyRedis: boolean;
  /** g8os:kvmDomainType: libvirt domain type; "auto" (default) detects KVM. */
  kvmDomainType: "auto" | "kvm" | "qemu";
}

/** Everything the build stack reads from its config. */
export interface BuildConfig {
  /** The environment number X (from the stack name or g8os:envNumber). */
  envNumber: number;
  /** The Telegram build group. */
  telegram: TelegramSettings;
  /** The ZeroTier build network. */
  zerotier: ZerotierSettings;
  /** Where the SSH key group comes from. */
  keySource: KeySourceSettings;
  /** The physical KVM host. */
  buildHost: BuildHostSettings;
  /** Unset unless g8os:vmsEnabled is true. */
  vms?: VmSettings;
  /** Unset unless g8os:buildTreeDir is set (needs the VMs). */
  buildRuns?: BuildRunSettings;
}
