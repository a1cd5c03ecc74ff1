/**
 * The build stack (REPO_BUILD_X): everything the seed's "bootstrap the build environment" and
 * "build runs" sections describe, composed from components. Stacks only compose.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { BuildHost } from "../components/build-host";
import { KvmHost } from "../components/kvm-host";
import { Core0Vm, imageVolume, UbuntuVm, type VmHostRef } from "../components/vm";
import { SshKeyGroup, type SshKeyGroupSource } from "../providers/keys";
import type { PinnedSshTargetArgs } from "../providers/shared/ssh-target";
import { ZerotierMember, ZerotierNetwork } from "../providers/zerotier";
import { type BuildConfig, type KeySourceSettings, readBuildConfig } from "./config";
import { buildRun } from "./build-runs";
import type { StackSelection } from "./select";

function keyGroupSource(k: KeySourceSettings): SshKeyGroupSource {
  switch (k.kind) {
    case "itsyouonline":
      return {
        kind: k.kind,
        baseUrl: k.baseUrl,
        organization: k.organization,
        clientId: k.clientId,
        extraKeys: k.extraKeys,
      };
    case "keys-url":
      return { kind: k.kind, baseUrl: k.baseUrl, users: k.users, extraKeys: k.extraKeys };
    case "inline":
      return { kind: k.kind, keys: k.keys };
  }
}

/** Builds the build environment for environment `sel.envNumber`. */
export function buildEnv(sel: StackSelection) {
  const cfg = readBuildConfig(sel.envNumber);
  const env = cfg.envNumber;

  // Shared by every environment's reports: the build group on Telegram.
  const telegram = {
    token: cfg.telegram.botToken,
    chatId: cfg.telegram.chatId,
    topicId: cfg.telegram.topicId,
    apiRoot: cfg.telegram.apiRoot,
  };

  // Who may log in to build machines.
  const keyGroup = new SshKeyGroup(`build-${env}-key-group`, {
    source: keyGroupSource(cfg.keySource),
    clientSecret: cfg.keySource.kind === "itsyouonline" ? cfg.keySource.clientSecret : undefined,
  });

  // The stack's own key pair: never used by people.
  const deployKey = new tls.PrivateKey(`build-${env}-deploy-key`, { algorithm: "ED25519" });

  // The core0 nodes' redis password.
  const redisPassword = new random.RandomPassword(`build-${env}-redis-password`, {
    length: 32,
    special: false,
  });

  const zerotierApi = {
    backend: cfg.zerotier.backend,
    apiUrl: cfg.zerotier.apiUrl,
    token: cfg.zerotier.token,
  };
  const network = new ZerotierNetwork(`build-${env}-network`, {
    ...zerotierApi,
    name: cfg.zerotier.networkName,
    description: `G8OS build environment ${env}`,
    private: true,
    ipAssignmentPools: cfg.zerotier.pools,
    routes: cfg.zerotier.routes.map((target) => ({ target })),
    v4AutoAssign: true,
  });

  // The people's machines on the build network (the operator's above all: after the lockdown it
  // reaches the host and VMs over ZeroTier only). Whatever joins the network does so through
  // `networkId`, which carries the dependency on these members, so they are authorised before any
  // lockdown. Through their URNs, which a preview knows, so adding a member changes nothing else.
  const members = cfg.zerotier.members.map(
    (m) =>
      new ZerotierMember(`build-${env}-network-member-${m.name}`, {
        ...zerotierApi,
        networkId: network.networkId,
        memberId: m.nodeId,
        name: m.name,
        description: `g8os build environment ${env}: ${m.name}`,
        authorized: true,
      }),
  );
  const networkId = pulumi
    .all([network.networkId, ...members.map((m) => m.urn)])
    .apply(([id]) => id as string);

  const host = new BuildHost(`build-${env}-host`, {
    hostName: cfg.buildHost.name,
    envNumber: env,
    bootstrap: {
      address: cfg.buildHost.address,
      port: cfg.buildHost.port,
      user: cfg.buildHost.user,
      privateKey: cfg.buildHost.bootstrapPrivateKey,
      hostKeySha256: cfg.buildHost.hostKeySha256,
    },
    deployKey,
    groupKeys: keyGroup.keys,
    zerotier: {
      ...zerotierApi,
      networkId,
      address: cfg.buildHost.zerotierIp,
      timeoutSec: cfg.zerotier.timeoutSec,
    },
    zerotierInstallCommand: cfg.buildHost.zerotierInstallCommand,
    firewallConfirmTimeoutSec: cfg.buildHost.firewallConfirmTimeoutSec,
    telegram,
  });

  const vms = cfg.vms
    ? buildVms({
        cfg,
        host,
        deployKey,
        groupKeys: keyGroup.keys,
        networkId,
        zerotierApi,
        telegram,
        redisPassword: redisPassword.result,
      })
    : undefined;

  // Build runs: on the build node, tested on the core0 nodes, released to the templates repo.
  const run =
    cfg.buildRuns && vms
      ? buildRun(`build-${env}-run`, cfg.buildRuns, {
          buildNode: vms.buildNode.connection,
          core0Nodes: vms.core0.map((c) =>
            pulumi.all([c.zerotierIp, redisPassword.result]).apply(([address, password]) => ({
              address,
              port: 6379,
              password,
              ipfsGateway: cfg.buildRuns!.ipfsGatewayUrl,
            })),
          ),
          deployKey: deployKey.privateKeyOpenssh,
          telegram,
        })
      : undefined;

  return {
    stackKind: "build" as const,
    envNumber: env,
    buildNetworkId: network.networkId,
    buildNetworkMembers: cfg.zerotier.members.map((m) => ({ name: m.name, nodeId: m.nodeId })),
    buildHost: { name: cfg.buildHost.name, zerotierIp: host.zerotierIp, hostKeySha256: host.hostKeySha256 },
    deployPublicKey: deployKey.publicKeyOpenssh,
    keyGroupMembersWithoutKeys: keyGroup.membersWithoutKeys,
    keyGroupMissingGrants: keyGroup.missingGrants,
    redisPassword: pulumi.secret(redisPassword.result),
    vms: vms ? { kvmDomainType: vms.kvmDomainType, nodes: vms.nodes } : undefined,
    buildRun: run ? { testResults: run.testResults, released: run.released } : undefined,
  };
}

/**
 * The physical host as a KVM host (over its ZeroTier IP with the deploy key, host key pinned by the
 * BuildHost's first contact), then the build node, two core0 nodes and the cockpit node. The four
 * VMs depend on the KVM host and the shared images only, never on each other: they are created in
 * parallel.
 */
export interface BuildVmsSettings {
  /** The validated build config; `cfg.vms` must be set. */
  cfg: BuildConfig;
  /** The physical host, taken over: its ZeroTier IP and pinned host key reach the KVM host. */
  host: BuildHost;
  /** The stack's deploy key: logs in to the KVM host and the VMs. */
  deployKey: tls.PrivateKey;
  /** OpenSSH public keys of the SSH key group, authorised on the Ubuntu VMs. */
  groupKeys: pulumi.Input<string[]>;
  /** The build ZeroTier network the VMs join with fixed IPs. */
  networkId: pulumi.Output<string>;
  /** How to reach the ZeroTier API (Central or the self-hosted controller); token is secret. */
  zerotierApi: { backend: "central" | "controller"; apiUrl: string; token: pulumi.Output<string> };
  /** The build group on Telegram, for the VMs' announcements; token is secret. */
  telegram: { token: pulumi.Output<string>; chatId: string; topicId?: number; apiRoot: string };
  /** The core0 nodes' redis password (secret). */
  redisPassword: pulumi.Output<string>;
}

function buildVms(s: BuildVmsSettings) {
  const { cfg, host, deployKey, groupKeys, networkId, zerotierApi, telegram, redisPassword } = s;
  const vms = cfg.vms!;
  const env = cfg.envNumber;
  const connection: PinnedSshTargetArgs = {
    host: host.zerotierIp,
    port: 22,
    user: cfg.buildHost.user,
    privateKey: deployKey.privateKeyOpenssh,
    hostKeySha256: host.hostKeySha256,
  };
  // After the BuildHost: the deploy key is authorised and ZeroTier is the only way in.
  const kvm = new KvmHost(
    `build-${env}-kvm`,
    { ...connection, domainType: vms.kvmDomainType },
    { dependsOn: [host] },
  );
  const vmHost: VmHostRef = {
    connection,
    poolDir: kvm.poolDir,
    networkName: kvm.networkName,
    domainType: kvm.domainType,
  };
  const onKvm = { dependsOn: [kvm] };
  const ubuntuImage = imageVolume(
    `build-${env}-ubuntu-image`,
    vmHost,
    { ...vms.image, prefix: "ubuntu" },
    onKvm,
  );
  const core0Kernel = imageVolume(
    `build-${env}-core0-kernel`,
    vmHost,
    { ...vms.core0Kernel, prefix: "core0-kernel" },
    onKvm,
  );
  const core0Initrd = vms.core0Initrd
    ? imageVolume(`build-${env}-core0-initrd`, vmHost, { ...vms.core0Initrd, prefix: "core0-initrd" }, onKvm)
    : undefined;
  const zerotier = (address: string) => ({
    ...zerotierApi,
    networkId,
    address,
    timeoutSec: cfg.zerotier.timeoutSec,
  });
  const ubuntu = (role: "build-node" | "cockpit", address: string) =>
    // Named like the hostname: the README's recycling URNs are build-<X>-node's.
    new UbuntuVm(role === "build-node" ? `build-${env}-node` : `build-${env}-cockpit`, {
      host: vmHost,
      envNumber: env,
      role,
      baseImagePath: ubuntuImage.path,
      deployKey,
      groupKeys,
      zerotier: zerotier(address),
      zerotierInstallCommand: cfg.buildHost.zerotierInstallCommand,
      firewallConfirmTimeoutSec: cfg.buildHost.firewallConfirmTimeoutSec,
      telegram,
    });
  const buildNode = ubuntu("build-node", vms.buildNodeZerotierIp);
  const core0 = vms.core0ZerotierIps.map(
    (address, i) =>
      new Core0Vm(`build-${env}-core0-${i + 1}`, {
        host: vmHost,
        envNumber: env,
        index: i + 1,
        kernelPath: core0Kernel.path,
        initrdPath: core0Initrd?.path,
        kernelFlags: vms.core0KernelFlags,
        redisPassword,
        zerotier: zerotier(address),
        verifyRedis: vms.core0VerifyRedis,
        telegram,
      }),
  );
  const cockpit = ubuntu("cockpit", vms.cockpitZerotierIp);
  return {
    buildNode,
    core0,
    kvmDomainType: kvm.domainType,
    nodes: [
      { role: "build-node", hostname: buildNode.hostname, zerotierIp: buildNode.zerotierIp },
      ...core0.map((c) => ({ role: "core0", hostname: c.hostname, zerotierIp: c.zerotierIp })),
      { role: "cockpit", hostname: cockpit.hostname, zerotierIp: cockpit.zerotierIp },
    ],
  };
}
