/**
 * Bearer JWT verification with node:crypto only: compact JWS, RS256 / ES256 / ES384 signatures
 * (RFC 7515, RFC 7518 section 3), then the registered claims `iss`, `aud`, `exp`, `nbf`
 * (RFC 7519 section 4.1). `alg: none` and HMAC algorithms are refused: a public key must never
 * double as an HMAC secret.
 */
import * as crypto from "crypto";

/** The algorithms accepted, with their hash and key type. */
const ALGS: Record<string, { hash: string; kty: string; ec?: boolean }> = {
  RS256: { hash: "sha256", kty: "RSA" },
  ES256: { hash: "sha256", kty: "EC", ec: true },
  ES384: { hash: "sha384", kty: "EC", ec: true },
};

/** The claims the cockpit reads; any others are kept as they come. */
export interface JwtClaims {
  /** Issuer. */
  iss?: string;
  /** Subject (user id). */
  sub?: string;
  /** Audience: one or several. */
  aud?: string | string[];
  /** Expiry, seconds since the epoch. */
  exp?: number;
  /** Not before, seconds since the epoch. */
  nbf?: number;
  /** Anything else (scope, groups, username...). */
  [claim: string]: unknown;
}

/** A decoded, not yet verified token. */
export interface DecodedJwt {
  /** The protected header (`alg`, `kid`). */
  header: { alg?: string; kid?: string; [k: string]: unknown };
  /** The claims. */
  claims: JwtClaims;
  /** `<header>.<payload>` as sent, the signed bytes. */
  signingInput: string;
  /** The raw signature. */
  signature: Buffer;
}

/** What a token must meet besides its signature. */
export interface ClaimRules {
  /** The `iss` value required. */
  issuer: string;
  /** A value `aud` must be or contain. */
  audience: string;
  /** Seconds of clock difference tolerated on `exp`/`nbf`. */
  clockSkewSeconds: number;
  /** The time to check against, seconds since the epoch. */
  now: number;
}

/** Why a token was refused (the message never contains the token). */
export class JwtRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.message = reason;
    this.name = "JwtRejected";
  }
}

function b64json(part: string, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new JwtRejected(`the token's ${what} is not base64url JSON`);
}

/** Splits a compact JWS into its parts; throws `JwtRejected` when it is not one. */
export function decodeJwt(token: string): DecodedJwt {
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) {
    throw new JwtRejected("the token is not a compact JWS (three base64url parts)");
  }
  return {
    header: b64json(parts[0], "header"),
    claims: b64json(parts[1], "payload") as JwtClaims,
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2], "base64url"),
  };
}

/** Checks the signature of `jwt` with `key`; throws `JwtRejected` when the algorithm or signature is wrong. */
export function verifySignature(jwt: DecodedJwt, key: crypto.KeyObject): void {
  const alg = String(jwt.header.alg ?? "");
  const spec = ALGS[alg];
  if (!spec) throw new JwtRejected(`algorithm "${alg}" is not accepted (RS256, ES256, ES384)`);
  const kty = key.asymmetricKeyType === "rsa" ? "RSA" : key.asymmetricKeyType === "ec" ? "EC" : "";
  if (kty !== spec.kty)
    throw new JwtRejected(`algorithm ${alg} does not match the issuer's ${kty || "unknown"} key`);
  const ok = crypto.verify(
    spec.hash,
    Buffer.from(jwt.signingInput),
    spec.ec ? { key, dsaEncoding: "ieee-p1363" } : key,
    jwt.signature,
  );
  if (!ok) throw new JwtRejected("the signature does not verify with the issuer's key");
}

/** Checks `iss`, `aud`, `exp` (required) and `nbf`; throws `JwtRejected` naming the claim. */
export function checkClaims(c: JwtClaims, rules: ClaimRules): void {
  if (c.iss !== rules.issuer) throw new JwtRejected(`issuer (iss) is not "${rules.issuer}"`);
  const aud = Array.isArray(c.aud) ? c.aud : typeof c.aud === "string" ? [c.aud] : [];
  if (!aud.includes(rules.audience))
    throw new JwtRejected(`audience (aud) does not contain "${rules.audience}"`);
  if (typeof c.exp !== "number") throw new JwtRejected("the token has no expiry (exp)");
  if (c.exp + rules.clockSkewSeconds <= rules.now) throw new JwtRejected("the token has expired (exp)");
  if (c.nbf !== undefined) {
    if (typeof c.nbf !== "number") throw new JwtRejected("not-before (nbf) is not a number");
    if (c.nbf - rules.clockSkewSeconds > rules.now) throw new JwtRejected("the token is not valid yet (nbf)");
  }
}
