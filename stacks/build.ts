/**
 * The build stack (REPO_BUILD_X): everything the seed's "bootstrap the build environment" and
 * "build runs" sections describe, composed from components. Stacks only compose.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { BuildHost } from "../components/build-host";
import { SshKeyGroup, type SshKeyGroupSource } from "../providers/keys";
import { ZerotierNetwork } from "../providers/zerotier";
import { type KeySourceSettings, readBuildConfig } from "./config";
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
      networkId: network.networkId,
      address: cfg.buildHost.zerotierIp,
      timeoutSec: cfg.zerotier.timeoutSec,
    },
    zerotierInstallCommand: cfg.buildHost.zerotierInstallCommand,
    firewallConfirmTimeoutSec: cfg.buildHost.firewallConfirmTimeoutSec,
    telegram,
  });

  return {
    stackKind: "build" as const,
    envNumber: env,
    buildNetworkId: network.networkId,
    buildHost: { name: cfg.buildHost.name, zerotierIp: host.zerotierIp, hostKeySha256: host.hostKeySha256 },
    deployPublicKey: deployKey.publicKeyOpenssh,
    keyGroupMembersWithoutKeys: keyGroup.membersWithoutKeys,
    redisPassword: pulumi.secret(redisPassword.result),
  };
}
