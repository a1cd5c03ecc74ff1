/**
 * Pieces every libvirt dynamic provider shares: connection validation and opening a client.
 * Plain module (inlined by value into the serialized providers): no Pulumi imports.
 */
import { resourceLabel, type CheckFailure } from "../shared/errors";
import { withSsh } from "../shared/ssh";
import { optional, required } from "../shared/resource-kit";
import { hostKeyFingerprint, privateKeyText } from "../shared/ssh-target";
import { hostname, intInRange, nonEmptyString, type Validator } from "../shared/validate";
import { LibvirtClient, sshTargetOf, type LibvirtConnection } from "./client";

export const absolutePath: Validator = (v) =>
  typeof v === "string" && /^\/[^\0]*$/.test(v) && !/(^|\/)\.\.?(\/|$)/.test(v) && !/[\n\r]/.test(v)
    ? undefined
    : "must be an absolute path on the KVM host without . or .. parts, like /var/lib/g8os/images";

/** libvirt object names: used in file names too, so a safe subset. */
export const libvirtName: Validator = (v) =>
  typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(v)
    ? undefined
    : "must be 1-63 characters: letters, digits, '_', '.', '-', starting with a letter or digit";

/**
 * The connection fields of every libvirt resource on the resource kit: the shared `SshTarget` fields,
 * flat, with the same checks as `connectionRules` (a new `host` is another machine: replace).
 */
export const connectionFields = {
  /** KVM host address (host name or IP). Required; a change replaces (another machine). */
  host: required<string>({ validate: hostname, change: "replace" }),
  /** SSH port. Default 22; 1..65535. */
  port: optional<number>({ validate: intInRange(1, 65535) }),
  /** SSH user: root or in group `libvirt`. Default "root". */
  user: optional<string>({ validate: nonEmptyString }),
  /** SSH private key (OpenSSH/PEM text). Required; secret in state. */
  privateKey: required<string>({ validate: privateKeyText, secret: true }),
  /** Pinned SSH host key `SHA256:...` (`ssh-keygen -lf`). Unset = accept any host key: pin it. */
  hostKeySha256: optional<string>({ validate: hostKeyFingerprint }),
};

/**
 * The kit's check with libvirt's message form: each field failure's reason reads
 * `<Kind "name">: <field> <reason>`, as before the kit.
 */
export function labelledFailures(kind: string, name: unknown, failures: CheckFailure[]): CheckFailure[] {
  const label = resourceLabel(kind, typeof name === "string" ? name : "?");
  return failures.map((f) => ({ property: f.property, reason: `${label}: ${f.property} ${f.reason}` }));
}

/** The connection fields out of a props bag. */
export function connectionOf(p: Record<string, unknown>): LibvirtConnection {
  return {
    host: p.host as string,
    port: p.port as number | undefined,
    user: p.user as string | undefined,
    privateKey: p.privateKey as string,
    hostKeySha256: p.hostKeySha256 as string | undefined,
  };
}

/** Opens one SSH session to the KVM host for one resource operation. */
export function withLibvirt<T>(
  p: Record<string, unknown>,
  label: string,
  fn: (c: LibvirtClient) => Promise<T>,
): Promise<T> {
  return withSsh(sshTargetOf(connectionOf(p)), { label }, (s) => fn(new LibvirtClient(s, label)));
}

/** Provider inputs/outputs: untyped JSON from the engine, validated in `check`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProviderProps = Record<string, any>;
