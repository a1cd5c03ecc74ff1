/**
 * The one connection model for every machine the project reaches over SSH: the physical build host
 * and KVM host (libvirt resources, `KvmHost`), the VMs (`VmHostRef.connection`, the build node's
 * `connection`) and the ZeroTier identity generated on the KVM host.
 *
 * - `SshTarget`: one address, one key, one pinned host key. The libvirt resources store exactly these
 *   fields, flat, in their state (`host`, `port`, `user`, `privateKey`, `hostKeySha256`).
 * - `HostConnection` (providers/host/connection.ts) is a list of candidate `SshTarget`s for a host
 *   whose reachable address changes during its life: ordered addresses x ordered keys, one host key.
 *
 * The field names are the ones today's state holds, so nothing in existing state moves.
 *
 * Plain module: no Pulumi runtime imports (dynamic providers inline it by value); the `Args` form
 * below only uses Pulumi's `Input` type, which is erased at compile time.
 */
import type { CheckFailure } from "./errors";
import {
  collectFailures,
  hostname,
  intInRange,
  nonEmptyString,
  type FieldRule,
  type Validator,
} from "./validate";

/** How to reach one host over SSH. `privateKey` is a secret: never log it or put it in a message. */
export interface SshTarget {
  /** Host name or IP address. Required. */
  host: string;
  /** SSH port. Default 22; 1..65535. */
  port?: number;
  /** Login user: root, or a user with the rights the resource needs. Default "root". */
  user?: string;
  /** OpenSSH or PEM private key text. Required; secret (stored encrypted in state). */
  privateKey: string;
  /**
   * Pinned host key, `SHA256:<43 base64 characters>` as `ssh-keygen -lf` prints it: a server showing
   * another key is refused. Unset = accept the key shown and report it (only for a host's very first
   * contact, which then pins it; see `ZerotierHostJoin`).
   */
  hostKeySha256?: string;
  /** TCP connect + handshake timeout in ms. Default 10000. Not stored by any resource. */
  connectTimeoutMs?: number;
}

/** An `SshTarget` whose host key is pinned: what every connection after a host's first contact is. */
export type PinnedSshTarget = SshTarget & { hostKeySha256: string };

/** The connection fields resources take as inputs (everything but the per-call timeout). */
export type SshTargetFields = Omit<SshTarget, "connectTimeoutMs">;

/**
 * The resource-side (Pulumi inputs) form of `SshTargetFields`: each field may be an Output. Doc
 * comments carry over from `SshTarget` (homomorphic mapped type).
 */
export type SshTargetArgs = {
  [K in keyof SshTargetFields]: import("@pulumi/pulumi").Input<Exclude<SshTargetFields[K], undefined>>;
};

/** `SshTargetArgs` with the host key pinned (required). */
export type PinnedSshTargetArgs = SshTargetArgs & { hostKeySha256: import("@pulumi/pulumi").Input<string> };

/** A `SHA256:` host key fingerprint as `ssh-keygen -lf` prints it. */
export const hostKeyFingerprint: Validator = (v) =>
  typeof v === "string" && /^SHA256:[A-Za-z0-9+/]{43}$/.test(v)
    ? undefined
    : "must be a fingerprint like SHA256:<43 base64 characters>, as `ssh-keygen -lf` prints it";

/** Private key text (OpenSSH or PEM). */
export const privateKeyText: Validator = (v) =>
  typeof v === "string" && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)
    ? undefined
    : "must be an OpenSSH or PEM private key (text starting with -----BEGIN ... PRIVATE KEY-----)";

/**
 * `check` rules for the flat `SshTargetFields` in `p`, with paths prefixed by `prefix` ("" for
 * top-level fields, as the libvirt resources store them). `pinned`: the host key is required.
 */
export function sshTargetRules(
  p: Record<string, unknown>,
  opts: { prefix?: string; pinned?: boolean } = {},
): FieldRule[] {
  const at = (k: string) => (opts.prefix ? `${opts.prefix}.${k}` : k);
  return [
    { path: at("host"), value: p.host, check: hostname },
    { path: at("port"), value: p.port, check: intInRange(1, 65535), optional: true },
    { path: at("user"), value: p.user, check: nonEmptyString, optional: true },
    { path: at("privateKey"), value: p.privateKey, check: privateKeyText },
    {
      path: at("hostKeySha256"),
      value: p.hostKeySha256,
      check: opts.pinned
        ? (v) => (v === "" ? "is empty: the host key must be pinned" : hostKeyFingerprint(v))
        : hostKeyFingerprint,
      optional: !opts.pinned,
      fix: opts.pinned
        ? `set ${at("hostKeySha256")} to the host's key fingerprint, SHA256:<43 base64 characters> as \`ssh-keygen -lf\` prints it (e.g. BuildHost.hostKeySha256)`
        : undefined,
    },
  ];
}

/** Check failures for the flat target fields (see `sshTargetRules`). */
export function sshTargetFailures(
  p: Record<string, unknown>,
  opts: { prefix?: string; pinned?: boolean } = {},
): CheckFailure[] {
  return collectFailures(sshTargetRules(p, opts));
}

/** The `SshTarget` out of a props bag holding the flat fields (state of the libvirt resources). */
export function sshTargetOf(p: Record<string, unknown>): SshTarget {
  return {
    host: p.host as string,
    port: (p.port as number | undefined) ?? 22,
    user: (p.user as string | undefined) ?? "root",
    privateKey: p.privateKey as string,
    // "" from a config that left it empty means "not pinned", as before.
    hostKeySha256: (p.hostKeySha256 as string | undefined) || undefined,
  };
}
