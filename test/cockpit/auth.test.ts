/**
 * Access to the cockpit's REST API: ItsYou.online and OIDC JWTs checked against a local issuer
 * stand-in (127.0.0.1), roles, API tokens. No testbed.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { JwksCache } from "../../cockpit/auth/jwks";
import { checkConfig } from "../../cockpit/config";
import { FakeEngine } from "./fake-engine";
import { signJwt, startIssuer, type Issuer } from "./issuer";
import { call, iyoClaims, makeDirs, start, testConfig, type Dirs, type TestCockpit } from "./setup";

const RUN = { stack: "dev", kind: "preview" };

describe("cockpit access: ItsYou.online mode", () => {
  let issuer: Issuer;
  let dirs: Dirs;
  let c: TestCockpit;
  let engine: FakeEngine;

  before(async () => {
    issuer = await startIssuer();
    dirs = makeDirs();
    engine = new FakeEngine(5);
    c = await start(testConfig(dirs, issuer), engine);
  });
  after(async () => {
    await c.close();
    await issuer.stop();
    fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  const refused = async (token: string | undefined, status: number, reason: RegExp, header?: string) => {
    const r = await call(
      c.url,
      "GET",
      "/api/status",
      header ? { headers: { authorization: header } } : { token },
    );
    assert.strictEqual(r.status, status, r.text);
    assert.strictEqual(r.json.error.field, "Authorization");
    assert.match(r.json.error.problem, reason);
    assert.ok(r.json.error.fix.length > 0);
    if (token) assert.ok(!r.text.includes(token), "the refusal echoes the token");
  };

  it("refuses a request without a login (401)", async () => {
    await refused(undefined, 401, /header is missing/);
  });

  it("refuses an Authorization header that is not a bearer token (401)", async () => {
    await refused(undefined, 401, /not `Bearer <token>`/, "Basic dXNlcjpwYXNz");
  });

  it("refuses an expired token (401)", async () => {
    await refused(
      issuer.sign({ ...iyoClaims("bob", ["build"]), exp: Math.floor(Date.now() / 1000) - 3600 }),
      401,
      /expired/,
    );
  });

  it("refuses a token without expiry (401)", async () => {
    const claims = iyoClaims("bob", ["build"]);
    delete claims.exp;
    await refused(issuer.sign(claims), 401, /no expiry/);
  });

  it("refuses a token that is not valid yet (nbf, 401)", async () => {
    await refused(
      issuer.sign({ ...iyoClaims("bob", ["build"]), nbf: Math.floor(Date.now() / 1000) + 3600 }),
      401,
      /not valid yet/,
    );
  });

  it("refuses a token for another audience (401)", async () => {
    await refused(issuer.sign(iyoClaims("bob", ["build"], "someone-else")), 401, /audience/);
  });

  it("refuses a token from another issuer (401)", async () => {
    await refused(issuer.sign({ ...iyoClaims("bob", ["build"]), iss: "evil" }), 401, /issuer/);
  });

  it("refuses a token whose payload was changed after signing (401)", async () => {
    const good = issuer.sign(iyoClaims("bob", ["build"]));
    const [h, , s] = good.split(".");
    const forged = Buffer.from(JSON.stringify(iyoClaims("bob", ["build", "build.ops"]))).toString(
      "base64url",
    );
    await refused(`${h}.${forged}.${s}`, 401, /signature does not verify/);
  });

  it("refuses a token signed by a key the issuer does not publish (401)", async () => {
    const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    await refused(
      issuer.sign(iyoClaims("bob", ["build"]), { key: privateKey }),
      401,
      /signature does not verify/,
    );
  });

  it("refuses alg none and HMAC tokens (401)", async () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const body = enc(iyoClaims("bob", ["build.ops"]));
    await refused(`${enc({ alg: "none", kid: "rsa-1" })}.${body}.`, 401, /algorithm "none" is not accepted/);
    const mac = crypto
      .createHmac("sha256", "k")
      .update(`${enc({ alg: "HS256", kid: "rsa-1" })}.${body}`)
      .digest("base64url");
    await refused(
      `${enc({ alg: "HS256", kid: "rsa-1" })}.${body}.${mac}`,
      401,
      /algorithm "HS256" is not accepted/,
    );
  });

  it("refuses garbage that is not a JWT (401)", async () => {
    await refused("not.a-jwt", 401, /compact JWS/);
  });

  it("refuses a valid token without the organisation's scope (403)", async () => {
    await refused(issuer.sign(iyoClaims("mallory", ["other-org"])), 403, /user:memberof:build/);
  });

  it("lets a viewer read but not start a run (403)", async () => {
    const viewer = issuer.sign(iyoClaims("vera", ["build"]));
    assert.strictEqual((await call(c.url, "GET", "/api/status", { token: viewer })).status, 200);
    assert.strictEqual((await call(c.url, "GET", "/api/runs", { token: viewer })).status, 200);
    const r = await call(c.url, "POST", "/api/runs", { token: viewer, body: RUN });
    assert.strictEqual(r.status, 403, r.text);
    assert.strictEqual(r.json.error.field, "role");
    assert.match(r.json.error.problem, /needs the operator role; "vera" is a viewer/);
    assert.strictEqual(engine.jobs.length, 0, "a refused request started an engine operation");
  });

  it("lets an operator (RS256 and ES256 tokens) start a run, recorded with the user and address", async () => {
    for (const alg of ["RS256", "ES256"] as const) {
      const op = issuer.sign(iyoClaims("otto", ["build", "build.ops"]), { alg });
      const r = await call(c.url, "POST", "/api/runs", { token: op, body: RUN });
      assert.strictEqual(r.status, 202, r.text);
      assert.deepStrictEqual(r.json.run.requestedBy, { user: "otto", origin: "rest", from: "127.0.0.1" });
    }
    await c.manager.idle();
  });

  it("accepts the scope as a list and with ItsYou.online's memberOf spelling", async () => {
    const t = issuer.sign({ ...iyoClaims("otto", []), scope: ["user:memberOf:build.ops"] });
    const r = await call(c.url, "POST", "/api/runs", { token: t, body: RUN });
    assert.strictEqual(r.status, 202, r.text);
    await c.manager.idle();
  });

  it("fetches the issuer's keys once, not on every request", async () => {
    const before = issuer.jwksFetches();
    const viewer = issuer.sign(iyoClaims("vera", ["build"]));
    for (let i = 0; i < 5; i++)
      assert.strictEqual((await call(c.url, "GET", "/api/status", { token: viewer })).status, 200);
    assert.strictEqual(issuer.jwksFetches(), before, "the JWKS was fetched again for a known key");
  });

  it("refetches the keys for a new key id (rotation), but not again within the refetch window", async () => {
    const cache = new JwksCache({ url: issuer.jwksUrl, minRefetchMs: 0 });
    await cache.key("rsa-1");
    const n = issuer.jwksFetches();
    const kid = issuer.rotate();
    assert.strictEqual((await cache.key(kid)).asymmetricKeyType, "rsa");
    assert.strictEqual(issuer.jwksFetches(), n + 1);
    const slow = new JwksCache({ url: issuer.jwksUrl, minRefetchMs: 60_000 });
    await slow.key("rsa-1");
    const m = issuer.jwksFetches();
    await assert.rejects(slow.key("made-up"), /no key with id "made-up"/);
    await assert.rejects(slow.key("made-up-2"), /no key with id "made-up-2"/);
    assert.strictEqual(issuer.jwksFetches(), m, "made-up key ids made the cockpit fetch the JWKS again");
  });

  describe("API tokens", () => {
    let token: string;
    let id: string;

    it("an operator creates one; it is shown once and stored only hashed", async () => {
      const op = issuer.sign(iyoClaims("otto", ["build.ops"]));
      const r = await call(c.url, "POST", "/api/tokens", {
        token: op,
        body: { label: "ci", role: "operator" },
      });
      assert.strictEqual(r.status, 201, r.text);
      token = r.json.token;
      id = r.json.info.id;
      assert.match(token, /^ckt_[0-9a-f]{12}_/);
      const stored = fs.readFileSync(path.join(dirs.dataDir, "tokens.json"), "utf8");
      assert.ok(!stored.includes(token.slice(17)), "the token's secret is stored in plain text");
      assert.strictEqual(fs.statSync(path.join(dirs.dataDir, "tokens.json")).mode & 0o077, 0);
      const list = await call(c.url, "GET", "/api/tokens", { token: op });
      assert.strictEqual(list.status, 200);
      assert.deepStrictEqual(Object.keys(list.json.tokens[0]).sort(), [
        "createdAt",
        "createdBy",
        "id",
        "label",
        "role",
      ]);
      assert.ok(!list.text.includes(token.slice(17)));
    });

    it("the token acts with its role; a viewer cannot create tokens", async () => {
      const r = await call(c.url, "POST", "/api/runs", { token, body: RUN });
      assert.strictEqual(r.status, 202, r.text);
      assert.strictEqual(r.json.run.requestedBy.user, `token:${id}`);
      await c.manager.idle();
      const viewer = issuer.sign(iyoClaims("vera", ["build"]));
      assert.strictEqual(
        (await call(c.url, "POST", "/api/tokens", { token: viewer, body: { label: "x", role: "operator" } }))
          .status,
        403,
      );
    });

    it("a wrong secret for a real id, and a revoked token, are refused (401)", async () => {
      const wrong = `${token.slice(0, -4)}AAAA`;
      await refused(wrong, 401, /unknown or revoked/);
      const op = issuer.sign(iyoClaims("otto", ["build.ops"]));
      assert.strictEqual((await call(c.url, "DELETE", `/api/tokens/${id}`, { token: op })).status, 200);
      await refused(token, 401, /unknown or revoked/);
      assert.strictEqual((await call(c.url, "DELETE", `/api/tokens/${id}`, { token: op })).status, 404);
    });

    it("a bad token request names the field", async () => {
      const op = issuer.sign(iyoClaims("otto", ["build.ops"]));
      const r = await call(c.url, "POST", "/api/tokens", { token: op, body: { label: "x", role: "admin" } });
      assert.strictEqual(r.status, 400);
      assert.strictEqual(r.json.error.field, "role");
    });
  });
});

describe("cockpit access: ItsYou.online's published key (ES384 PEM, no JWKS)", () => {
  it("verifies ES384 tokens with the configured PEM key and refuses others", async () => {
    const issuer = await startIssuer();
    const dirs = makeDirs();
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-384" });
    const pem = path.join(dirs.root, "iyo.pem");
    fs.writeFileSync(pem, publicKey.export({ type: "spki", format: "pem" }));
    const cfg = testConfig(dirs, issuer, {
      auth: {
        mode: "itsyouonline",
        publicKeyFile: pem,
        organization: "build",
        operatorOrganization: "build.ops",
      },
    });
    const c = await start(cfg, new FakeEngine(5));
    try {
      const good = signJwt({ alg: "ES384", typ: "JWT" }, iyoClaims("bob", ["build"]), privateKey);
      assert.strictEqual((await call(c.url, "GET", "/api/status", { token: good })).status, 200);
      const other = crypto.generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey;
      const bad = signJwt({ alg: "ES384", typ: "JWT" }, iyoClaims("bob", ["build"]), other);
      assert.strictEqual((await call(c.url, "GET", "/api/status", { token: bad })).status, 401);
    } finally {
      await c.close();
      await issuer.stop();
      fs.rmSync(dirs.root, { recursive: true, force: true });
    }
  });
});

describe("cockpit access: generic OIDC mode", () => {
  let issuer: Issuer;
  let dirs: Dirs;
  let c: TestCockpit;

  before(async () => {
    issuer = await startIssuer();
    dirs = makeDirs();
    const cfg = checkConfig(
      {
        listen: { host: "127.0.0.1", port: 0 },
        projectDir: dirs.projectDir,
        dataDir: dirs.dataDir,
        pulumi: { root: dirs.pulumiRoot, passphraseFile: dirs.passphraseFile },
        auth: {
          mode: "oidc",
          issuer: issuer.url,
          clientId: "cockpit",
          viewerGroup: "g8os-build",
          operatorGroup: "g8os-ops",
        },
      },
      path.join(dirs.root, "cockpit.yaml"),
    );
    c = await start(cfg, new FakeEngine(5));
  });
  after(async () => {
    await c.close();
    await issuer.stop();
    fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  const claims = (groups: string[], extra: Record<string, unknown> = {}) => ({
    iss: issuer.url,
    aud: "cockpit",
    sub: "u-1",
    preferred_username: "olga",
    groups,
    exp: Math.floor(Date.now() / 1000) + 600,
    ...extra,
  });

  it("finds the keys through discovery and maps groups to roles", async () => {
    const viewer = issuer.sign(claims(["g8os-build"]), { alg: "ES256" });
    assert.strictEqual((await call(c.url, "GET", "/api/runs", { token: viewer })).status, 200);
    assert.strictEqual((await call(c.url, "POST", "/api/runs", { token: viewer, body: RUN })).status, 403);
    const op = issuer.sign(claims(["g8os-ops"]));
    const r = await call(c.url, "POST", "/api/runs", { token: op, body: RUN });
    assert.strictEqual(r.status, 202, r.text);
    assert.strictEqual(r.json.run.requestedBy.user, "olga");
    await c.manager.idle();
  });

  it("refuses a member of no configured group (403), a wrong client id and a wrong issuer (401)", async () => {
    const none = await call(c.url, "GET", "/api/runs", { token: issuer.sign(claims(["other"])) });
    assert.strictEqual(none.status, 403);
    assert.match(none.json.error.problem, /group "g8os-build"/);
    assert.strictEqual(
      (await call(c.url, "GET", "/api/runs", { token: issuer.sign(claims(["g8os-ops"], { aud: "x" })) }))
        .status,
      401,
    );
    assert.strictEqual(
      (
        await call(c.url, "GET", "/api/runs", {
          token: issuer.sign(claims(["g8os-ops"], { iss: "https://other" })),
        })
      ).status,
      401,
    );
  });
});

describe("cockpit access: browser login (OIDC code flow with PKCE)", () => {
  let issuer: Issuer;
  let dirs: Dirs;
  let c: TestCockpit;

  before(async () => {
    issuer = await startIssuer();
    dirs = makeDirs();
    const cfg = checkConfig(
      {
        listen: { host: "127.0.0.1", port: 0 },
        projectDir: dirs.projectDir,
        dataDir: dirs.dataDir,
        pulumi: { root: dirs.pulumiRoot, passphraseFile: dirs.passphraseFile },
        auth: {
          mode: "oidc",
          issuer: issuer.url,
          clientId: "cockpit",
          viewerGroup: "g8os-build",
          operatorGroup: "g8os-ops",
          login: { redirectUrl: "http://127.0.0.1:1/auth/callback" },
        },
      },
      path.join(dirs.root, "cockpit.yaml"),
    );
    c = await start(cfg, new FakeEngine(5));
  });
  after(async () => {
    await c.close();
    await issuer.stop();
    fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  /** /auth/login -> the provider (auto-login) -> the callback query the browser would bring back. */
  const browse = async (): Promise<string> => {
    const first = await call(c.url, "GET", "/auth/login");
    assert.strictEqual(first.status, 302, first.text);
    const to = new URL(String(first.headers.location));
    assert.strictEqual(`${to.origin}${to.pathname}`, `${issuer.url}/authorize`);
    assert.strictEqual(to.searchParams.get("code_challenge_method"), "S256");
    assert.strictEqual(to.searchParams.get("client_id"), "cockpit");
    const back = await call(issuer.url, "GET", `${to.pathname}${to.search}`);
    assert.strictEqual(back.status, 302);
    return new URL(String(back.headers.location)).search;
  };

  it("logs an operator in; the returned id token works as a bearer token", async () => {
    const r = await call(c.url, "GET", `/auth/callback${await browse()}`);
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.json.user, "olga");
    assert.strictEqual(r.json.role, "operator");
    const run = await call(c.url, "POST", "/api/runs", { token: r.json.token, body: RUN });
    assert.strictEqual(run.status, 202, run.text);
    await c.manager.idle();
  });

  it("sends a browser back to the page with the id token in the fragment", async () => {
    const r = await call(c.url, "GET", `/auth/callback${await browse()}`, {
      headers: { accept: "text/html,application/xhtml+xml" },
    });
    assert.strictEqual(r.status, 302, r.text);
    const loc = String(r.headers.location);
    assert.match(loc, /^\/#token=/);
    const token = decodeURIComponent(loc.slice("/#token=".length));
    const me = await call(c.url, "GET", "/api/me", { token });
    assert.deepStrictEqual(me.json, { user: "olga", role: "operator", via: "jwt" });
  });

  it("refuses a replayed or forged state, a refused login, a wrong nonce and a non-member", async () => {
    const q = await browse();
    assert.strictEqual((await call(c.url, "GET", `/auth/callback${q}`)).status, 200);
    const replay = await call(c.url, "GET", `/auth/callback${q}`);
    assert.strictEqual(replay.status, 400);
    assert.strictEqual(replay.json.error.field, "state");
    assert.strictEqual((await call(c.url, "GET", "/auth/callback?code=x&state=forged")).status, 400);
    // A good state with a code the provider never issued: its token endpoint refuses, so do we.
    const bogus = new URLSearchParams(await browse());
    bogus.set("code", "bogus");
    const exchange = await call(c.url, "GET", `/auth/callback?${bogus}`);
    assert.strictEqual(exchange.status, 502, exchange.text);
    assert.strictEqual(exchange.json.error.field, "code");
    const refused = await call(c.url, "GET", "/auth/callback?error=access_denied&state=x");
    assert.strictEqual(refused.json.error.field, "error");
    issuer.loginAs.wrongNonce = true;
    const nonce = await call(c.url, "GET", `/auth/callback${await browse()}`);
    issuer.loginAs.wrongNonce = false;
    assert.strictEqual(nonce.status, 400);
    assert.strictEqual(nonce.json.error.field, "nonce");
    assert.ok(!("token" in nonce.json), "a refused login handed out its token");
    issuer.loginAs.groups = ["elsewhere"];
    const member = await call(c.url, "GET", `/auth/callback${await browse()}`);
    issuer.loginAs.groups = ["g8os-ops"];
    assert.strictEqual(member.status, 403);
  });

  it("is not offered when not configured (404 naming auth.login)", async () => {
    const other = await startIssuer();
    const d = makeDirs();
    const c2 = await start(testConfig(d, other), new FakeEngine(5));
    try {
      const r = await call(c2.url, "GET", "/auth/login");
      assert.strictEqual(r.status, 404);
      assert.strictEqual(r.json.error.field, "auth.login");
    } finally {
      await c2.close();
      await other.stop();
      fs.rmSync(d.root, { recursive: true, force: true });
    }
  });
});
