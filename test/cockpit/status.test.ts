/**
 * Status without running Pulumi: `GET /api/status`'s `environment` from a file-backend state file
 * (a Pulumi `CheckpointV3`, as pulumi/pulumi sdk/go/common/apitype/core.go defines it, with a
 * secret output) and live checks against in-process stand-ins: the ZeroTier stand-in (Central
 * API: members' `lastSeen`) and a core0 emulator (redis with a password). Fake engine; no testbed.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ZerotierClient } from "../../providers/zerotier/client";
import { startCore0Emulator, type Core0Emulator } from "../testbed/core0-emulator";
import { startTelegramEmulator, type TelegramEmulator } from "../testbed/telegram";
import { startZerotierStandIn, type ZerotierStandIn } from "../testbed/zerotier/standin";
import { findChromium, launchChromium } from "./chromium";
import { FakeEngine } from "./fake-engine";
import { botMessages, sendCommand } from "./telegram-user";
import { startIssuer, type Issuer } from "./issuer";
import {
  call,
  iyoClaims,
  makeDirs,
  PASSPHRASE,
  seenResponses,
  start,
  testConfig,
  type Dirs,
  type TestCockpit,
  until,
} from "./setup";

const ZT_TOKEN = "zt-central-token-4b1d";
const CORE0_PASSWORD = "core0-redis-pass-93ab";
const CIPHER = "v1:c2VjcmV0LWNpcGhlcnRleHQ=";
const TG_TOKEN = "123456:status-test-token_CCCC";
const GROUP = { id: -100700, type: "supergroup" as const };

describe("cockpit status from state and live checks", function () {
  this.timeout(60_000);
  let issuer: Issuer;
  let zt: ZerotierStandIn;
  let tg: TelegramEmulator;
  let core0: Core0Emulator;
  let dirs: Dirs;
  let c: TestCockpit;
  let viewer: string;
  let networkId: string;

  before(async () => {
    issuer = await startIssuer();
    viewer = issuer.sign(iyoClaims("vera", ["build"]));
    zt = await startZerotierStandIn({ token: ZT_TOKEN });
    tg = await startTelegramEmulator();
    // Only core.ping is called: the IPFS API behind the node is never reached.
    core0 = await startCore0Emulator({ password: CORE0_PASSWORD, ipfsApi: "http://127.0.0.1:9" });
    const client = new ZerotierClient({ backend: "central", apiUrl: zt.centralUrl, token: ZT_TOKEN });
    const net = await client.createNetwork({
      name: "build",
      private: true,
      routes: [{ target: "10.147.17.0/24", via: null }],
      ipAssignmentPools: [],
      v4AutoAssign: false,
      dns: { domain: "", servers: [] },
    });
    networkId = net.id;
    await client.upsertMember(networkId, "aaaaaaaaaa", { authorized: true, ipAssignments: ["10.147.17.1"] });
    await client.upsertMember(networkId, "bbbbbbbbbb", { authorized: true, ipAssignments: ["10.147.17.2"] });
    // The host's agent asks for its config: the controller saw it just now.
    const seen = await fetch(`${zt.url}/_agent/config`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nwid: networkId, nodeId: "aaaaaaaaaa" }),
    });
    assert.strictEqual(seen.status, 200);

    dirs = makeDirs();
    const stateDir = path.join(dirs.dataDir, "state", ".pulumi", "stacks", "g8os");
    fs.mkdirSync(stateDir, { recursive: true });
    const stackUrn = "urn:pulumi:build::g8os::pulumi:pulumi:Stack::g8os-build";
    fs.writeFileSync(
      path.join(stateDir, "build.json"),
      JSON.stringify({
        version: 3,
        checkpoint: {
          stack: "organization/g8os/build",
          latest: {
            manifest: { time: "2026-12-01T10:00:00.000Z", magic: "", version: "v3.270.0" },
            secrets_providers: { type: "passphrase", state: { salt: "v1:abc" } },
            resources: [
              {
                urn: stackUrn,
                custom: false,
                type: "pulumi:pulumi:Stack",
                outputs: {
                  stackKind: "build",
                  buildNetworkId: networkId,
                  buildHost: { name: "build-1-host", zerotierIp: "10.147.17.1", hostKeySha256: "SHA256:x" },
                  redisPassword: {
                    "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                    ciphertext: CIPHER,
                  },
                  vms: {
                    kvmDomainType: "kvm",
                    nodes: [
                      { role: "build-node", hostname: "build-1-node", zerotierIp: "10.147.17.2" },
                      { role: "core0", hostname: "build-1-core0-a", zerotierIp: "127.0.0.1" },
                      { role: "core0", hostname: "build-1-core0-b", zerotierIp: "127.0.0.2" },
                    ],
                  },
                  buildRun: {
                    testResults: [
                      { app: "hello", buildId: "b-17", node: "127.0.0.1:6379", passed: true, errors: [] },
                      {
                        app: "redis",
                        buildId: "b-18",
                        node: "127.0.0.1:6379",
                        passed: false,
                        errors: ["t1"],
                      },
                    ],
                    released: [{ branch: "master", commit: "0123abc", rootCid: "bafyroot", committed: true }],
                  },
                },
              },
            ],
          },
        },
      }),
    );
    const secret = (name: string, value: string) => {
      const f = path.join(dirs.root, name);
      fs.writeFileSync(f, `${value}\n`, { mode: 0o600 });
      return f;
    };
    const cfg = testConfig(dirs, issuer, {
      status: {
        stack: "build",
        cacheSeconds: 3600,
        zerotier: { backend: "central", apiUrl: zt.centralUrl, tokenFile: secret("zt-token", ZT_TOKEN) },
        core0: { passwordFile: secret("core0-password", CORE0_PASSWORD), port: core0.port },
      },
      robot: {
        tokenFile: secret("tg-token", TG_TOKEN),
        chatId: GROUP.id,
        apiRoot: tg.apiRoot,
        pollSeconds: 0,
      },
    });
    c = await start(cfg, new FakeEngine(), undefined, { idleMs: 30, flushIntervalMs: 100 });
  });
  after(async () => {
    await c?.close();
    await core0?.stop();
    await zt?.stop();
    await tg?.stop();
    await issuer?.stop();
    if (dirs) fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  it("nodes: ZeroTier last seen, core0 pinged with the password; the build's apps, tests and templates", async () => {
    const r = await call(c.url, "GET", "/api/status", { token: viewer });
    assert.strictEqual(r.status, 200, r.text);
    const env = r.json.environment;
    assert.strictEqual(env.stack, "build");
    assert.deepStrictEqual(env.problems, []);
    const byName = Object.fromEntries(env.nodes.map((n: { name: string }) => [n.name, n]));
    assert.deepStrictEqual(Object.keys(byName), [
      "build-1-host",
      "build-1-node",
      "build-1-core0-a",
      "build-1-core0-b",
    ]);
    assert.strictEqual(byName["build-1-host"].state, "online");
    assert.ok(
      Date.now() - Date.parse(byName["build-1-host"].lastSeen) < 3_600_000,
      byName["build-1-host"].lastSeen,
    );
    assert.match(byName["build-1-host"].detail, /member aaaaaaaaaa/);
    // Known to ZeroTier but never seen: nothing to tell.
    assert.strictEqual(byName["build-1-node"].state, "unknown");
    assert.match(byName["build-1-node"].detail, /member bbbbbbbbbb, never seen/);
    assert.strictEqual(byName["build-1-core0-a"].state, "online");
    assert.match(byName["build-1-core0-a"].detail, /core0 ping ok/);
    assert.strictEqual(byName["build-1-core0-b"].state, "offline");
    assert.match(byName["build-1-core0-b"].detail, /core0 ping failed/);
    assert.deepStrictEqual(env.build.apps, [
      { name: "hello", buildId: "b-17", tests: "passed", node: "127.0.0.1:6379" },
      { name: "redis", buildId: "b-18", tests: "failed", node: "127.0.0.1:6379" },
    ]);
    assert.deepStrictEqual(env.build.templates, [
      { branch: "master", commit: "0123abc", rootCid: "bafyroot" },
    ]);
    assert.strictEqual(env.build.at, "2026-12-01T10:00:00.000Z");
  });

  it("the page shows the nodes, the apps and the templates (headless Chromium)", async function () {
    const chromium = findChromium();
    if (!chromium) {
      console.log("    skipped: no chromium (install Debian's chromium, or set CHROMIUM=<binary>)");
      this.skip();
    }
    const browser = await launchChromium(chromium!);
    try {
      await browser.navigate(`${c.url}/#token=${encodeURIComponent(viewer)}`);
      const row = (name: string) =>
        `document.querySelector('#nodes tr[data-node="${name}"] td:nth-child(4)')?.textContent`;
      await browser.waitFor(`${row("build-1-core0-a")} === "online"`, "the core0 node online");
      assert.strictEqual(await browser.evaluate(row("build-1-core0-b")), "offline");
      const text = await browser.evaluate<string>("document.body.innerText");
      assert.match(text, /templates master: bafyroot \(commit 0123abc\)/);
      assert.match(text, /redis\tb-18\tfailed/);
      const out = path.join(
        process.env.G8OS_TEST_OUTPUT ?? path.join(__dirname, "..", "..", ".test-output"),
        "cockpit",
      );
      await browser.screenshot(path.join(out, "page-environment.png"));
      assert.deepStrictEqual(browser.problems, []);
    } finally {
      await browser.close();
    }
  });

  it("the robot's /nodes and /apps answer the group from the same status", async () => {
    const user = { id: 7, username: "vera" };
    const reply = async (re: RegExp, what: string) =>
      (await until(
        async () => (await botMessages(tg.apiRoot, TG_TOKEN)).find((m) => re.test(m.text)),
        what,
      ))!;
    await sendCommand(tg.apiRoot, TG_TOKEN, user, GROUP, "/nodes");
    const nodes = await reply(
      /^build-1-host \(host, 10\.147\.17\.1\): online, last seen /,
      "the /nodes answer",
    );
    assert.match(nodes.text, /^build-1-core0-b \(core0, 127\.0\.0\.2\): offline; .*core0 ping failed/m);
    await sendCommand(tg.apiRoot, TG_TOKEN, user, GROUP, "/apps");
    const apps = await reply(/^last build of build: /, "the /apps answer");
    assert.match(apps.text, /^ {2}redis b-18: tests failed/m);
    assert.match(apps.text, /^ {2}templates master: bafyroot \(commit 0123abc\)$/m);
    const sent = (await botMessages(tg.apiRoot, TG_TOKEN)).map((m) => m.text).join("\n");
    for (const s of [ZT_TOKEN, CORE0_PASSWORD, CIPHER]) assert.ok(!sent.includes(s), `${s} sent to Telegram`);
  });

  it("answers from the cache within cacheSeconds; no secret in any answer or log", async () => {
    const a = (await call(c.url, "GET", "/api/status", { token: viewer })).json.environment.checkedAt;
    const b = (await call(c.url, "GET", "/api/status", { token: viewer })).json.environment.checkedAt;
    assert.strictEqual(a, b);
    const all = seenResponses.join("\n") + c.logLines.join("\n");
    for (const s of [ZT_TOKEN, CORE0_PASSWORD, CIPHER, PASSPHRASE])
      assert.ok(!all.includes(s), `${s} leaked`);
  });
});
