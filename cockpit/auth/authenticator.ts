/**
 * Turns an `Authorization` header into a principal (user + role), or refuses: 401 when there is no
 * valid login (missing, malformed, expired, wrong issuer/audience, bad signature, unknown API token),
 * 403 when the login is valid but belongs to neither the viewers' nor the operators' organisation/group.
 * Refusals name the reason, never the token.
 */
import * as crypto from "crypto";
import { RequestError } from "../errors";
import { JwksCache } from "./jwks";
import { checkClaims, decodeJwt, verifySignature, JwtRejected } from "./jwt";
import { roleFromClaims, userFromClaims, type AuthConfig, type Role } from "./roles";
import { TokenStore } from "./tokens";

/** Who is asking. */
export interface Principal {
  /** User name from the JWT, or `token:<id>` for an API token. */
  user: string;
  /** The role the request acts with. */
  role: Role;
  /** How the request logged in. */
  via: "jwt" | "token";
}

/** Options besides the mode's own config. */
export interface AuthenticatorOptions {
  /** Seconds of clock difference tolerated on `exp`/`nbf`. Default 60. */
  clockSkewSeconds?: number;
}

const LOGIN_FIX = "log in (ItsYou.online/OIDC) and send `Authorization: Bearer <JWT>`, or use an API token";

export class Authenticator {
  private readonly keys: { key(kid: string | undefined): Promise<crypto.KeyObject> };

  constructor(
    private readonly cfg: AuthConfig,
    private readonly tokens: TokenStore,
    private readonly o: AuthenticatorOptions = {},
  ) {
    if (cfg.mode === "itsyouonline" && cfg.publicKeyPem) {
      const fixed = crypto.createPublicKey(cfg.publicKeyPem);
      this.keys = { key: async () => fixed };
    } else {
      const url =
        cfg.mode === "itsyouonline"
          ? (cfg.jwksUrl ?? "")
          : (cfg.jwksUrl ?? (() => discoverJwksUri(cfg.issuer)));
      this.keys = new JwksCache({ url });
    }
  }

  /** The principal of a request with this `Authorization` header; throws a 401/403 `RequestError`. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const unauthorized = (problem: string) =>
      new RequestError(401, "request", "Authorization", problem, LOGIN_FIX);
    if (!header) throw unauthorized("no login: the Authorization header is missing");
    const m = /^bearer\s+(\S+)$/i.exec(header.trim());
    if (!m) throw unauthorized("the Authorization header is not `Bearer <token>`");
    const token = m[1];
    if (TokenStore.looksLikeToken(token)) {
      const info = await this.tokens.verify(token);
      if (!info) throw unauthorized("the API token is unknown or revoked");
      return { user: `token:${info.id}`, role: info.role, via: "token" };
    }
    const audience = this.cfg.mode === "itsyouonline" ? this.cfg.organization : this.cfg.clientId;
    let claims;
    try {
      const jwt = decodeJwt(token);
      const key = await this.keys.key(typeof jwt.header.kid === "string" ? jwt.header.kid : undefined);
      verifySignature(jwt, key);
      checkClaims(jwt.claims, {
        issuer: this.cfg.issuer,
        audience,
        clockSkewSeconds: this.o.clockSkewSeconds ?? 60,
        now: Math.floor(Date.now() / 1000),
      });
      claims = jwt.claims;
    } catch (err) {
      if (err instanceof JwtRejected) throw unauthorized(`the token is refused: ${err.reason}`);
      throw err;
    }
    const user = userFromClaims(claims);
    const role = roleFromClaims(claims, this.cfg);
    if (!role) {
      const need =
        this.cfg.mode === "itsyouonline"
          ? `scope user:memberof:${this.cfg.organization} (or ${this.cfg.operatorOrganization})`
          : `group "${this.cfg.viewerGroup}" (or "${this.cfg.operatorGroup}") in claim ${this.cfg.groupClaim}`;
      throw new RequestError(
        403,
        "request",
        "Authorization",
        `user "${user}" is not a member: the token lacks ${need}`,
        "ask an owner of the build organisation to add you",
      );
    }
    return { user, role, via: "jwt" };
  }
}

async function discoverJwksUri(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const doc = (await res.json()) as { jwks_uri?: unknown; issuer?: unknown };
    if (typeof doc.jwks_uri !== "string") throw new Error("no jwks_uri");
    return doc.jwks_uri;
  } catch (err) {
    throw new JwtRejected(`OIDC discovery at ${url} failed (${(err as Error).message})`);
  }
}
