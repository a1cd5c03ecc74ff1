/**
 * AppTest alone, against two emulated core0 nodes (real redis-server each) whose containers are
 * built from plists fetched through an IPFS gateway (real offline js-ipfs behind it), and the
 * telegram-test-api emulator. Provider methods are called directly (the engine path is covered by
 * the build-run suite).
 */
import { strict as assert } from "assert";
import * as http from "http";
import type { AddressInfo } from "net";
import { randomUUID } from "crypto";
import {
  appTestProvider,
  runAppTests,
  staleApps,
  type AppTestInputs,
  type AppTestLeftover,
  type AppTestOutputs,
  type AppUnderTest,
  type TestNode,
} from "../../workflows/app-test";
import type { Redis } from "ioredis";
import { type Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { type RedisServer, startRedisServer } from "../testbed/redis";
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

  /**
   * A test that prints when it starts and ends (ns), 2 s apart. Containers are chrooted, so two
   * apps cannot meet through a shared file: overlapping intervals prove they ran at once.
   */
  const spanTest = {
    name: "runs-in-parallel",
    command: "sh",
    args: ["-c", "date +%s%N; sleep 2; date +%s%N"],
    expectOutput: "^\\d+\\n\\d+$",
    timeoutSeconds: 30,
  };
  const span = (tailText: string): [number, number] => {
    const [a, b] = tailText.split("\n").map((x) => Number(x.trim()) / 1e6);
    return [a, b];
  };

  before(async () => {
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
  });

  const containersLeft = (): number => nodes.reduce((s, n) => s + n.containerCount(), 0);

  it("tests apps in parallel across both nodes and terminates every container", async () => {
    const apps = built.map((b, k) => (k < 2 ? app(b, { tests: [...app(b).tests, spanTest] }) : app(b)));
    const results = await runAppTests(apps, testNodes, { maxPerNode: 2 });
    assert.deepEqual(
      results.map((r) => [r.app, r.passed, r.errors]),
      built.map((b) => [b.app, true, []]),
      JSON.stringify(results, null, 1),
    );
    // alpha and beta ran at once, on different nodes: their 2 s spans overlap.
    const [a0, a1] = span(results[0].tests[1].outputTail);
    const [b0, b1] = span(results[1].tests[1].outputTail);
    assert.ok(a1 - a0 >= 1900 && b1 - b0 >= 1900, "each span lasted its sleep 2");
    assert.ok(a0 < b1 && b0 < a1, `spans overlap: alpha ${a0}-${a1}, beta ${b0}-${b1}`);
    assert.notEqual(results[0].node, results[1].node);
    // The ids corex.create answered are recorded (v0.9 counts them from 1 on each node).
    for (const r of results) assert.ok(Number.isInteger(r.container) && r.container >= 1, r.app);
    assert.equal(new Set(results.map((r) => r.node)).size, 2, "both nodes took apps");
    for (const r of results) {
      assert.match(r.tests[0].outputTail, new RegExp(`ready\\s+data of ${r.app}`));
      assert.equal(r.tests[0].exitCode, 0);
      assert.ok(r.tests[0].durationMs >= 1000, "the test's sleep 1 ran");
    }
    assert.equal(containersLeft(), 0, "no container left behind");
  });

  it("tests an app on a stock core0 node whose redis has no password (node given without password)", async () => {
    const open = await startCore0Emulator({ ipfsApi: ipfs.apiUrl, ipfsFetchTimeoutMs: 3000 });
    try {
      const node: TestNode = { address: open.address, port: open.port, ipfsGateway: gateway.url };
      const [r] = await runAppTests([app(built[0])], [node]);
      assert.equal(r.passed, true, JSON.stringify(r));
      assert.equal(r.node, `${open.address}:${open.port}`);
      assert.ok(r.container >= 1);
      assert.equal(open.containerCount(), 0, "its container was terminated");
    } finally {
      await open.stop();
    }
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
    // core0 v0.9.0 reports no exit code: a non-zero exit is state ERROR only.
    assert.equal(results[0].tests[0].exitCode, -1);
    assert.equal(results[0].tests[0].state, "ERROR");
    assert.match(results[0].tests[0].reason, /exit code non-zero, expected 0/);
    assert.match(results[0].tests[0].outputTail, /oops/);
    assert.equal(results[1].passed, false);
    assert.match(
      results[1].errors[0],
      /process broken: (did not start|exited during the tests) \(state ERROR: no config\)/,
    );
    assert.equal(results[2].passed, false);
    // The gateway's error page is read as the plist (v0.9.0 uses an http body whatever its status).
    assert.match(
      results[2].errors[0],
      /container on 127\.0\.0\.1:\d+: .*corex\.create .*state ERROR: Flist item: malformed line/,
    );
    assert.equal(results[2].container, 0, "no container was made");
    assert.equal(containersLeft(), 0, "no container left behind after failures");
  });

  it("recovers a container whose create answer was lost by reading the create's result again", async () => {
    // The plist URL answers after 2 s; the create wait is 0.5 s: the answer is lost to the wait,
    // and core0 keeps result:<job id> (300 s), so the container is found and used.
    const server = http.createServer((_req, res) => {
      setTimeout(() => res.writeHead(200).end(built[0].plist), 2000);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alpha.plist`;
      const results = await runAppTests(
        [{ ...app(built[0]), plistCid: undefined, plistUrl: url }],
        testNodes.slice(0, 1),
        {
          createTimeoutMs: 500,
          lostAnswerWaitMs: 20_000,
        },
      );
      assert.deepEqual(results[0].errors, []);
      assert.equal(results[0].passed, true, JSON.stringify(results[0]));
      assert.ok(results[0].container >= 1);
      assert.equal(containersLeft(), 0, "the recovered container was terminated");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("runs chrooted: a plist without a shell cannot run sh tests, and says so", async () => {
    const bare = await makeBuiltApp(
      ipfs.apiUrl,
      "bare",
      "b1",
      { "/data.txt": { content: "x\n" } },
      { hostPrograms: [] },
    );
    const [r] = await runAppTests(
      [
        {
          app: "bare",
          buildId: "b1",
          plistCid: bare.plistCid,
          tests: [{ name: "sh", command: "sh", args: ["-c", "true"] }],
        },
      ],
      testNodes.slice(0, 1),
    );
    assert.equal(r.passed, false);
    assert.equal(r.tests[0].state, "ERROR");
    assert.match(
      r.tests[0].reason,
      /could not start: exec: "sh": executable file not found in \$PATH \(the container is chrooted/,
    );
    assert.equal(containersLeft(), 0);
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

    it("check accepts a node without a password (a stock v0.9 node: no AUTH), not an empty one", async () => {
      const open = { ...inputs, nodes: [{ address: "10.147.17.9", ipfsGateway: gateway.url }] };
      const ok = await appTestProvider.check!({} as never, open as never);
      assert.deepEqual(ok.failures, []);
      const empty = {
        ...inputs,
        nodes: [{ address: "10.147.17.9", ipfsGateway: gateway.url, password: "" }],
      };
      const bad = await appTestProvider.check!({} as never, empty as never);
      assert.deepEqual(
        (bad.failures ?? []).map((f) => f.property),
        ["nodes[0].password"],
      );
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
        /AppTest "run-7": app tests failed: 1 failure\(s\): beta\/health: exit code non-zero, expected 0/,
      );
      assert.ok(err.id, "partial create: id recorded");
      assert.equal(err.properties.passed, false);
      assert.equal(err.properties.results.length, 2);
      assert.ok(!err.message.includes(PASSWORD));
      const msgs = tg.messages(TG_TOKEN, TG_CHAT).slice(before);
      const alert = msgs.find((m) => /TEST FAILURE/.test(m.text));
      assert.ok(alert, `an urgent alert was sent: ${JSON.stringify(msgs)}`);
      assert.equal(alert.disableNotification, false, "the alert rings");
      assert.match(
        alert.text,
        /in build run run-7: app beta .*\n• beta\/health: exit code non-zero, expected 0/,
      );
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

// Twice: a node whose redis has a password, and a stock v0.9 node whose redis has none (#13:
// TestNode.password absent = no AUTH; facts/core0-protocol.md, redis auth).
for (const withPassword of [true, false])
  describe(`build: AppTest against a scripted core0 v0.9.0 node (real redis${withPassword ? "" : " without a password"}, no emulator)`, function () {
    this.timeout(60_000);
    const PW = withPassword ? "scripted-apptest-" + randomUUID() : undefined;
    /** `o` with the node password, when the node has one. */
    const withPw = <T extends object>(o: T): T & { password?: string } => (PW ? { ...o, password: PW } : o);
    let redis: RedisServer;
    let pop: Redis;
    let push: Redis;
    let stopped = false;
    let loop: Promise<void>;
    /** Answers a command like core0 (builtin value or error), or undefined to never answer. */
    let handler: (cmd: Record<string, unknown>) => { value?: unknown; error?: string } | undefined;
    const seen: Array<Record<string, unknown>> = [];
    let node: TestNode;

    before(async () => {
      redis = await startRedisServer({ password: PW });
      const IoRedis = require("ioredis") as typeof import("ioredis").default;
      pop = new IoRedis({ host: redis.host, port: redis.port, password: PW });
      push = new IoRedis({ host: redis.host, port: redis.port, password: PW });
      node = withPw({ address: redis.host, port: redis.port });
      if (!PW) {
        // The stand-in really is open: a client without AUTH is served (a stock v0.9 node's redis).
        assert.equal(await pop.ping(), "PONG");
      }
      loop = (async () => {
        while (!stopped) {
          const r = await pop.blpop("core:default", 1).catch(() => null);
          if (!r) continue;
          const cmd = JSON.parse(r[1]) as Record<string, unknown>;
          seen.push(cmd);
          const a = handler(cmd);
          if (!a) continue;
          const result = {
            id: cmd.id,
            command: cmd.command,
            data: JSON.stringify(a.error ?? a.value ?? null),
            level: 20,
            state: a.error ? "ERROR" : "SUCCESS",
            starttime: Date.now(),
            time: 1,
            tags: "",
          };
          await push.rpush(`result:${String(cmd.id)}`, JSON.stringify(result));
        }
      })();
    });
    after(async () => {
      stopped = true;
      await loop;
      pop?.disconnect();
      push?.disconnect();
      await redis?.stop();
    });
    beforeEach(() => (seen.length = 0));

    const stats = { cpu: 0, rss: 1, vms: 1, swap: 0, debug: "1" };
    const bareApp: AppUnderTest = {
      app: "lost",
      buildId: "b1",
      plistUrl: "http://127.0.0.1:9/x.plist",
      tests: [],
    };
    const terminated = (): unknown[] =>
      seen
        .filter((c) => c.command === "corex.terminate")
        .map((c) => (c.arguments as { container: number }).container);

    /** corex.list answers `before` until the create was sent, then `after`; create is never answered. */
    const lostCreate = (before: number[], after: number[]) => {
      let created = false;
      handler = (cmd) => {
        if (cmd.command === "corex.list")
          return { value: Object.fromEntries((created ? after : before).map((id) => [String(id), stats])) };
        if (cmd.command === "corex.create") {
          created = true;
          return undefined;
        }
        if (cmd.command === "corex.terminate") return { value: null };
        return { error: `unexpected ${String(cmd.command)}` };
      };
    };

    it("a lost create answer: the one container that appeared meanwhile is terminated", async () => {
      lostCreate([3], [3, 4]);
      const [r] = await runAppTests([bareApp], [node], { createTimeoutMs: 300, lostAnswerWaitMs: 300 });
      assert.equal(r.passed, false);
      assert.match(
        r.errors[0],
        /corex\.create.*container 4, the only one that appeared meanwhile, was terminated/,
      );
      assert.deepEqual(terminated(), [4]);
      assert.equal(r.container, 0);
    });

    it("a lost create answer: several new containers cannot be told apart and none is terminated", async () => {
      lostCreate([3], [3, 4, 5]);
      const [r] = await runAppTests([bareApp], [node], { createTimeoutMs: 300, lostAnswerWaitMs: 300 });
      assert.match(r.errors[0], /containers 4, 5 appeared meanwhile .*none was terminated/);
      assert.deepEqual(terminated(), []);
    });

    it("a container that cannot be terminated is kept in leftovers; delete terminates it", async () => {
      handler = (cmd) => {
        if (cmd.command === "corex.list") return { value: {} };
        if (cmd.command === "corex.create") return { value: 7 };
        if (cmd.command === "corex.terminate") return { error: "node busy" };
        return { error: "unexpected" };
      };
      const leftovers: AppTestLeftover[] = [];
      const [r] = await runAppTests([bareApp], [node], { leftovers });
      assert.equal(r.container, 7);
      assert.match(
        r.errors[0],
        /cleanup: container 7 on 127\.0\.0\.1:\d+ could not be terminated: .*node busy.*kept in leftovers/,
      );
      // No password field at all for a node without one (not `password: undefined`).
      assert.deepEqual(leftovers, [withPw({ address: node.address, port: node.port, container: 7 })]);
      assert.equal(terminated().length, 3, "tried 3 times");

      const olds = {
        name: "run-9",
        passed: false,
        failures: [],
        results: [r],
        telegramErrors: [],
        leftovers,
      };
      await assert.rejects(
        appTestProvider.delete!("id", olds as never),
        (e: Error) =>
          /AppTest "run-9": delete failed: could not terminate container 7 on 127\.0\.0\.1:\d+/.test(
            e.message,
          ) &&
          (!PW || !e.message.includes(PW)),
      );
      handler = (cmd) => (cmd.command === "corex.terminate" ? { value: null } : { error: "unexpected" });
      seen.length = 0;
      await appTestProvider.delete!("id", olds as never);
      assert.deepEqual(terminated(), [7]);
    });

    it("update terminates the leftovers first and keeps those it still cannot terminate", async () => {
      const leftover = withPw({ address: node.address, port: node.port!, container: 9 });
      const olds = {
        name: "run-10",
        passed: false,
        failures: [],
        results: [],
        telegramErrors: [],
        leftovers: [leftover],
      };
      const news = { name: "run-10", apps: [], nodes: [node] };
      handler = () => ({ error: "node busy" });
      const kept = (await appTestProvider.update!("id", olds as never, news as never)).outs as AppTestOutputs;
      assert.deepEqual(kept.leftovers, [leftover]);
      assert.deepEqual(terminated(), [9]);
      handler = (cmd) => (cmd.command === "corex.terminate" ? { value: null } : { error: "unexpected" });
      seen.length = 0;
      const gone = (await appTestProvider.update!("id", kept as never, news as never)).outs as AppTestOutputs;
      assert.deepEqual(gone.leftovers, []);
      assert.deepEqual(terminated(), [9]);
    });
  });
