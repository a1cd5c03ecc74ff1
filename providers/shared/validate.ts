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

/**
 * One rule for `collectFailures`: the input path and the validator; `optional` skips undefined.
 * `fix`: what the failure's `Fix:` says, e.g. "set token to a Central API token"; default derived
 * from the reason or the validator's wording (see `withFix`).
 */
export interface FieldRule {
  path: string;
  value: unknown;
  check: Validator;
  optional?: boolean;
  fix?: string;
}

/**
 * What a good value looks like, in the validator's own words: its reason for a missing value,
 * "must be X" (or "is not X") -> "X". Undefined when it says something else.
 */
export function expectationOf(check: Validator | undefined): string | undefined {
  if (!check) return undefined;
  let r: string | undefined;
  try {
    r = check(undefined);
  } catch {
    return undefined;
  }
  const m = r === undefined ? null : /^(?:must be|is not) ([\s\S]+)$/.exec(r);
  return m ? m[1] : undefined;
}

// A remedy already written after the problem: "has host bits set; use the network address".
const REMEDY =
  /^([\s\S]*\S)[;:] ((?:set|use|remove|add|give|swap|copy|leave|run|replace|pin|pass|load|list|take|write) [\s\S]+)$/;

/**
 * A check failure's reason in the project's shape, `problem. Fix: what to do`, for the input at
 * `path`. Kept as is when it has a fix already; else `fix` when given; else derived from the
 * reason ("must be X" -> "set <path> to X", "<part> must be X" -> "set the <part> of <path> to X",
 * "must X" -> "make <path> X", "problem; use ..." -> "problem. Fix: use ..."), else from what the
 * validator `check` expects, else a pointer to the field's documentation.
 */
export function withFix(path: string, reason: string, o: { fix?: string; check?: Validator } = {}): string {
  if (/\S\. Fix: \S/.test(reason)) return reason;
  const problem = reason.trim().replace(/\.$/, "");
  if (o.fix) return `${problem}. Fix: ${o.fix}`;
  let m = /^must be ([\s\S]+)$/.exec(problem);
  if (m) return `${problem}. Fix: set ${path} to ${m[1]}`;
  m = /^([a-z][a-z ]{0,30}?) must be ([\s\S]+)$/.exec(problem);
  if (m) return `${problem}. Fix: set the ${m[1]} of ${path} to ${m[2]}`;
  m = /^must ([\s\S]+)$/.exec(problem);
  if (m) return `${problem}. Fix: make ${path} ${m[1]}`;
  m = REMEDY.exec(problem);
  if (m) return `${m[1]}. Fix: ${m[2]}`;
  const want = expectationOf(o.check);
  if (want) return `${problem}. Fix: set ${path} to ${want}`;
  return `${problem}. Fix: set ${path} as the resource's documentation of ${path.replace(/[.[].*$/, "")} describes`;
}

/**
 * Runs rules and returns check failures, each reason ending in a fix (`withFix`). Unknown values
 * (preview) are skipped: they are checked again at `up` time when they are known.
 */
export function collectFailures(rules: FieldRule[]): CheckFailure[] {
  const out: CheckFailure[] = [];
  for (const r of rules) {
    if (containsUnknown(r.value)) continue;
    if (r.value === undefined || r.value === null) {
      if (!r.optional) out.push({ property: r.path, reason: withFix(r.path, "is required", r) });
      continue;
    }
    const reason = r.check(r.value);
    if (reason) out.push({ property: r.path, reason: withFix(r.path, reason, r) });
  }
  return out;
}

/** Fields of an OpenSSH public key blob (RFC 4253 section 6.6 string/mpint framing). */
function readSshStrings(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let off = 0;
  while (off < blob.length) {
    if (off + 4 > blob.length) return undefined;
    const n = blob.readUInt32BE(off);
    off += 4;
    if (off + n > blob.length) return undefined;
    out.push(blob.subarray(off, off + n));
    off += n;
  }
  return out;
}

/** Bits of an SSH mpint (big-endian two's complement, leading zero byte when the top bit is set). */
function mpintBits(b: Buffer): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]));
}

/**
 * Checks an OpenSSH public key line by parsing its blob, per key type: the framing must hold
 * exactly the fields the type defines (so a truncated or padded paste fails), ed25519 keys are 32
 * bytes, ECDSA points are uncompressed points of the named curve, RSA moduli have at least
 * `minRsaBits` bits. Layouts: RFC 4253 s6.6 (ssh-rsa), RFC 8709 s4 (ssh-ed25519), RFC 5656 s3.1
 * (ecdsa-sha2-*), openssh-portable PROTOCOL.u2f (sk-* keys, an extra application string).
 */
export function opensshPublicKey(minRsaBits = 2048): Validator {
  return (v) => {
    const first = sshPublicKey(v);
    if (first) return first;
    const [type, body] = (v as string).trim().split(/\s+/);
    const blob = Buffer.from(body, "base64");
    if (blob.toString("base64") !== body) return "key body is not valid base64 (truncated or wrapped paste?)";
    const f = readSshStrings(blob);
    if (!f) return "key body is truncated (its length fields run past the end)";
    const curveBytes: Record<string, number> = { nistp256: 65, nistp384: 97, nistp521: 133 };
    const ecdsa = (curve: string, q: Buffer | undefined) =>
      q !== undefined && q.length === curveBytes[curve] && q[0] === 4
        ? undefined
        : `key body does not hold a valid ${curve} point (truncated or corrupted key?)`;
    switch (type) {
      case "ssh-rsa": {
        if (f.length !== 3 || f[1].length === 0)
          return "key body is not an RSA key (truncated or corrupted?)";
        const bits = mpintBits(f[2]);
        return bits < minRsaBits
          ? `is a ${bits}-bit RSA key; at least ${minRsaBits} bits are required (use ssh-keygen -t ed25519)`
          : undefined;
      }
      case "ssh-ed25519":
        return f.length === 2 && f[1].length === 32
          ? undefined
          : "key body is not a 32-byte ed25519 key (truncated or corrupted?)";
      case "sk-ssh-ed25519@openssh.com":
        return f.length === 3 && f[1].length === 32
          ? undefined
          : "key body is not a security-key ed25519 key (truncated or corrupted?)";
      default: {
        // ecdsa-sha2-<curve> and sk-ecdsa-sha2-nistp256@openssh.com
        const curve = /nistp(256|384|521)/.exec(type)?.[0] ?? "";
        const want = type.startsWith("sk-") ? 4 : 3;
        if (f.length !== want || f[1].toString("latin1") !== curve)
          return `key body is not a ${type} key (truncated or corrupted?)`;
        return ecdsa(curve, f[2]);
      }
    }
  };
}

/**
 * A private key as an SSH client can use it without a prompt: one PEM/OpenSSH block with matching
 * BEGIN/END lines and a base64 body, not passphrase-protected. The reason never quotes the key.
 */
export const unencryptedPrivateKey: Validator = (v) => {
  if (typeof v !== "string") return "must be a private key (-----BEGIN ... PRIVATE KEY-----)";
  const m =
    /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]*)PRIVATE KEY-----/.exec(v);
  if (!m) return "is not a PEM/OpenSSH private key (no -----BEGIN/END ... PRIVATE KEY----- block)";
  if (m[1] !== m[3]) return "has BEGIN and END lines of different key types (mangled paste?)";
  if (m[1] === "ENCRYPTED " || /Proc-Type: *4,ENCRYPTED/.test(m[2]))
    return "is passphrase-protected; the stack cannot type a passphrase (remove it: ssh-keygen -p -N '' -f <key>)";
  const body = m[2].replace(/^[A-Za-z-]+:.*$/gm, "").replace(/\s+/g, "");
  if (body === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(body))
    return "has a body that is not base64 (mangled paste?)";
  if (m[1] === "OPENSSH ") {
    const blob = Buffer.from(body, "base64");
    // openssh-portable PROTOCOL.key: "openssh-key-v1\0", then ciphername and kdfname strings.
    const magic = "openssh-key-v1\0";
    if (blob.subarray(0, magic.length).toString("latin1") !== magic)
      return "is not an OpenSSH private key (bad magic: truncated or mangled paste?)";
    const at = magic.length;
    const len = blob.length >= at + 4 ? blob.readUInt32BE(at) : -1;
    if (len < 0 || at + 4 + len > blob.length) return "is truncated (mangled paste?)";
    if (blob.subarray(at + 4, at + 4 + len).toString("latin1") !== "none")
      return "is passphrase-protected; the stack cannot type a passphrase (remove it: ssh-keygen -p -N '' -f <key>)";
  }
  return undefined;
};

/** No leading or trailing blanks (a pasted " alice" names another user). */
export const noSurroundingSpaces: Validator = (v) =>
  typeof v === "string" && v.trim() === v ? undefined : "has leading or trailing spaces; remove them";

/**
 * An ItsYou.online organisation globalid: 3 to 150 of lowercase letters, digits, '-', '_', ' ',
 * and '.' between the parts of a sub-organisation (as identityserver's
 * db/organization/Organization.go IsValid / IsValidSubOrganization accept), with no surrounding
 * blanks and no empty part.
 */
export const itsyouonlineOrganization: Validator = (v) =>
  typeof v === "string" &&
  /^[a-z0-9_ .-]{3,150}$/.test(v) &&
  v.trim() === v &&
  v.split(".").every((p) => p.trim() !== "")
    ? undefined
    : "is not an ItsYou.online organisation name (3-150 lowercase letters, digits, '-', '_', spaces; '.' between sub-organisation parts)";

/** Edit distance (insert, delete, substitute), case-insensitive: for "did you mean". */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length];
}

/** The closest of `known` to `name` when it is close enough to be a typo, else undefined. */
export function didYouMean(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 4))) return best;
  // A shortened name (`timeout` for `timeoutSeconds`): a known name it starts.
  const n = name.toLowerCase();
  return n.length >= 4 ? known.find((k) => k.toLowerCase().startsWith(n)) : undefined;
}

/** `true` or `false` only. */
export const isBool: Validator = (v) => (typeof v === "boolean" ? undefined : "must be true or false");

/** Any string, empty allowed. */
export const isString: Validator = (v) => (typeof v === "string" ? undefined : "must be a string");

/** A list of strings (empty strings and an empty list allowed). */
export const stringList: Validator = (v) =>
  Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : "must be a list of strings";

/** A list of non-empty strings (an empty list allowed). */
export const nonEmptyStringList: Validator = (v) =>
  Array.isArray(v) && v.every((t) => typeof t === "string" && t.length > 0)
    ? undefined
    : "must be a list of non-empty strings";

/** A plain object whose values are all strings. */
export const stringMap: Validator = (v) =>
  v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string")
    ? undefined
    : "must be a map of strings";
