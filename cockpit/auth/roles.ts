/**
 * Who may do what. Two roles: a viewer (a member of the build organisation / group) reads
 * everything; an operator (a member of the operators' organisation / group) also starts,
 * approves and cancels runs and manages API tokens.
 *
 * ItsYou.online put organisation membership in the JWT's `scope` claim as `user:memberof:<org>`
 * (a comma-separated string or a list; its docs write both `memberof` and `memberOf`), issued by
 * `itsyouonline` for the client id in `aud`, ES384-signed with one published key
 * (itsyouonline/identityserver docs/oauth2/jwt.md, read from the fork
 * praveenmunagapati/identityserver @3727ef3). A generic OIDC provider puts groups in a claim
 * (default `groups`).
 */
import type { JwtClaims } from "./jwt";

/** A role, lowest first. */
export type Role = "viewer" | "operator";

/** ItsYou.online mode: JWTs issued by `itsyouonline` for the build organisation. */
export interface ItsYouOnlineAuth {
  /** Mode tag. */
  mode: "itsyouonline";
  /** The `iss` of its tokens. Default `itsyouonline`. */
  issuer: string;
  /** The JWKS URL of the issuer's signing keys (an ItsYou.online-compatible service); this or `publicKeyPem`. */
  jwksUrl?: string;
  /** The issuer's one public key, PEM (ItsYou.online published one, no JWKS); this or `jwksUrl`. */
  publicKeyPem?: string;
  /** The build organisation: the JWT audience, and `user:memberof:<it>` makes a viewer. */
  organization: string;
  /** The operators' organisation: `user:memberof:<it>` makes an operator. */
  operatorOrganization: string;
}

/** Generic OpenID Connect mode. */
export interface OidcAuth {
  /** Mode tag. */
  mode: "oidc";
  /** The issuer URL (exactly the tokens' `iss`); its discovery document gives the JWKS unless `jwksUrl` is set. */
  issuer: string;
  /** The client id: the JWT audience. */
  clientId: string;
  /** The JWKS URL; default: `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  jwksUrl?: string;
  /** The claim listing the user's groups. Default `groups`. */
  groupClaim: string;
  /** Members of this group are viewers. */
  viewerGroup: string;
  /** Members of this group are operators. */
  operatorGroup: string;
}

/** The access configuration. */
export type AuthConfig = ItsYouOnlineAuth | OidcAuth;

function list(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  if (typeof v === "string") return v.split(/[\s,]+/).filter(Boolean);
  return [];
}

/** The role `claims` give under `cfg`, or undefined when the user is in neither organisation / group. */
export function roleFromClaims(claims: JwtClaims, cfg: AuthConfig): Role | undefined {
  if (cfg.mode === "itsyouonline") {
    const orgs = list(claims.scope)
      .map((s) => /^user:memberof:(.+)$/i.exec(s)?.[1])
      .filter((o): o is string => !!o);
    if (orgs.includes(cfg.operatorOrganization)) return "operator";
    if (orgs.includes(cfg.organization)) return "viewer";
    return undefined;
  }
  const groups = list(claims[cfg.groupClaim]);
  if (groups.includes(cfg.operatorGroup)) return "operator";
  if (groups.includes(cfg.viewerGroup)) return "viewer";
  return undefined;
}

/** The user name a token names: ItsYou.online `username` (`globalid` for an organisation's app), OIDC `preferred_username`, else `sub`. */
export function userFromClaims(claims: JwtClaims): string {
  for (const k of ["username", "globalid", "preferred_username", "email", "sub"]) {
    const v = claims[k];
    if (typeof v === "string" && v) return v;
  }
  return "unknown";
}

/** Whether `have` is at least `need`. */
export function roleAtLeast(have: Role, need: Role): boolean {
  return have === "operator" || need === "viewer";
}
