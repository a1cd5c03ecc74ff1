/**
 * Secret values as the engine sees them, and their encryption in the state file.
 *
 * Inside the harness a secret is the wire form the SDK sends and accepts:
 * `{"4dabf1...": "1b4706...", "value": <plaintext>}`. In the state file the plaintext is replaced by
 * `ciphertext` (AES-256-GCM, key derived from the passphrase), the way Pulumi's passphrase secrets
 * provider stores it, so tests can prove that no secret reaches the file in plaintext.
 */
import * as crypto from "crypto";
export { UNKNOWN } from "../../providers/shared/dynamic";

/** Key under which the SDK tags special values (secrets, resource references, assets). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
/** Tag value of a secret. */
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export type Props = Record<string, unknown>;

interface SecretWire {
  [SIG_KEY]: typeof SECRET_SIG;
  value?: unknown;
  ciphertext?: string;
}

export function isSecret(v: unknown): v is SecretWire {
  return !!v && typeof v === "object" && (v as Props)[SIG_KEY] === SECRET_SIG;
}

/** Wraps `v` as a secret (never twice). */
export function makeSecret(v: unknown): unknown {
  return isSecret(v) ? v : { [SIG_KEY]: SECRET_SIG, value: v };
}

/** True when `v` or anything inside it is a secret. */
export function containsSecret(v: unknown): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (v && typeof v === "object") return Object.values(v as Props).some(containsSecret);
  return false;
}

/** Deep copy of `v` with every secret replaced by its plaintext: what a provider that does not accept secrets gets. */
export function revealSecrets<T>(v: T): T {
  if (isSecret(v)) return revealSecrets(v.value) as T;
  if (Array.isArray(v)) return v.map(revealSecrets) as T;
  if (v && typeof v === "object") {
    const out: Props = {};
    for (const [k, x] of Object.entries(v as Props)) out[k] = revealSecrets(x);
    return out as T;
  }
  return v;
}

/** Collects every secret plaintext string inside `v` (to redact them from messages). */
export function secretStrings(v: unknown, out: string[] = []): string[] {
  if (isSecret(v)) {
    const plain = revealSecrets(v.value);
    if (typeof plain === "string") out.push(plain);
    else if (plain !== undefined && plain !== null) collectStrings(plain, out);
  } else if (Array.isArray(v)) v.forEach((x) => secretStrings(x, out));
  else if (v && typeof v === "object") Object.values(v as Props).forEach((x) => secretStrings(x, out));
  return out;
}

function collectStrings(v: unknown, out: string[]): void {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => collectStrings(x, out));
  else if (v && typeof v === "object") Object.values(v as Props).forEach((x) => collectStrings(x, out));
}

const KDF_ITERATIONS = 100_000;
const keyCache = new Map<string, Buffer>();

/** A passphrase-derived AES-256-GCM key, bound to the state file's salt. */
export class SecretCipher {
  private readonly key: Buffer;

  constructor(
    passphrase: string,
    readonly salt: string,
  ) {
    const cacheKey = `${salt}\0${passphrase}`;
    let key = keyCache.get(cacheKey);
    if (!key) {
      key = crypto.pbkdf2Sync(passphrase, Buffer.from(salt, "base64"), KDF_ITERATIONS, 32, "sha256");
      keyCache.set(cacheKey, key);
    }
    this.key = key;
  }

  static newSalt(): string {
    return crypto.randomBytes(16).toString("base64");
  }

  /** `v1:<nonce>:<ciphertext+tag>`, like Pulumi's passphrase provider. */
  encrypt(plaintext: string): string {
    const nonce = crypto.randomBytes(12);
    const c = crypto.createCipheriv("aes-256-gcm", this.key, nonce);
    const body = Buffer.concat([c.update(plaintext, "utf8"), c.final(), c.getAuthTag()]);
    return `v1:${nonce.toString("base64")}:${body.toString("base64")}`;
  }

  /** Throws when the passphrase is wrong or the text was tampered with. */
  decrypt(ciphertext: string): string {
    const [version, nonce, body] = ciphertext.split(":");
    if (version !== "v1" || !nonce || !body) throw new Error("unrecognised ciphertext format");
    const raw = Buffer.from(body, "base64");
    const d = crypto.createDecipheriv("aes-256-gcm", this.key, Buffer.from(nonce, "base64"));
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(0, raw.length - 16)), d.final()]).toString("utf8");
  }

  /** Deep copy with each secret's `value` replaced by `ciphertext` (JSON of the plaintext). */
  encryptDeep<T>(v: T): T {
    if (isSecret(v)) {
      if (v.ciphertext !== undefined) return v;
      return { [SIG_KEY]: SECRET_SIG, ciphertext: this.encrypt(JSON.stringify(v.value ?? null)) } as T;
    }
    if (Array.isArray(v)) return v.map((x) => this.encryptDeep(x)) as T;
    if (v && typeof v === "object") {
      const out: Props = {};
      for (const [k, x] of Object.entries(v as Props)) out[k] = this.encryptDeep(x);
      return out as T;
    }
    return v;
  }

  /** Inverse of `encryptDeep`: secrets come back in wire form `{sig, value}`. */
  decryptDeep<T>(v: T): T {
    if (isSecret(v)) {
      if (v.ciphertext === undefined) return v;
      return { [SIG_KEY]: SECRET_SIG, value: JSON.parse(this.decrypt(v.ciphertext)) } as T;
    }
    if (Array.isArray(v)) return v.map((x) => this.decryptDeep(x)) as T;
    if (v && typeof v === "object") {
      const out: Props = {};
      for (const [k, x] of Object.entries(v as Props)) out[k] = this.decryptDeep(x);
      return out as T;
    }
    return v;
  }
}
