/**
 * How host resources reach a Linux machine over SSH: ordered addresses and keys. The first
 * address+key pair that accepts wins, so one resource keeps working when ufw closes the public
 * address and only the ZeroTier address remains.
 *
 * Plain module: no Pulumi imports (inlined into serialized providers).
 */
import { type SshSession, type SshTarget, withFirstReachable } from "./ssh";
import type { CheckFailure } from "./errors";
import { collectFailures, hostname, intInRange, nonEmptyString } from "./validate";
import { containsUnknown } from "./dynamic";

export interface HostAddress {
  /** Host name or IP. */
  host: string;
  /** SSH port. Default 22. */
  port?: number;
}

/** A secret input: carries private keys. */
export interface HostConnection {
  /** Addresses in order of preference (e.g. ZeroTier IP first, then the bootstrap address). */
  addresses: HostAddress[];
  /** Login user with root rights. Default "root". */
  user?: string;
  /** Private keys to try, in order (e.g. deploy key, then bootstrap key). */
  privateKeys: string[];
  /** Pinned host key (`SHA256:...`); unset = accept on first contact. */
  hostKeySha256?: string;
}

/** Every address x key combination, addresses first, as SSH targets. */
export function targetsOf(c: HostConnection): SshTarget[] {
  const out: SshTarget[] = [];
  for (const a of c.addresses) {
    for (const k of c.privateKeys) {
      out.push({
        host: a.host,
        port: a.port ?? 22,
        user: c.user ?? "root",
        privateKey: k,
        hostKeySha256: c.hostKeySha256,
      });
    }
  }
  return out;
}

/** Opens a session on the first reachable address with the first accepted key. */
export function onHost<T>(c: HostConnection, label: string, fn: (s: SshSession) => Promise<T>): Promise<T> {
  return withFirstReachable(targetsOf(c), { label }, fn);
}

/** The fix for a missing or malformed connection input at `path`: its shape. */
export function connectionFix(path: string): string {
  return `set ${path} to { addresses: [{ host, port? }, ...], privateKeys: ["-----BEGIN ... PRIVATE KEY-----..."], user? } (e.g. the BuildHost's connection output)`;
}

/** `check` rules for a connection input at `path`; every reason ends in a fix. */
export function connectionFailures(path: string, c: unknown): CheckFailure[] {
  if (containsUnknown(c)) return [];
  if (!c || typeof c !== "object")
    return [{ property: path, reason: `is required. Fix: ${connectionFix(path)}` }];
  const conn = c as Partial<HostConnection>;
  const failures = collectFailures([
    { path: `${path}.user`, value: conn.user, check: nonEmptyString, optional: true },
  ]);
  if (!Array.isArray(conn.addresses) || conn.addresses.length === 0) {
    failures.push({
      property: `${path}.addresses`,
      reason: `lists no address. Fix: set ${path}.addresses to a list of at least one { host, port? }, e.g. [{ host: "10.147.17.5" }]`,
    });
  } else {
    conn.addresses.forEach((a, i) =>
      failures.push(
        ...collectFailures([
          { path: `${path}.addresses[${i}].host`, value: a?.host, check: hostname },
          {
            path: `${path}.addresses[${i}].port`,
            value: a?.port,
            check: intInRange(1, 65535),
            optional: true,
          },
        ]),
      ),
    );
  }
  if (!Array.isArray(conn.privateKeys) || conn.privateKeys.length === 0) {
    failures.push({
      property: `${path}.privateKeys`,
      reason: `holds no private key. Fix: set ${path}.privateKeys to a list of at least one private key text (-----BEGIN ... PRIVATE KEY-----)`,
    });
  } else {
    conn.privateKeys.forEach((k, i) => {
      if (containsUnknown(k)) return;
      if (typeof k !== "string" || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(k)) {
        failures.push({
          property: `${path}.privateKeys[${i}]`,
          reason: `is not a PEM/OpenSSH private key. Fix: set ${path}.privateKeys[${i}] to the key's text, starting with -----BEGIN ... PRIVATE KEY-----`,
        });
      }
    });
  }
  return failures;
}

/**
 * For `read` (refresh): runs `fn` on the host, but when the host cannot be reached at all keeps
 * what state says, with a warning, instead of failing. A host cut off from ZeroTier (member
 * deauthorised, network deleted outside) must not block `pulumi refresh` / `up --refresh`: the
 * ZeroTier resources' own refresh reports the cause, and the next `up` repairs it.
 */
export async function readOnHost<T>(
  c: HostConnection,
  label: string,
  keep: T,
  fn: (s: SshSession) => Promise<T>,
): Promise<T> {
  let connected = false;
  try {
    return await onHost(c, label, (s) => {
      connected = true;
      return fn(s);
    });
  } catch (err) {
    // A session that ran and failed is a real failure; one that was lost with no other address
    // answering (a ZeroTier path that broke during the read) is unreachability like any other.
    if (connected && (err as { unreachable?: boolean }).unreachable !== true) throw err;
    const msg = (err as { message?: string })?.message ?? String(err);
    console.error(`warning: ${label}: host not reachable, state kept as it was (${msg})`);
    return keep;
  }
}
