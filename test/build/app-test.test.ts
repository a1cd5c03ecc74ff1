/**
 * AppTest alone, against two emulated core0 nodes (real redis-server each) whose containers are
 * built from plists fetched through an IPFS gateway (real offline js-ipfs behind it), and the
 * telegram-test-api emulator. Provider methods are called directly (the engine path is covered by
 * the build-run suite).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomUUID } from "crypto";
import {
  appTestProvider,
  runAppTests,
  staleApps,
  type AppTestInputs,
  type AppTestOutputs,
  type AppUnderTest,
  type TestNode,
} from "../../providers/build/app-test";
import { type Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { type IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import { startTelegramEmulator, type TelegramEmulator } from "../testbed/telegram";
import { type BuiltApp, type IpfsGateway, makeBuiltApp, startIpfsGateway } from "./programs/fixtures";

const PASSWORD = "core0-apptest-" + randomUUID();
const TG_TOKEN = "424242:apptest-bot-token";
const TG_CHAT = "-100424242";

const SERVE = "#!/bin/sh\necho ready > ready.txt\nexec sleep 300\n";

describe("build: AppTest on two emulated core0 nodes", function () {
  this.timeout(300_000);
  let ipfs: IpfsDaemon;
  let gateway: IpfsGateway;
  let nodes: Core0Emulator[];
  let tg: TelegramEmulator;
  let rendezvous: string;
  const built: BuiltApp[] = [];
  let testNodes: TestNode[];

  const app = (b: BuiltApp, extra: Partial<AppUnderTest> = {}): AppUnderTest => ({
    app: b.app,
    buildId: b.buildId,
    plistCid: b.plistCid,
    processes: [{ name: "serve", command: "sh", args: ["bin/serve"] }],
    tests: [
      {
        name: "serves",
        command: "sh",
        args: ["-c", "sleep 1; cat ready.txt data.txt"],
        expectOutput: `ready\\s+data of ${b.app}`,
        process: "serve",
        timeoutSeconds: 30,
      },
    ],
    ...extra,
  });

  /** A test that passes only while the other app's twin runs at the same time (bounded wait). */
  const meetTest = (me: string, other: string) => ({
    name: "runs-in-parallel",
    command: "sh",
    args: [
      "-c",
      `touch ${rendezvous}/${me}; i=0; while [ $i -lt 150 ]; do [ -f ${rendezvous}/${other} ] && exit 0; sleep 0.1; i=$((i+1)); done; exit 1`,
    ],
    timeoutSeconds: 30,
  });

  before(async () => {
    rendezvous = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-apptest-meet-"));
    ipfs = await startIpfsDaemon();
    gateway = await startIpfsGateway(ipfs.apiUrl);
    nodes = [
      await startCore0Emulator({ password: PASSWORD, ipfsApi: ipfs.apiUrl, ipfsFetchTimeoutMs: 3000 }),
      await startCore0Emulator({ password: PASSWORD, ipfsApi: ipfs.apiUrl, ipfsFetchTimeoutMs: 3000 }),
    ];
    testNodes = nodes.map((n) => ({
      address: n.address,
      port: n.port,
      password: PASSWORD,
      ipfsGateway: gateway.url,
    }));
    tg = await startTelegramEmulator();
    for (const name of ["alpha", "beta", "gamma", "delta"]) {
      built.push(
        await makeBuiltApp(ipfs.apiUrl, name, "b1", {
          "/bin/serve": { content: SERVE, mode: 0o755 },
          "/data.txt": { content: `data of ${name}\n` },
        }),
      );
    }
  });
  after(async () => {
    for (const n of nodes ?? []) await n.stop();
    await gateway?.stop();
    await ipfs?.stop();
    await tg?.stop();
    if (rendezvous) fs.rmSync(rendezvous, { recursive: true, force: true });
  });

  const containersLeft = (): number => nodes.reduce((s, n) => s + n.containerCount(), 0);

  it("tests apps in parallel across both nodes and terminates every container", async () => {
    const apps = built.map((b, k) =>
      k < 2 ? app(b, { tests: [...app(b).tests, meetTest(b.app, built[1 - k].app)] }) : app(b),
    );
    const results = await runAppTests(apps, testNodes, { maxPerNode: 2 });
    assert.deepEqual(
      results.map((r) => [r.app, r.passed, r.errors]),
      built.map((b) => [b.app, true, []]),
      JSON.stringify(results, null, 1),
    );
    // alpha and beta met: their rendezvous test needs both running at once, on different nodes.
    assert.equal(results[0].tests[1].passed, true);
    assert.notEqual(results[0].node, results[1].node);
    assert.equal(new Set(results.map((r) => r.node)).size, 2, "both nodes took apps");
    for (const r of results) {
      assert.match(r.tests[0].outputTail, new RegExp(`ready\\s+data of ${r.app}`));
      assert.equal(r.tests[0].exitCode, 0);
      assert.ok(r.tests[0].durationMs >= 1000, "the test's sleep 1 ran");
    }
    assert.equal(containersLeft(), 0, "no container left behind");
  });

  it("records a failing test, a process that does not start, and a plist that cannot be fetched", async () => {
    const [a, b, c] = built;
    const results = await runAppTests(
      [
        app(a, {
          tests: [{ name: "wrong-exit", command: "sh", args: ["-c", "echo oops >&2; exit 3"] }],
        }),
        app(b, {
          processes: [{ name: "broken", command: "sh", args: ["-c", "echo no config >&2; exit 2"] }],
          // It may still be exiting when the start is checked: then the check after the tests sees it.
          tests: [{ name: "waits", command: "sleep", args: ["1"] }],
        }),
        { ...app(c), plistCid: "bafkreigaknpexyvxt76zgkitavbwx6ejgfheup5oybpm77f3pxzrvwpfdi" },
      ],
      testNodes,
    );
    assert.equal(results[0].passed, false);
    assert.equal(results[0].tests[0].exitCode, 3);
    assert.match(results[0].tests[0].reason, /exit code 3, expected 0/);
    assert.match(results[0].tests[0].outputTail, /oops/);
    assert.equal(results[1].passed, false);
    assert.match(
      results[1].errors[0],
      /process broken: (did not start|exited during the tests) \(state ERROR, exit code 2: no config\)/,
    );
    assert.equal(results[2].passed, false);
    assert.match(results[2].errors[0], /container on 127\.0\.0\.1:\d+: .*container root/);
    assert.equal(containersLeft(), 0, "no container left behind after failures");
  });

  describe("the provider", () => {
    let inputs: AppTestInputs;
    let outs: AppTestOutputs;

    before(() => {
      inputs = {
        name: "run-7",
        apps: built.slice(0, 2).map((b) => app(b)),
        nodes: testNodes,
        telegram: { token: TG_TOKEN, chatId: TG_CHAT, apiRoot: tg.apiRoot },
        runLabel: "run-7",
      };
    });

    it("check names the field and the fix for bad inputs", async () => {
      const bad = {
        ...inputs,
        apps: [
          { ...app(built[0]), plistCid: undefined, tests: [{ name: "t", command: "true", process: "nope" }] },
          { ...app(built[0]), buildId: "" },
        ],
        nodes: [{ address: "not a host!", password: "" }],
      } as unknown as AppTestInputs;
      const { failures } = await appTestProvider.check!({} as never, bad as never);
      const props = (failures ?? []).map((f) => f.property).sort();
      assert.deepEqual(props, [
        "apps[0].plistUrl",
        "apps[0].tests[0].process",
        "apps[1].app",
        "apps[1].buildId",
        "nodes[0].address",
        "nodes[0].ipfsGateway",
        "nodes[0].password",
      ]);
      assert.match(String(failures?.find((f) => f.property === "apps[1].app")?.reason), /listed twice/);
    });

    it("create runs the tests, reports on Telegram, and a no-op diff runs nothing", async () => {
      const r = await appTestProvider.create(inputs as never);
      outs = r.outs as AppTestOutputs;
      assert.equal(outs.passed, true);
      assert.deepEqual(outs.failures, []);
      assert.deepEqual(outs.telegramErrors, []);
      assert.deepEqual(
        outs.results.map((x) => x.app),
        ["alpha", "beta"],
      );
      const msgs = tg.messages(TG_TOKEN, TG_CHAT);
      assert.equal(msgs.length, 1, "one digest for both apps");
      assert.match(msgs[0].text, /✅ alpha \(build b1\) on 127\.0\.0\.1:\d+: 1\/1 tests passed/);
      assert.match(msgs[0].text, /✅ beta/);
      assert.equal(msgs[0].disableNotification, true, "routine results are silent");
      assert.ok(!JSON.stringify(outs).includes(PASSWORD), "no node password in the outputs");

      const same = await appTestProvider.diff!(r.id, outs as never, inputs as never);
      assert.equal(same.changes, false);
      const rebuilt = {
        ...inputs,
        apps: [inputs.apps[0], { ...inputs.apps[1], buildId: "b2" }],
        nodes: testNodes.slice(0, 1),
      };
      const d = await appTestProvider.diff!(r.id, outs as never, rebuilt as never);
      assert.equal(d.changes, true);
      assert.deepEqual(
        staleApps(outs.results, rebuilt.apps).map((a) => a.app),
        ["beta"],
      );
    });

    it("update re-runs only the app whose build changed", async () => {
      const rebuilt = { ...inputs, apps: [inputs.apps[0], { ...inputs.apps[1], buildId: "b2" }] };
      const r = await appTestProvider.update!("id", outs as never, rebuilt as never);
      const next = r.outs as AppTestOutputs;
      assert.deepEqual(next.results[0], outs.results[0], "alpha's recorded result is kept as it was");
      assert.equal(next.results[1].buildId, "b2");
      assert.equal(next.passed, true);
    });

    it("a failing test fails create with an error naming app and test, records results, alerts at once", async () => {
      const before = tg.messages(TG_TOKEN, TG_CHAT).length;
      const failing = {
        ...inputs,
        apps: [
          inputs.apps[0],
          { ...inputs.apps[1], tests: [{ name: "health", command: "sh", args: ["-c", "exit 1"] }] },
        ],
      };
      const err = await appTestProvider.create(failing as never).then(
        () => assert.fail("create should fail"),
        (e: unknown) => e as Error & { id: string; properties: AppTestOutputs },
      );
      assert.match(
        err.message,
        /AppTest "run-7": app tests failed: 1 failure\(s\): beta\/health: exit code 1, expected 0/,
      );
      assert.ok(err.id, "partial create: id recorded");
      assert.equal(err.properties.passed, false);
      assert.equal(err.properties.results.length, 2);
      assert.ok(!err.message.includes(PASSWORD));
      const msgs = tg.messages(TG_TOKEN, TG_CHAT).slice(before);
      const alert = msgs.find((m) => /TEST FAILURE/.test(m.text));
      assert.ok(alert, `an urgent alert was sent: ${JSON.stringify(msgs)}`);
      assert.equal(alert.disableNotification, false, "the alert rings");
      assert.match(alert.text, /in build run run-7: app beta .*\n• beta\/health: exit code 1, expected 0/);
      assert.equal(containersLeft(), 0);
      // The failed app is stale for the next up, even with unchanged inputs.
      const d = await appTestProvider.diff!(err.id, err.properties as never, failing as never);
      assert.equal(d.changes, true);
      assert.deepEqual(
        staleApps(err.properties.results, failing.apps).map((a) => a.app),
        ["beta"],
      );
    });
  });
});
