/**
 * A whole build run through the engine harness (real dynamic-provider host, state, secrets):
 * three apps on two templates branches, tested on two emulated core0 nodes (plists fetched through
 * an IPFS gateway in front of a real offline js-ipfs), released to a real git server (bare repo over
 * g8t-h4's sshd), reported to the telegram-test-api emulator.
 * The builds are made by the test (files in IPFS + plist, AppBuild's output shape).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { randomUUID } from "crypto";
import type { AppSpec } from "../../workflows/app-tree";
import type { BranchRelease } from "../../workflows/templates-release";
import type { AppTestResult } from "../../workflows/app-test";
import { parsePlist } from "../../providers/plist";
import { Harness, type RunResult } from "../harness";
import { useTestbed } from "../testbed";
import { type Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { type GitServer, startGitServer } from "../testbed/git";
import { type IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import { startTelegramEmulator, type TelegramEmulator } from "../testbed/telegram";
import {
  type BuiltApp,
  type IpfsGateway,
  ipfsCat,
  ipfsLs,
  makeBuiltApp,
  startIpfsGateway,
} from "./programs/fixtures";

const PASSWORD = "core0-buildrun-" + randomUUID();
const TG_TOKEN = "515151:build-run-bot-token";
const TG_CHAT = "-100515151";
const PROGRAM = path.join(__dirname, "programs", "build-run.ts");
const SERVE = "#!/bin/sh\necho ready > ready.txt\nexec sleep 300\n";

function spec(name: string, templates: string[], branches: string[], expectOutput?: string): AppSpec {
  return {
    name,
    file: `/tree/${name}.yaml`,
    source: { path: `/src/${name}` },
    steps: [],
    outputs: [],
    // Chrooted in the plist root: sh is found on coreX's PATH there (makeBuiltApp puts it in the plist).
    processes: [{ name: "serve", args: ["sh", "bin/serve"], env: { APP: name }, cwd: "/" }],
    tests: [
      {
        name: "serves",
        process: "serve",
        command: "sleep 1; cat ready.txt data.txt",
        expectExitCode: 0,
        expectOutput: expectOutput ?? `ready\\s+data of ${name}`,
        timeoutSeconds: 30,
      },
    ],
    resources: { memoryMb: 8, cpu: 0 },
    templates,
    branches,
  };
}

const changed = (r: RunResult): string[] =>
  r.steps
    .filter((s) => s.op !== "same" && !/pulumi:Stack$/.test(s.type))
    .map((s) => `${s.urn.split("::").pop()} ${s.op}`);

describe("build: a BuildRun through the harness (git server on g8t-h4, core0 emulators, js-ipfs, Telegram)", function () {
  this.timeout(900_000);
  const tb = useTestbed(this, { hosts: 4 });
  let ipfs: IpfsDaemon;
  let gateway: IpfsGateway;
  let nodes: Core0Emulator[];
  let tg: TelegramEmulator;
  let git: GitServer;
  let dir: string;
  let h: Harness;
  const apps = [
    spec("redis", ["apps/redis"], ["master", "develop"]),
    spec("web", ["apps/web", "apps/all"], ["master", "develop"]),
    spec("worker", ["apps/worker"], ["develop"]),
  ];
  const builds: BuiltApp[] = [];
  const contents: Record<string, Record<string, string>> = {};

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-buildrun-"));
    ipfs = await startIpfsDaemon();
    gateway = await startIpfsGateway(ipfs.apiUrl);
    nodes = [
      await startCore0Emulator({ password: PASSWORD, ipfsApi: ipfs.apiUrl }),
      await startCore0Emulator({ password: PASSWORD, ipfsApi: ipfs.apiUrl }),
    ];
    tg = await startTelegramEmulator();
    const dirs = {
      "README.md": "AYS templates\n",
      "apps/redis/actions.py": "#\n",
      "apps/web/actions.py": "#\n",
      "apps/all/actions.py": "#\n",
    };
    git = await startGitServer(tb(), {
      branches: { master: dirs, develop: { ...dirs, "apps/worker/actions.py": "#\n" } },
    });
    for (const a of apps) {
      contents[a.name] = { "/bin/serve": SERVE, "/data.txt": `data of ${a.name}\n` };
      builds.push(
        await makeBuiltApp(ipfs.apiUrl, a.name, `${a.name}-b1`, {
          "/bin/serve": { content: SERVE, mode: 0o755 },
          "/data.txt": { content: contents[a.name]["/data.txt"] },
        }),
      );
    }
    h = new Harness({
      program: PROGRAM,
      stack: "build-1",
      stateFile: path.join(dir, "state.json"),
      config: {
        "g8os:runId": "run-1",
        "g8os:apps": JSON.stringify(apps),
        "g8os:builds": JSON.stringify(builds),
        "g8os:core0Nodes": {
          secret: JSON.stringify(
            nodes.map((n) => ({
              address: n.address,
              port: n.port,
              password: PASSWORD,
              ipfsGateway: gateway.url,
            })),
          ),
        },
        "g8os:ipfsApi": ipfs.apiUrl,
        "g8os:repoUrl": git.url,
        "g8os:deployKey": { secret: git.deployKey },
        "g8os:knownHosts": git.knownHosts,
        "g8os:branches": JSON.stringify(["master", "develop"]),
        "g8os:telegramBotToken": { secret: TG_TOKEN },
        "g8os:telegramChatId": TG_CHAT,
        "g8os:telegramApiRoot": tg.apiRoot,
      },
    });
  });
  after(async () => {
    await h?.close();
    for (const n of nodes ?? []) await n.stop();
    await git?.stop();
    await gateway?.stop();
    await ipfs?.stop();
    await tg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  let released: BranchRelease[];

  it("tests every app in containers, releases the plists per branch with the tree hash, and reports", async () => {
    const r = await h.upOk();
    released = r.outputs.released as BranchRelease[];
    const results = r.outputs.testResults as AppTestResult[];
    assert.deepEqual(
      results.map((x) => [x.app, x.passed]),
      [
        ["redis", true],
        ["web", true],
        ["worker", true],
      ],
    );
    assert.equal(new Set(results.map((x) => x.node)).size, 2, "the tests spread over both nodes");
    for (const x of results) assert.match(x.tests[0].outputTail, new RegExp(`ready\\s+data of ${x.app}`));
    assert.equal(nodes[0].containerCount() + nodes[1].containerCount(), 0, "containers terminated");

    // The plists are in the right dirs of the right branches, and their hashes give the built bytes.
    const where: Record<string, string[]> = {
      master: ["apps/redis/plist:redis", "apps/web/plist:web", "apps/all/plist:web"],
      develop: [
        "apps/redis/plist:redis",
        "apps/web/plist:web",
        "apps/all/plist:web",
        "apps/worker/plist:worker",
      ],
    };
    for (const [branch, list] of Object.entries(where)) {
      for (const item of list) {
        const [file, app] = item.split(":");
        const text = await git.read(branch, file);
        assert.equal(text, builds.find((b) => b.app === app)?.plist, `${branch}:${file}`);
        // The app's own files (the plist also lists the shell it carries, directories and /proc);
        // their content is brotli in IPFS, as core0 v0.9.0 reads it.
        const own = parsePlist(text!).filter((e) => e.path in contents[app]);
        assert.deepEqual(own.map((e) => e.path).sort(), Object.keys(contents[app]).sort(), `${app} files`);
        for (const e of own) {
          assert.equal(
            zlib.brotliDecompressSync(await ipfsCat(ipfs.apiUrl, e.hash)).toString(),
            contents[app][e.path],
            `${app}${e.path}`,
          );
        }
      }
    }
    assert.equal(await git.read("master", "apps/worker/plist"), undefined, "worker is develop-only");

    // Each branch: pushed, and its hash resolves to the committed tree (minus the hash file).
    assert.deepEqual(
      released.map((b) => [b.branch, b.committed]),
      [
        ["master", true],
        ["develop", true],
      ],
    );
    for (const b of released) {
      assert.equal(await git.head(b.branch), b.commit);
      assert.equal(await git.read(b.branch, ".ipfs-hash"), `${b.rootCid}\n`);
      const top = (await ipfsLs(ipfs.apiUrl, b.rootCid)).map((e) => e.name).sort();
      assert.deepEqual(top, ["README.md", "apps"]);
      const appDirs = (await ipfsLs(ipfs.apiUrl, `/ipfs/${b.rootCid}/apps`)).map((e) => e.name).sort();
      assert.deepEqual(
        appDirs,
        b.branch === "master" ? ["all", "redis", "web"] : ["all", "redis", "web", "worker"],
      );
      assert.equal(
        (await ipfsCat(ipfs.apiUrl, `/ipfs/${b.rootCid}/apps/web/plist`)).toString(),
        await git.read(b.branch, "apps/web/plist"),
      );
    }

    const texts = tg.messages(TG_TOKEN, TG_CHAT).map((m) => m.text);
    assert.ok(
      texts.some((t) => /Build run run-1 started: 3 app\(s\) \(redis, web, worker\)/.test(t)),
      texts.join("\n---\n"),
    );
    assert.ok(texts.some((t) => /Build run run-1: 3 app\(s\) built/.test(t)));
    assert.ok(
      texts.some((t) => /✅ redis .*\n✅ /.test(t) || /✅ redis/.test(t)),
      "test digest",
    );
    const summary = texts.find((t) => /released to/.test(t));
    assert.ok(summary, "summary sent");
    for (const b of released) {
      assert.ok(summary.includes(b.rootCid) && summary.includes(b.commit.slice(0, 12)), summary);
    }
    const state = h.stateText();
    for (const secret of [PASSWORD, TG_TOKEN, git.deployKey.split("\n")[1]]) {
      assert.ok(!state.includes(secret), "no secret in plaintext state");
    }
  });

  it("a second up with nothing changed runs nothing and sends nothing", async () => {
    const before = tg.messages(TG_TOKEN, TG_CHAT).length;
    const r = await h.upOk();
    assert.deepEqual(changed(r), []);
    assert.equal(tg.messages(TG_TOKEN, TG_CHAT).length, before);
    for (const b of released) assert.equal(await git.head(b.branch), b.commit);
  });

  it("a failing app test: nothing is pushed, the group is alerted, the error names app and test", async () => {
    const before = tg.messages(TG_TOKEN, TG_CHAT).length;
    h.setConfig("g8os:runId", "run-2");
    h.setConfig(
      "g8os:apps",
      JSON.stringify([
        apps[0],
        spec("web", ["apps/web", "apps/all"], ["master", "develop"], "^never printed$"),
        apps[2],
      ]),
    );
    const r = await h.up();
    assert.equal(r.failed, true);
    const errors = r.errors.join("\n");
    assert.match(
      errors,
      /AppTest "run-tests": app tests failed: 1 failure\(s\): web\/serves: output does not match/,
    );
    assert.ok(!errors.includes(PASSWORD));
    for (const b of released)
      assert.equal(await git.head(b.branch), b.commit, `nothing pushed to ${b.branch}`);
    assert.ok(
      !r.steps.some((s) => /TemplatesRelease/.test(s.type) && s.op !== "same"),
      "no release step ran",
    );
    const sent = tg.messages(TG_TOKEN, TG_CHAT).slice(before);
    const alert = sent.find((m) => /TEST FAILURE in build run run-2: app web/.test(m.text));
    assert.ok(alert, sent.map((m) => m.text).join("\n---\n"));
    assert.equal(alert.disableNotification, false, "the alert rings");
    assert.match(alert.text, /web\/serves: output does not match/);
    assert.equal(nodes[0].containerCount() + nodes[1].containerCount(), 0, "containers terminated");
  });
});
