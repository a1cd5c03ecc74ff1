/** The cockpit config file: defaults, and every bad key reported at once with its fix. */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { checkConfig, loadConfig } from "../../cockpit/config";
import { CockpitConfigError } from "../../cockpit/errors";
import { configArg } from "../../cockpit/main";
import { makeDirs, type Dirs } from "./setup";

describe("cockpit config", () => {
  let d: Dirs;
  beforeEach(() => (d = makeDirs()));
  afterEach(() => fs.rmSync(d.root, { recursive: true, force: true }));

  const good = () => ({
    projectDir: d.projectDir,
    dataDir: d.dataDir,
    pulumi: { root: d.pulumiRoot, passphraseFile: d.passphraseFile },
    auth: {
      mode: "itsyouonline",
      jwksUrl: "http://127.0.0.1:1/jwks",
      organization: "build",
      operatorOrganization: "ops",
    },
  });

  it("fills in the defaults", () => {
    const c = checkConfig(good(), path.join(d.root, "c.yaml"));
    assert.deepStrictEqual(c.listen, { host: "127.0.0.1", port: 8080 });
    assert.strictEqual(c.maxBodyBytes, 65536);
    assert.strictEqual(c.pulumi.backendUrl, `file://${path.join(d.dataDir, "state")}`);
    assert.strictEqual(c.auth.mode, "itsyouonline");
    assert.strictEqual(c.auth.issuer, "itsyouonline");
    assert.strictEqual(c.auth.clockSkewSeconds, 60);
  });

  it("reads YAML from a file, relative paths from the file's directory", () => {
    const file = path.join(d.root, "cockpit.yaml");
    fs.writeFileSync(
      file,
      [
        "listen: { host: 127.0.0.1, port: 9100 }",
        "projectDir: project",
        "dataDir: data",
        "pulumi: { root: pulumi, passphraseFile: passphrase }",
        "auth: { mode: oidc, issuer: 'https://id.example.org', clientId: cockpit, viewerGroup: b, operatorGroup: o }",
      ].join("\n"),
    );
    const c = loadConfig(file);
    assert.strictEqual(c.projectDir, d.projectDir);
    assert.strictEqual(c.listen.port, 9100);
    assert.strictEqual(c.auth.mode === "oidc" && c.auth.groupClaim, "groups");
  });

  it("reports every bad key at once, each with the key and a fix", () => {
    fs.chmodSync(d.passphraseFile, 0o644);
    const raw = {
      ...good(),
      listen: { host: "0.0.0.0", port: 70000 },
      projectDir: d.root,
      pulumi: { root: d.root, passphraseFile: d.passphraseFile, colour: "never" },
      auth: { mode: "oidc", issuer: "not-a-url", clientId: "c", viewerGroup: "v" },
      extra: 1,
    };
    try {
      checkConfig(raw, "/etc/cockpit.yaml");
      assert.fail("no error");
    } catch (err) {
      assert.ok(err instanceof CockpitConfigError);
      const byKey = Object.fromEntries(err.failures.map((f) => [f.field, f]));
      assert.deepStrictEqual(Object.keys(byKey).sort(), [
        "auth.issuer",
        "auth.operatorGroup",
        "extra",
        "listen.host",
        "listen.port",
        "projectDir",
        "pulumi.colour",
        "pulumi.passphraseFile",
        "pulumi.root",
      ]);
      assert.match(byKey["pulumi.passphraseFile"].fix, /chmod 600/);
      assert.match(byKey["listen.host"].problem, /wildcard/);
      for (const f of err.failures)
        assert.ok(err.message.includes(`${f.field}: ${f.problem}. Fix: ${f.fix}`));
      assert.match(err.message, /^cockpit config \/etc\/cockpit.yaml: 9 problem/);
    }
  });

  it("refuses an unknown auth mode and an ItsYou.online config without keys", () => {
    assert.throws(
      () => checkConfig({ ...good(), auth: { mode: "ldap" } }, "c"),
      /auth.mode: "ldap" is not a mode/,
    );
    assert.throws(
      () =>
        checkConfig(
          { ...good(), auth: { mode: "itsyouonline", organization: "b", operatorOrganization: "o" } },
          "c",
        ),
      /auth.jwksUrl: is missing \(and so is auth.publicKeyFile\)/,
    );
  });

  it("checks the browser login keys: OIDC only, a URL, a private secret file", () => {
    const secret = path.join(d.root, "client-secret");
    fs.writeFileSync(secret, "s3cr3t-client\n", { mode: 0o644 });
    const oidc = (login: unknown) => ({
      ...good(),
      auth: {
        mode: "oidc",
        issuer: "https://id.example.org",
        clientId: "c",
        viewerGroup: "v",
        operatorGroup: "o",
        login,
      },
    });
    assert.throws(
      () => checkConfig(oidc({ redirectUrl: "callback", clientSecretFile: secret }), "c"),
      (err: CockpitConfigError) => {
        assert.deepStrictEqual(err.failures.map((f) => f.field).sort(), [
          "auth.login.clientSecretFile",
          "auth.login.redirectUrl",
        ]);
        return true;
      },
    );
    fs.chmodSync(secret, 0o600);
    const ok = checkConfig(
      oidc({ redirectUrl: "https://cockpit.example.org/auth/callback", clientSecretFile: secret }),
      "c",
    );
    assert.deepStrictEqual(ok.auth.login, {
      redirectUrl: "https://cockpit.example.org/auth/callback",
      clientSecret: "s3cr3t-client",
    });
    assert.throws(
      () => checkConfig({ ...good(), auth: { ...good().auth, login: { redirectUrl: "https://x/cb" } } }, "c"),
      /auth.login: is not a cockpit config key/,
    );
  });

  it("checks the robot keys: a private token file holding a token, a chat id, operator ids", () => {
    const tokenFile = path.join(d.root, "tg-token");
    fs.writeFileSync(tokenFile, "not a token\n", { mode: 0o600 });
    assert.throws(
      () =>
        checkConfig(
          {
            ...good(),
            robot: { tokenFile, chatId: "build", operators: ["otto"], pollSeconds: 99, colour: 1 },
          },
          "c",
        ),
      (err: CockpitConfigError) => {
        assert.deepStrictEqual(err.failures.map((f) => f.field).sort(), [
          "robot.chatId",
          "robot.colour",
          "robot.operators",
          "robot.pollSeconds",
          "robot.tokenFile",
        ]);
        // The file's content is never quoted back.
        assert.ok(!err.message.includes("not a token"), err.message);
        return true;
      },
    );
    fs.writeFileSync(tokenFile, "123:abc_DEF-9\n");
    fs.chmodSync(tokenFile, 0o640);
    assert.throws(
      () => checkConfig({ ...good(), robot: { tokenFile, chatId: -1 } }, "c"),
      /robot.tokenFile: .* is readable by others/,
    );
    fs.chmodSync(tokenFile, 0o600);
    const ok = checkConfig({ ...good(), robot: { tokenFile, chatId: -100123, operators: [42] } }, "c");
    assert.deepStrictEqual(ok.robot, {
      token: "123:abc_DEF-9",
      chatId: -100123,
      apiRoot: "https://api.telegram.org",
      operators: [42],
      pollSeconds: 30,
      maxMessagesPerMinute: 20,
    });
  });

  it("checks the drift and status keys; secret files must be private", () => {
    const zt = path.join(d.root, "zt-token");
    fs.writeFileSync(zt, "zt-secret-value\n", { mode: 0o644 });
    assert.throws(
      () =>
        checkConfig(
          {
            ...good(),
            drift: { intervalMinutes: 0, autoRepair: "yes", stacks: "build" },
            status: {
              cacheSeconds: 0,
              zerotier: { backend: "cloud", apiUrl: "zt", tokenFile: zt, networkId: "xyz" },
              core0: { passwordFile: path.join(d.root, "missing") },
            },
          },
          "c",
        ),
      (err: CockpitConfigError) => {
        assert.deepStrictEqual(err.failures.map((f) => f.field).sort(), [
          "drift.autoRepair",
          "drift.intervalMinutes",
          "drift.stacks",
          "status.cacheSeconds",
          "status.core0.passwordFile",
          "status.zerotier.apiUrl",
          "status.zerotier.backend",
          "status.zerotier.networkId",
          "status.zerotier.tokenFile",
        ]);
        assert.ok(!err.message.includes("zt-secret-value"), err.message);
        return true;
      },
    );
    fs.chmodSync(zt, 0o600);
    const ok = checkConfig(
      {
        ...good(),
        drift: { intervalMinutes: 15 },
        status: { zerotier: { backend: "controller", apiUrl: "http://127.0.0.1:9993", tokenFile: zt } },
      },
      "c",
    );
    assert.deepStrictEqual(ok.drift, { intervalMinutes: 15, autoRepair: false });
    assert.deepStrictEqual(ok.status, {
      stack: "build",
      cacheSeconds: 30,
      onlineWithinSeconds: 300,
      zerotier: { backend: "controller", apiUrl: "http://127.0.0.1:9993", token: "zt-secret-value" },
    });
  });

  it("main takes --config <file> and --config=<file>", () => {
    assert.strictEqual(configArg(["--config", "a.yaml"]), "a.yaml");
    assert.strictEqual(configArg(["--config=b.yaml"]), "b.yaml");
    assert.strictEqual(configArg([]), undefined);
  });
});
