/**
 * BuildHost: the seed's "physical node" (OVH4 or alternative), taken over over SSH and closed to
 * everything but the build ZeroTier network.
 *
 * Reads top-down, in the order the seed gives:
 * 1. join the ZeroTier network (installs zerotier-one if missing; first contact pins the host key);
 * 2. authorise the member through the ZeroTier API with its fixed address;
 * 3. authorise the SSH key group plus the deploy key (managed block in root's authorized_keys);
 * 4. prove SSH over ZeroTier with the deploy key, then ufw: SSH only on the ZeroTier interface,
 *    applied with a dead-man switch, verified from outside;
 * 5. announce the host on Telegram.
 * A re-run with nothing changed makes no remote call: every step is a resource with its own diff.
 */
import * as pulumi from "@pulumi/pulumi";
import { AuthorizedKeys, type HostConnection, ZerotierOnlySsh } from "../../providers/host";
import { ZerotierHostJoin } from "../../providers/zerotier";
import { TelegramMessage, type TelegramMessageArgs } from "../../providers/telegram";
import { ZerotierMember } from "../../providers/zerotier";

/** A machine's place on the build ZeroTier network: the network, its fixed member IP, the API (token secret). */
export interface ZerotierPlacement {
  /** 16-hex network id. Required. */
  networkId: pulumi.Input<string>;
  /**
   * The machine's fixed address on the network (a managed member IP, inside the routes, outside the
   * auto-assign pools). Fixed so it is known before the machine joins: every resource on it can try
   * it first and fall back to the bootstrap address, before and after ufw closes the latter. Required.
   */
  address: pulumi.Input<string>;
  /** ZeroTier API: "central" (hosted or compatible) or "controller" (self-hosted). Required. */
  backend: pulumi.Input<"central" | "controller">;
  /** Base URL of that API. Required. */
  apiUrl: pulumi.Input<string>;
  /** API token (secret). Required. */
  token: pulumi.Input<string>;
  /** How long to wait for SSH over ZeroTier to answer. Default 120 s (seconds to minutes in the field). */
  timeoutSec?: number;
}

export interface BuildHostArgs {
  /** Host name as people know it (e.g. "ovh4"). Used in member names and announcements. Required. */
  hostName: pulumi.Input<string>;
  /** Build environment number X. Names the authorized_keys block (`build-X`) and the member. Required. */
  envNumber: number;
  /**
   * How to reach the host before g8os manages it: its public address, SSH port (default 22), user with
   * root rights (default "root"), a private key that user accepts (secret), and optionally its pinned
   * host key (`SHA256:...`; unset = pinned on first contact). Required.
   */
  bootstrap: {
    address: pulumi.Input<string>;
    port?: pulumi.Input<number>;
    user?: pulumi.Input<string>;
    privateKey: pulumi.Input<string>;
    hostKeySha256?: pulumi.Input<string>;
  };
  /** The stack's own key pair (e.g. a `tls.PrivateKey`): authorised on the host, used after bootstrap. Required. */
  deployKey: { privateKeyOpenssh: pulumi.Input<string>; publicKeyOpenssh: pulumi.Input<string> };
  /** OpenSSH public keys of the people who may log in (the SSH key group). Required, non-empty. */
  groupKeys: pulumi.Input<pulumi.Input<string>[]>;
  /** The build network, the host's fixed place on it, and how to reach its API (token secret). Required. */
  zerotier: ZerotierPlacement;
  /** Command that installs and starts zerotier-one when missing. Default: apt package `zerotier-one`. */
  zerotierInstallCommand?: pulumi.Input<string>;
  /** Seconds the ufw dead-man switch waits for confirmation over ZeroTier. Default 90, 10 to 3600. */
  firewallConfirmTimeoutSec?: pulumi.Input<number>;
  /** Telegram connection for the announcement. Unset = no announcement. */
  telegram?: TelegramMessageArgs["connection"];
}

export class BuildHost extends pulumi.ComponentResource {
  /** The host's address on the build ZeroTier network: the only address SSH answers on. */
  readonly zerotierIp: pulumi.Output<string>;
  /** ZeroTier node id (member id). */
  readonly nodeId: pulumi.Output<string>;
  /** SSH host key pinned on first contact. */
  readonly hostKeySha256: pulumi.Output<string>;
  /** Connection for later work on the host (VMs, builds): ZeroTier address and deploy key. Secret. */
  readonly connection: pulumi.Output<HostConnection>;

  constructor(name: string, args: BuildHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("g8os:build:BuildHost", name, {}, opts);
    const child = { parent: this };
    const env = args.envNumber;
    const port = args.bootstrap.port ?? 22;
    const bootstrapAddress = { host: args.bootstrap.address, port };
    const zerotierAddress = { host: args.zerotier.address, port };
    this.zerotierIp = pulumi.output(args.zerotier.address);

    // Every step tries ZeroTier first (the only way in once ufw is on), then the bootstrap address;
    // the deploy key first (authorised from step 3 on), then the bootstrap key.
    const access = (hostKeySha256: pulumi.Input<string | undefined>) =>
      pulumi.output({
        addresses: [zerotierAddress, bootstrapAddress],
        user: args.bootstrap.user ?? "root",
        privateKeys: [args.deployKey.privateKeyOpenssh, args.bootstrap.privateKey],
        hostKeySha256,
      }) as pulumi.Output<HostConnection>;

    // 1. Join the network; the first contact pins the host key (unless configured).
    const join = new ZerotierHostJoin(
      `${name}-zerotier-join`,
      {
        connection: access(args.bootstrap.hostKeySha256),
        networkId: args.zerotier.networkId,
        installCommand: args.zerotierInstallCommand,
      },
      child,
    );

    // 2. Authorise it, with its fixed address.
    const member = new ZerotierMember(
      `${name}-member`,
      {
        backend: args.zerotier.backend,
        apiUrl: args.zerotier.apiUrl,
        token: args.zerotier.token,
        networkId: args.zerotier.networkId,
        memberId: join.nodeId,
        name: pulumi.interpolate`${args.hostName}-build-${env}`,
        description: `g8os build environment ${env}: physical KVM host`,
        authorized: true,
        ipAssignments: [args.zerotier.address],
      },
      child,
    );
    const managed = access(join.hostKeySha256);

    // 3. Who may log in: the group and the stack's deploy key.
    const keys = new AuthorizedKeys(
      `${name}-authorized-keys`,
      {
        connection: managed,
        block: `build-${env}`,
        keys: pulumi
          .all([args.groupKeys, args.deployKey.publicKeyOpenssh])
          .apply(([group, deploy]) => [...group, `${deploy.trim()} g8os-deploy-build-${env}`]),
      },
      // Reached over the member's ZeroTier address: on destroy, removed while that path still exists.
      { ...child, dependsOn: [member] },
    );

    // 4. Close everything but ZeroTier (the deploy key must work over ZeroTier first).
    const firewall = new ZerotierOnlySsh(
      `${name}-firewall`,
      {
        connection: managed,
        zerotierAddress: this.zerotierIp,
        interfaceName: join.interfaceName,
        sshPort: port,
        confirmTimeoutSec: args.firewallConfirmTimeoutSec,
        reachTimeoutSec: args.zerotier.timeoutSec,
        displayName: args.hostName,
      },
      { ...child, dependsOn: [keys, member] },
    );

    // 5. Tell the build group. Nothing depends on the message: a failed post fails only itself.
    if (args.telegram) {
      new TelegramMessage(
        `${name}-announce`,
        {
          connection: args.telegram,
          text: pulumi.interpolate`Build env ${env}: physical host ${args.hostName} is on the build network, ZeroTier IP ${this.zerotierIp}. SSH is closed everywhere else.`,
        },
        { ...child, dependsOn: [firewall] },
      );
    }

    this.nodeId = join.nodeId;
    this.hostKeySha256 = join.hostKeySha256;
    this.connection = pulumi.secret(managed);
    this.registerOutputs({
      zerotierIp: this.zerotierIp,
      nodeId: this.nodeId,
      hostKeySha256: this.hostKeySha256,
    });
  }
}
