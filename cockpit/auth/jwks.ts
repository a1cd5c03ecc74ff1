/**
 * The issuer's signing keys (a JWKS, RFC 7517), fetched over HTTP and cached: the set is fetched
 * again after `ttlMs`, or when a token names a key id the cached set lacks (key rotation), at most
 * once per `minRefetchMs` so that tokens with made-up key ids cannot make the cockpit hammer the issuer.
 */
import * as crypto from "crypto";
import { JwtRejected } from "./jwt";

/** How keys are found. */
export interface JwksOptions {
  /** The JWKS URL, or a function resolving it (OIDC discovery). */
  url: string | (() => Promise<string>);
  /** How long a fetched set is used. Default 10 minutes. */
  ttlMs?: number;
  /** The shortest time between two fetches. Default 30 s. */
  minRefetchMs?: number;
  /** Timeout of one fetch. Default 5 s. */
  timeoutMs?: number;
}

interface Jwk {
  kid?: string;
  kty?: string;
  use?: string;
  [k: string]: unknown;
}

export class JwksCache {
  private keys: Jwk[] = [];
  private fetchedAt = 0;
  private inflight: Promise<void> | undefined;

  constructor(private readonly o: JwksOptions) {}

  /** The public key for a token's `kid` (or the only signing key when the token names none). */
  async key(kid: string | undefined): Promise<crypto.KeyObject> {
    const ttl = this.o.ttlMs ?? 600_000;
    if (Date.now() - this.fetchedAt > ttl) await this.refresh();
    let jwk = this.pick(kid);
    if (!jwk && Date.now() - this.fetchedAt > (this.o.minRefetchMs ?? 30_000)) {
      await this.refresh();
      jwk = this.pick(kid);
    }
    if (!jwk)
      throw new JwtRejected(
        kid
          ? `the issuer has no key with id "${kid}"`
          : "the token names no key id (kid) and the issuer has several keys",
      );
    try {
      return crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: "jwk" });
    } catch {
      throw new JwtRejected(`the issuer's key "${kid ?? ""}" is not a usable public key`);
    }
  }

  private pick(kid: string | undefined): Jwk | undefined {
    const signing = this.keys.filter((k) => k.use === undefined || k.use === "sig");
    if (kid) return signing.find((k) => k.kid === kid);
    return signing.length === 1 ? signing[0] : undefined;
  }

  private refresh(): Promise<void> {
    if (!this.inflight) {
      this.inflight = this.load().finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private async load(): Promise<void> {
    const url = typeof this.o.url === "string" ? this.o.url : await this.o.url();
    let body: unknown;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = await res.json();
    } catch (err) {
      // Keep the old keys: an issuer hiccup must not log everyone out.
      this.fetchedAt = Date.now();
      if (this.keys.length > 0) return;
      throw new JwtRejected(`the issuer's keys could not be fetched from ${url} (${(err as Error).message})`);
    }
    const keys = (body as { keys?: unknown }).keys;
    if (!Array.isArray(keys)) throw new JwtRejected(`${url} is not a JWKS (no "keys" array)`);
    this.keys = keys.filter((k) => k && typeof k === "object") as Jwk[];
    this.fetchedAt = Date.now();
  }
}
