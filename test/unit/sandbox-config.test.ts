/**
 * scripts/sandbox-config.ts, the one build-stack config literal shared by `npm run sandbox`, the
 * testbed build-stack suites and the unit fixtures: each settings field lands under its
 * Pulumi.yaml key, secrets stay secret, unset fields stay unset, and the testbed's network is fixed.
 */
import * as assert from "assert";
import { buildStackConfig, testbedBuildConfig, TESTBED_ZEROTIER_ROUTE } from "../../scripts/sandbox-config";
import { schemaKeys } from "../../stacks/config-reader";

const FULL = {
  telegram: { botToken: "1:tok-abcdefghijk", chatId: "-100", apiRoot: "http://127.0.0.1:1" },
  zerotier: {
    token: "zt",
    backend: "controller" as const,
    apiUrl: "http://127.0.0.1:2",
    routes: ["10.1.0.0/24"],
    pools: ["10.1.0.10-10.1.0.20"],
    timeoutSec: 30,
  },
  keys: {
    kind: "itsyouonline" as const,
    url: "http://127.0.0.1:3",
    organization: "org",
    clientId: "id",
    clientSecret: "cs",
  },
  buildHost: {
    name: "h",
    address: "10.213.0.11",
    bootstrapPrivateKey: "KEY",
    zerotierIp: "10.1.0.1",
    firewallConfirmTimeoutSec: 20,
  },
};

describe("build-stack config fixture (scripts/sandbox-config.ts)", () => {
  it("maps every field to its g8os: key, secrets as secrets, numbers and lists as text", () => {
    assert.deepStrictEqual(buildStackConfig(FULL), {
      "g8os:telegramBotToken": { secret: "1:tok-abcdefghijk" },
      "g8os:telegramChatId": "-100",
      "g8os:telegramApiRoot": "http://127.0.0.1:1",
      "g8os:zerotierBackend": "controller",
      "g8os:zerotierApiUrl": "http://127.0.0.1:2",
      "g8os:zerotierToken": { secret: "zt" },
      "g8os:zerotierRoutes": '["10.1.0.0/24"]',
      "g8os:zerotierPools": '["10.1.0.10-10.1.0.20"]',
      "g8os:zerotierTimeoutSec": "30",
      "g8os:buildHostZerotierIp": "10.1.0.1",
      "g8os:keySource": "itsyouonline",
      "g8os:keySourceUrl": "http://127.0.0.1:3",
      "g8os:keyOrganization": "org",
      "g8os:itsyouonlineClientId": "id",
      "g8os:itsyouonlineClientSecret": { secret: "cs" },
      "g8os:buildHostName": "h",
      "g8os:buildHostAddress": "10.213.0.11",
      "g8os:bootstrapPrivateKey": { secret: "KEY" },
      "g8os:firewallConfirmTimeoutSec": "20",
    });
  });

  it("every key it writes is declared in Pulumi.yaml", () => {
    const declared = new Set(schemaKeys().map((k) => (k.includes(":") ? k : `g8os:${k}`)));
    const inline = buildStackConfig({ ...FULL, keys: { kind: "inline", keys: ["ssh-ed25519 AAAA x"] } });
    for (const key of [...Object.keys(buildStackConfig(FULL)), ...Object.keys(inline)])
      assert.ok(declared.has(key), `${key} is not in Pulumi.yaml`);
  });

  it("leaves unset optional fields unset, so the stack's defaults apply", () => {
    const c = buildStackConfig({
      telegram: { botToken: "1:t", chatId: "-1" },
      zerotier: { token: "zt" },
      keys: { kind: "inline", keys: ["ssh-ed25519 AAAA x"] },
      buildHost: { name: "h", address: "a", bootstrapPrivateKey: "K" },
    });
    assert.deepStrictEqual(Object.keys(c).sort(), [
      "g8os:bootstrapPrivateKey",
      "g8os:buildHostAddress",
      "g8os:buildHostName",
      "g8os:keyInline",
      "g8os:keySource",
      "g8os:telegramBotToken",
      "g8os:telegramChatId",
      "g8os:zerotierToken",
    ]);
    assert.strictEqual(c["g8os:keyInline"], '["ssh-ed25519 AAAA x"]');
  });

  it("a testbed stack uses the controller stand-in on the testbed's ZeroTier route", () => {
    const c = testbedBuildConfig({
      telegram: { apiRoot: "http://127.0.0.1:1", botToken: "1:t", chatId: "-1" },
      zerotier: { url: "http://127.0.0.1:2", token: "zt" },
      pools: ["10.214.0.20-10.214.0.29"],
      host: { name: "g8t-h1", address: "10.213.0.11", bootstrapPrivateKey: "K", zerotierIp: "10.214.0.2" },
      keys: { kind: "inline", keys: ["ssh-ed25519 AAAA x"] },
    });
    assert.strictEqual(c["g8os:zerotierBackend"], "controller");
    assert.strictEqual(c["g8os:zerotierApiUrl"], "http://127.0.0.1:2");
    assert.strictEqual(c["g8os:zerotierRoutes"], JSON.stringify([TESTBED_ZEROTIER_ROUTE]));
    assert.strictEqual(TESTBED_ZEROTIER_ROUTE, "10.214.0.0/24");
    assert.strictEqual(c["g8os:zerotierPools"], '["10.214.0.20-10.214.0.29"]');
    assert.strictEqual(c["g8os:buildHostZerotierIp"], "10.214.0.2");
    assert.ok(!("g8os:firewallConfirmTimeoutSec" in c) && !("g8os:zerotierTimeoutSec" in c));
  });
});
