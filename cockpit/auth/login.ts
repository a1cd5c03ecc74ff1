/**
 * The browser login for OIDC mode: OAuth2 authorization code flow with PKCE (RFC 6749 section 4.1,
 * RFC 7636 S256) and a nonce (OpenID Connect Core 3.1.2.1). `/auth/login` redirects to the
 * provider's `authorization_endpoint`; `/auth/callback` exchanges the code at `token_endpoint`, checks
 * the returned `id_token` like any bearer token (signature, iss, aud, exp, nbf, role) plus its nonce,
 * and hands it to the browser, which then sends it as `Authorization: Bearer`.
 * Pending logins live in memory for 10 minutes (a restart only makes users log in again).
 */
import * as crypto from "crypto";
import { RequestError } from "../errors";
import type { Authenticator, Principal } from "./authenticator";
import { decodeJwt } from "./jwt";
import type { OidcAuth } from "./roles";

/** The login flow's settings (config `auth.login`). */
export interface LoginSettings {
  /** The cockpit's callback URL as browsers reach it (`.../auth/callback`), registered at the provider. */
  redirectUrl: string;
  /** The client secret, when the provider wants one (read from `auth.login.clientSecretFile`). */
  clientSecret?: string;
  /** Scopes asked for. Default `openid profile groups`. */
  scopes?: string;
}

/** What a finished login gives the browser. */
export interface LoginResult {
  /** The id token to send as `Authorization: Bearer`. */
  token: string;
  /** Who logged in. */
  user: string;
  /** Their role. */
  role: Principal["role"];
  /** ISO time the token expires. */
  expiresAt: string;
}

interface Pending {
  verifier: string;
  nonce: string;
  until: number;
}

const PENDING_MS = 600_000;
const MAX_PENDING = 1000;

export class LoginFlow {
  private readonly pending = new Map<string, Pending>();
  private endpoints: { authorize: string; token: string } | undefined;

  constructor(
    private readonly cfg: OidcAuth,
    private readonly settings: LoginSettings,
    private readonly auth: Authenticator,
  ) {}

  private async discover(): Promise<{ authorize: string; token: string }> {
    if (this.endpoints) return this.endpoints;
    const url = `${this.cfg.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const doc = (await res.json()) as { authorization_endpoint?: unknown; token_endpoint?: unknown };
    if (typeof doc.authorization_endpoint !== "string" || typeof doc.token_endpoint !== "string") {
      throw new RequestError(
        502,
        "login",
        "issuer",
        `${url} names no authorization_endpoint/token_endpoint`,
        "check auth.issuer",
      );
    }
    this.endpoints = { authorize: doc.authorization_endpoint, token: doc.token_endpoint };
    return this.endpoints;
  }

  /** The provider URL to send the browser to. */
  async start(): Promise<string> {
    const now = Date.now();
    for (const [k, p] of this.pending) if (p.until < now) this.pending.delete(k);
    if (this.pending.size >= MAX_PENDING) {
      throw new RequestError(429, "login", "state", "too many logins are pending", "retry in a few minutes");
    }
    const { authorize } = await this.discover();
    const state = crypto.randomBytes(16).toString("base64url");
    const verifier = crypto.randomBytes(32).toString("base64url");
    const nonce = crypto.randomBytes(16).toString("base64url");
    this.pending.set(state, { verifier, nonce, until: now + PENDING_MS });
    const u = new URL(authorize);
    u.searchParams.set("response_type", "code");
    u.searchParams.set("client_id", this.cfg.clientId);
    u.searchParams.set("redirect_uri", this.settings.redirectUrl);
    u.searchParams.set("scope", this.settings.scopes ?? "openid profile groups");
    u.searchParams.set("state", state);
    u.searchParams.set("nonce", nonce);
    u.searchParams.set("code_challenge", crypto.createHash("sha256").update(verifier).digest("base64url"));
    u.searchParams.set("code_challenge_method", "S256");
    return u.toString();
  }

  /** Finishes a login from the callback's query. */
  async callback(query: URLSearchParams): Promise<LoginResult> {
    const bad = (field: string, problem: string) =>
      new RequestError(400, "login callback", field, problem, "start again at /auth/login");
    if (query.get("error")) throw bad("error", `the provider refused the login (${query.get("error")})`);
    const state = query.get("state") ?? "";
    const p = this.pending.get(state);
    // One use only: a replayed or forged state finds nothing.
    this.pending.delete(state);
    if (!p || p.until < Date.now()) throw bad("state", "is unknown, used already or expired");
    const code = query.get("code");
    if (!code) throw bad("code", "is missing");
    const { token } = await this.discover();
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: this.settings.redirectUrl,
      client_id: this.cfg.clientId,
      code_verifier: p.verifier,
    });
    if (this.settings.clientSecret) form.set("client_secret", this.settings.clientSecret);
    const res = await fetch(token, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown };
    if (!res.ok || typeof body.id_token !== "string") {
      throw new RequestError(
        502,
        "login callback",
        "code",
        `the provider's token endpoint refused the code (HTTP ${res.status} ${String(body.error ?? "")})`,
        "start again at /auth/login",
      );
    }
    const principal = await this.auth.authenticate(`Bearer ${body.id_token}`);
    const claims = decodeJwt(body.id_token).claims;
    if (claims.nonce !== p.nonce) throw bad("nonce", "the id token's nonce is not the one this login sent");
    return {
      token: body.id_token,
      user: principal.user,
      role: principal.role,
      expiresAt: new Date((claims.exp ?? 0) * 1000).toISOString(),
    };
  }
}
