/**
 * API tokens for automation: `ckt_<id>_<secret>`, shown once when created; only a scrypt hash of
 * the secret (with its own salt) is stored, in `<dataDir>/tokens.json` (mode 0600, rewritten
 * through a temporary file and a rename).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Role } from "./roles";

/** A stored token, as listed (never with its hash). */
export interface TokenInfo {
  /** The token's public id (the part after `ckt_`). */
  id: string;
  /** What the token is for, as its creator said. */
  label: string;
  /** The role the token acts with. */
  role: Role;
  /** Who created it. */
  createdBy: string;
  /** ISO creation time. */
  createdAt: string;
}

interface StoredToken extends TokenInfo {
  salt: string;
  hash: string;
}

const SCRYPT_KEYLEN = 32;

function scrypt(secret: string, salt: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    crypto.scrypt(secret, Buffer.from(salt, "hex"), SCRYPT_KEYLEN, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export class TokenStore {
  /** The tokens file. */
  readonly file: string;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.file = path.join(dataDir, "tokens.json");
  }

  private load(): StoredToken[] {
    try {
      return JSON.parse(fs.readFileSync(this.file, "utf8")) as StoredToken[];
    } catch {
      return [];
    }
  }

  private save(tokens: StoredToken[]): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(tokens, null, 1), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  /** Creates a token; the returned `token` is the only time its secret exists outside the caller. */
  async create(label: string, role: Role, createdBy: string): Promise<{ token: string; info: TokenInfo }> {
    const id = crypto.randomBytes(6).toString("hex");
    const secret = crypto.randomBytes(24).toString("base64url");
    const salt = crypto.randomBytes(16).toString("hex");
    const hash = (await scrypt(secret, salt)).toString("hex");
    const info: TokenInfo = { id, label, role, createdBy, createdAt: new Date().toISOString() };
    this.save([...this.load(), { ...info, salt, hash }]);
    return { token: `ckt_${id}_${secret}`, info };
  }

  /** The tokens, without hashes. */
  list(): TokenInfo[] {
    return this.load().map(({ id, label, role, createdBy, createdAt }) => ({
      id,
      label,
      role,
      createdBy,
      createdAt,
    }));
  }

  /** Removes token `id`; false when there is none. */
  revoke(id: string): boolean {
    const all = this.load();
    const rest = all.filter((t) => t.id !== id);
    if (rest.length === all.length) return false;
    this.save(rest);
    return true;
  }

  /** Whether `token` looks like an API token (so it is not tried as a JWT). */
  static looksLikeToken(token: string): boolean {
    return token.startsWith("ckt_");
  }

  /** The token's info when `token` is a current token, else undefined (timing-safe compare). */
  async verify(token: string): Promise<TokenInfo | undefined> {
    const m = /^ckt_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/.exec(token);
    if (!m) return undefined;
    const stored = this.load().find((t) => t.id === m[1]);
    if (!stored) return undefined;
    const got = await scrypt(m[2], stored.salt);
    const want = Buffer.from(stored.hash, "hex");
    if (want.length !== got.length || !crypto.timingSafeEqual(got, want)) return undefined;
    const { id, label, role, createdBy, createdAt } = stored;
    return { id, label, role, createdBy, createdAt };
  }
}
