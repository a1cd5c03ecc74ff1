/**
 * Test code: a local ItsYou.online / OIDC stand-in on 127.0.0.1 that publishes a JWKS (one RSA and
 * one P-256 key) and an OIDC discovery document, and signs JWTs with node:crypto, including the
 * broken ones the tests need (tampered, alg none, HMAC, unknown key id).
 * ItsYou.online JWT claims as its docs described them: iss "itsyouonline", aud, scope
 * ["user:memberof:<org>"], username (github:itsyouonline/identityserver, docs/oauth2/jwt.md).
 */
import * as crypto from "crypto";
import * as http from "http";
import type { AddressInfo } from "net";

export interface Issuer {
  /** Base URL (`http://127.0.0.1:<port>`), also the OIDC issuer value. */
  url: string;
  /** JWKS URL. */
  jwksUrl: string;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  /** Signs `claims` (header `alg`, `kid` from options). */
  sign(
    claims: Record<string, unknown>,
    opts?: { alg?: "RS256" | "ES256"; kid?: string; key?: crypto.KeyObject },
  ): string;
  /** Who the authorize endpoint logs in (browser flow), and a nonce override to test the check. */
  loginAs: { user: string; groups: string[]; wrongNonce?: boolean };
  /** Adds a new RSA key (rotation) and returns its kid. */
  rotate(): string;
  stop(): Promise<void>;
}

interface Key {
  kid: string;
  alg: "RS256" | "ES256";
  priv: crypto.KeyObject;
  pub: crypto.KeyObject;
}

function genKey(alg: "RS256" | "ES256", kid: string): Key {
  const { privateKey, publicKey } =
    alg === "RS256"
      ? crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
      : crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { kid, alg, priv: privateKey, pub: publicKey };
}

/** Signs a JWT the way an issuer does (RS256 or ES256). */
export function signJwt(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: crypto.KeyObject,
): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${enc(header)}.${enc(claims)}`;
  const ec = key.asymmetricKeyType === "ec";
  const hash = header.alg === "ES384" ? "sha384" : "sha256";
  const sig = crypto.sign(hash, Buffer.from(input), ec ? { key, dsaEncoding: "ieee-p1363" } : key);
  return `${input}.${sig.toString("base64url")}`;
}

export async function startIssuer(): Promise<Issuer> {
  const keys: Key[] = [genKey("RS256", "rsa-1"), genKey("ES256", "ec-1")];
  let fetches = 0;
  let url = "";
  const codes = new Map<string, { challenge: string; nonce: string; redirect: string; clientId: string }>();
  const loginAs: Issuer["loginAs"] = { user: "olga", groups: ["g8os-ops"] };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? "/", url);
    if (u.pathname === "/authorize") {
      // Auto-login as `loginAs`: a code bound to the PKCE challenge, the nonce and the redirect URI.
      const code = crypto.randomBytes(12).toString("hex");
      const q = u.searchParams;
      if (q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) {
        res.writeHead(400).end("PKCE S256 required");
        return;
      }
      codes.set(code, {
        challenge: q.get("code_challenge")!,
        nonce: q.get("nonce") ?? "",
        redirect: q.get("redirect_uri") ?? "",
        clientId: q.get("client_id") ?? "",
      });
      const back = new URL(q.get("redirect_uri") ?? "");
      back.searchParams.set("code", code);
      back.searchParams.set("state", q.get("state") ?? "");
      res.writeHead(302, { Location: back.toString() }).end();
      return;
    }
    if (u.pathname === "/token" && req.method === "POST") {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const f = new URLSearchParams(body);
        const grant = codes.get(f.get("code") ?? "");
        codes.delete(f.get("code") ?? "");
        const verifier = f.get("code_verifier") ?? "";
        const ok =
          grant &&
          f.get("grant_type") === "authorization_code" &&
          f.get("redirect_uri") === grant.redirect &&
          f.get("client_id") === grant.clientId &&
          crypto.createHash("sha256").update(verifier).digest("base64url") === grant.challenge;
        if (!ok || !grant) {
          res
            .writeHead(400, { "Content-Type": "application/json" })
            .end(JSON.stringify({ error: "invalid_grant" }));
          return;
        }
        const k = keys[0];
        const idToken = signJwt(
          { alg: k.alg, typ: "JWT", kid: k.kid },
          {
            iss: url,
            aud: grant.clientId,
            sub: `u-${loginAs.user}`,
            preferred_username: loginAs.user,
            groups: loginAs.groups,
            nonce: loginAs.wrongNonce ? "not-the-nonce" : grant.nonce,
            exp: Math.floor(Date.now() / 1000) + 600,
          },
          k.priv,
        );
        res
          .writeHead(200, { "Content-Type": "application/json" })
          .end(JSON.stringify({ id_token: idToken, token_type: "Bearer" }));
      });
      return;
    }
    if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({
          issuer: url,
          jwks_uri: `${url}/jwks`,
          authorization_endpoint: `${url}/authorize`,
          token_endpoint: `${url}/token`,
        }),
      );
      return;
    }
    if (req.url === "/jwks") {
      fetches++;
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({
          keys: keys.map((k) => ({
            ...(k.pub.export({ format: "jwk" }) as object),
            kid: k.kid,
            alg: k.alg,
            use: "sig",
          })),
        }),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    jwksUrl: `${url}/jwks`,
    jwksFetches: () => fetches,
    loginAs,
    sign: (claims, opts = {}) => {
      const alg = opts.alg ?? "RS256";
      const k = keys.find((x) => (opts.kid ? x.kid === opts.kid : x.alg === alg)) ?? keys[0];
      return signJwt({ alg: k.alg, typ: "JWT", kid: opts.kid ?? k.kid }, claims, opts.key ?? k.priv);
    },
    rotate: () => {
      const kid = `rsa-${keys.length + 1}`;
      keys.push(genKey("RS256", kid));
      return kid;
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
