/**
 * Input validators shared by the providers' `check` methods and the components' argument checks.
 * Each returns `undefined` when the value is fine, or a reason that says what a good value looks like.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 */
import type { CheckFailure } from "./errors";
import { containsUnknown } from "./dynamic";

export type Validator = (v: unknown) => string | undefined;

export const nonEmptyString: Validator = (v) =>
  typeof v === "string" && v.trim().length > 0 ? undefined : "must be a non-empty string";

export function hexId(len: number): Validator {
  const re = new RegExp(`^[0-9a-f]{${len}}$`);
  return (v) => (typeof v === "string" && re.test(v) ? undefined : `must be ${len} lowercase hex characters`);
}

export function intInRange(min: number, max: number): Validator {
  return (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max
      ? undefined
      : `must be a whole number from ${min} to ${max}`;
}

/** Parses dotted IPv4 into a 32-bit number, or undefined. */
export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export const ipv4: Validator = (v) =>
  typeof v === "string" && parseIPv4(v) !== undefined
    ? undefined
    : "must be an IPv4 address like 10.147.17.1";

export const cidr: Validator = (v) => {
  if (typeof v !== "string") return "must be a CIDR like 10.147.17.0/24";
  const [ip, bits, extra] = v.split("/");
  if (
    extra !== undefined ||
    parseIPv4(ip) === undefined ||
    !/^\d{1,2}$/.test(bits ?? "") ||
    Number(bits) > 32
  ) {
    return "must be a CIDR like 10.147.17.0/24";
  }
  return undefined;
};

export const hostname: Validator = (v) =>
  typeof v === "string" &&
  /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(
    v,
  )
    ? undefined
    : "must be a host name or IP address";

export const httpUrl: Validator = (v) => {
  if (typeof v !== "string") return "must be an http(s) URL";
  try {
    const u = new URL(v);
    return u.protocol === "http:" || u.protocol === "https:" ? undefined : "must be an http(s) URL";
  } catch {
    return "must be an http(s) URL";
  }
};

export const sha256Hex: Validator = (v) =>
  typeof v === "string" && /^[0-9a-f]{64}$/.test(v)
    ? undefined
    : "must be a sha256 digest: 64 lowercase hex characters";

// An array, not a Set: Pulumi's closure serializer does not carry a Set's entries into a serialized
// provider (calling `.has` there throws "incompatible receiver").
const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

/**
 * Checks an OpenSSH public key line (`type base64 [comment]`): a known type, valid base64,
 * and a blob whose embedded type name matches the declared one (catches truncated pastes).
 */
export const sshPublicKey: Validator = (v) => {
  if (typeof v !== "string") return "must be an OpenSSH public key line (ssh-ed25519 AAAA... comment)";
  const parts = v.trim().split(/\s+/);
  if (parts.length < 2 || !SSH_KEY_TYPES.includes(parts[0])) {
    return `must start with a key type (${SSH_KEY_TYPES.slice(0, 3).join(", ")}, ...) followed by the base64 key`;
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1])) return "key body is not valid base64";
  const blob = Buffer.from(parts[1], "base64");
  if (blob.length < 4) return "key body is too short";
  const n = blob.readUInt32BE(0);
  if (n <= 0 || 4 + n > blob.length || blob.subarray(4, 4 + n).toString("latin1") !== parts[0]) {
    return "key body does not match its declared type (truncated or corrupted key?)";
  }
  return undefined;
};

/** One rule for `collectFailures`: the input path and the validator; `optional` skips undefined. */
export interface FieldRule {
  path: string;
  value: unknown;
  check: Validator;
  optional?: boolean;
}

/**
 * Runs rules and returns check failures. Unknown values (preview) are skipped: they are
 * checked again at `up` time when they are known.
 */
export function collectFailures(rules: FieldRule[]): CheckFailure[] {
  const out: CheckFailure[] = [];
  for (const r of rules) {
    if (containsUnknown(r.value)) continue;
    if (r.value === undefined || r.value === null) {
      if (!r.optional) out.push({ property: r.path, reason: "is required" });
      continue;
    }
    const reason = r.check(r.value);
    if (reason) out.push({ property: r.path, reason });
  }
  return out;
}
