/**
 * `ZerotierIdentity`: a ZeroTier identity (`identity.secret`) generated with `zerotier-idtool generate`
 * on a host that has zerotier-one (the KVM host), over the project's SSH client with the host key
 * pinned. A VM gets it through its cloud-init seed, so its member id is known and authorised before
 * it boots. The identity exists only in state (secret); nothing is left on the host.
 *
 * It replaces a `command.remote.Command` (pulumi-command 4.5 cannot pin host keys) of the same name
 * and parent; the old URN (type `command:remote:Command`) is an alias, so the engine matches the
 * old state entry to this resource. An existing stack must keep its VMs' identities (a new one
 * is a new member id), and the engine lets it:
 * - pulumi/pulumi pkg/resource/deploy/step_generator.go (master, 2025): the alias finds the old state;
 *   `providerChanged` sees the command default provider replaced by the dynamic default provider and
 *   asks the NEW provider's `DiffConfig`; the nodejs dynamic-provider host does not implement it, and
 *   sdk/go/common/resource/plugin/provider_plugin.go `DiffConfig` turns Unimplemented into "unknown,
 *   no replaces", so the resource is diffed by this provider, not replaced.
 * - sdk/nodejs/cmd/dynamic-provider `diff`/`update` load the provider from the NEW inputs'
 *   `__provider`, so olds without one (the Command's state) are fine.
 * - `diff` below reports a change (never a replace) when the olds are a Command's (`stdout`, no
 *   `identity`), and `update` adopts that `stdout` verbatim as `identity`, with no remote call.
 * Result on an existing stack: one update of this resource, identity unchanged, so the seed, the
 * member and the domain see the same values and do not change.
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, OperationError, resourceLabel } from "../shared/errors";
import { containsUnknown, diffFields, plainOutputs } from "../shared/dynamic";
import { withSsh } from "../shared/ssh";
import { sshTargetFailures, sshTargetOf, type PinnedSshTargetArgs } from "../shared/ssh-target";

const KIND = "ZerotierIdentity";

/** The type the identity had before this resource existed (see the file comment). */
export const LEGACY_IDENTITY_TYPE = "command:remote:Command";

/**
 * `identity.secret` text: `<10-hex node id>:0:<128-hex public>:<128-hex private>` (type 0 is C25519:
 * a 64-byte public and a 64-byte private key pair, ZeroTierOne node/Identity.cpp `toString` and
 * node/C25519.hpp `ZT_C25519_PUBLIC_KEY_LEN` / `ZT_C25519_PRIVATE_KEY_LEN`).
 */
export function isZerotierIdentitySecret(s: string): boolean {
  return /^[0-9a-f]{10}:0:[0-9a-f]{128}:[0-9a-f]{128}$/.test(s.trim());
}

/** The identity a state entry holds: ours (`identity`) or an adopted Command's (`stdout`). */
export function identityOf(olds: Record<string, unknown>): string | undefined {
  if (typeof olds.identity === "string") return olds.identity;
  if (typeof olds.stdout === "string" && olds.stdout !== "") return olds.stdout;
  return undefined;
}

function nodeIdOf(identity: string): string {
  return identity.trim().split(":")[0];
}

export const zerotierIdentityProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    const c = news.connection;
    if (containsUnknown(c)) return { inputs: news, failures: [] };
    if (!c || typeof c !== "object")
      return {
        inputs: news,
        failures: [
          {
            property: "connection",
            reason:
              "is required. Fix: set connection to { host, port?, user?, privateKey, hostKeySha256 } of the KVM host (e.g. the KvmHost's connection)",
          },
        ],
      };
    return { inputs: news, failures: sshTargetFailures(c, { prefix: "connection", pinned: true }) };
  },

  async diff(_id, olds, news) {
    // State of the command.remote.Command this resource replaced: adopt its identity (update, never replace).
    if (typeof olds.identity !== "string") return { changes: true, replaces: [], deleteBeforeReplace: false };
    // A new way to reach the KVM host changes nothing about the identity: update in place.
    const d = diffFields(olds, news, { updateOn: ["connection"] });
    return { changes: d.changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs) {
    const label = resourceLabel(KIND, String(inputs.connection?.host ?? "?"));
    const out = await withSsh(sshTargetOf(inputs.connection), { label }, (s) =>
      s.exec("zerotier-idtool generate", { step: "zerotier-idtool generate" }),
    );
    // As pulumi-command's stdout (one trailing newline trimmed): the same text the seed always got.
    const identity = out.stdout.replace(/\r?\n$/, "");
    if (!isZerotierIdentitySecret(identity))
      throw new OperationError(
        label,
        "zerotier-idtool generate",
        "the output is not a ZeroTier identity (<node id>:0:<public>:<private>)",
        "that zerotier-one is installed on the KVM host (zerotier-idtool comes with it)",
      );
    return {
      id: nodeIdOf(identity),
      outs: plainOutputs({ connection: inputs.connection, identity, nodeId: nodeIdOf(identity) }),
    };
  },

  async update(_id, olds, news) {
    const identity = identityOf(olds);
    if (identity === undefined)
      throw new InputError(
        resourceLabel(KIND, String(news.connection?.host ?? "?")),
        "identity",
        "state holds no identity (neither `identity` nor an adopted command's `stdout`)",
        "replace this resource (`pulumi up --replace <urn>`): the VM then gets a new ZeroTier member id",
      );
    return { outs: plainOutputs({ connection: news.connection, identity, nodeId: nodeIdOf(identity) }) };
  },

  // Nothing to look at on the host: the identity lives in state only, so refresh keeps it.
  async read(id, props) {
    return { id, props };
  },

  // Nothing was left on the host; the member is removed by its own resource.
  async delete() {},
};

export interface ZerotierIdentityArgs {
  /**
   * How to reach the host that generates the identity (the KVM host, which runs zerotier-one).
   * Required; the host key must be pinned. Secret in state (carries the private key).
   */
  connection: pulumi.Input<PinnedSshTargetArgs>;
}

/** A ZeroTier identity generated on a host over SSH with a pinned host key (see the file comment). */
export class ZerotierIdentity extends pulumi.dynamic.Resource {
  /** `identity.secret` text (secret). Kept for the resource's life: a new one means a new member id. */
  declare readonly identity: pulumi.Output<string>;
  /** The 10-hex ZeroTier node id (= member id) of the identity. */
  declare readonly nodeId: pulumi.Output<string>;

  constructor(name: string, args: ZerotierIdentityArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      zerotierIdentityProvider,
      name,
      { connection: pulumi.secret(args.connection), identity: undefined, nodeId: undefined },
      {
        ...opts,
        // The command.remote.Command's URN it replaces: existing stacks' entries are taken over.
        aliases: [...(opts?.aliases ?? []), { type: LEGACY_IDENTITY_TYPE }],
        additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection", "identity"],
      },
      "host",
      KIND,
    );
  }
}
