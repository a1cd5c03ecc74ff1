/**
 * A full build run end to end with REAL builds (issue 6): three apps of a build tree on two
 * templates branches (test/build/fixtures/run-tree: hello-c and hello-sh on master, hello-sh and
 * greeter on stable) built by AppBuild on testbed host g8t-h4 over SSH (its make/cc/sh), their
 * files streamed into an offline js-ipfs, tested in containers on two emulated core0 nodes (plists
 * fetched through a loopback IPFS gateway), released to a bare repo on g8t-h4's sshd, reported to
 * the telegram-test-api emulator. Three harness operations: the full up, a no-op up, a failing test.
 */
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import type { AppTestResult } from "../../workflows/app-test";
import type { BranchRelease } from "../../workflows/templates-release";
import { loadBuildTree, type AppSpec } from "../../workflows/app-tree";
import { parsePlist } from "../../providers/plist";
import { Harness, type RunResult } from "../harness";
import { useTestbed } from "../testbed";
import { type Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { type GitServer, startGitServer } from "../testbed/git";
import { type IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import { startTelegramEmulator, type TelegramEmulator } from "../testbed/telegram";
import { type IpfsGateway, ipfsCat, startIpfsGateway } from "./programs/fixtures";

const FIXTURES = path.join(__dirname, "fixtures");
const PROGRAM = path.join(__dirname, "programs", "build-run-real.ts");
const NODE = "g8t-h4";
const BRANCHES = ["master", "stable"];
const PASSWORD = "core0-real-run-" + crypto.randomUUID();
const TG_TOKEN = "616161:real-build-run-bot-token";
const TG_CHAT = "-100616161";

interface BuildOut {
  app: string;
  buildId: string;
  plist: string;
  files: { path: string; cid: string; size: number; mode: number }[];
  buildDir: string;
}

/** Steps that did something, as "<name> <op>" (the stack itself left out). */
const changed = (r: RunResult): string[] =>
  r.steps
    .filter((s) => s.op !== "same" && !/pulumi:Stack$/.test(s.type))
    .map((s) => `${s.urn.split("::").pop()} ${s.op}`);

/** Remote calls the providers recorded since the trace file was last emptied. */
const traceEvents = (file: string): { system: string; op: string; write: boolean }[] =>
  fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

const sha256 = (b: Buffer): string => crypto.createHash("sha256").update(b).digest("hex");

describe("build: a full BuildRun with real AppBuild (build node g8t-h4, core0 emulators, js-ipfs, git, Telegram)", function () {
  this.timeout(900_000);
  const tb = useTestbed(this, { hosts: 4 });
  let dir: string;
  let treeDir: string;
  let workDir: string;
  let traceFile: string;
  let apps: AppSpec[];
  let ipfs: IpfsDaemon;
  let gateway: IpfsGateway;
  let nodes: Core0Emulator[];
  let tg: TelegramEmulator;
  let git: GitServer;
  let h: Harness;
  const commitsBefore: Record<string, number> = {};

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-real-run-"));
    workDir = `/root/g8os-test-builds-${path.basename(dir)}`;
    // A copy, so the failing-test case can edit the tree without touching the fixtures.
    fs.cpSync(path.join(FIXTURES, "apps"), path.join(dir, "apps"), { recursive: true });
    treeDir = path.join(dir, "run-tree");
    fs.cpSync(path.join(FIXTURES, "run-tree"), treeDir, { recursive: true });
    apps = loadBuildTree(treeDir, { knownBranches: BRANCHES }).apps;
    traceFile = path.join(dir, "trace.jsonl");
    fs.writeFileSync(traceFile, "");

    ipfs = await startIpfsDaemon();
    gateway = await startIpfsGateway(ipfs.apiUrl);
    nodes = [
      await startCore0Emulator({ password: PASSWORD, ipfsApi: ipfs.apiUrl }),
      await startCore0Emulator({ password: PASSWORD, ipfsApi: ipfs.apiUrl }),
    ];
    tg = await startTelegramEmulator();
    const common = {
      "README.md": "AYS templates\n",
      "apps/hello-sh/actions.py": "#\n",
      "apps/all/actions.py": "#\n",
    };
    git = await startGitServer(tb(), {
      branches: {
        master: { ...common, "apps/hello-c/actions.py": "#\n" },
        stable: { ...common, "apps/greeter/actions.py": "#\n" },
      },
    });
    for (const b of BRANCHES) commitsBefore[b] = await git.commitCount(b);
    const node = tb().host(NODE);
    h = new Harness({
      program: PROGRAM,
      stack: "build-1",
      stateFile: path.join(dir, "state.json"),
      env: { G8OS_TRACE_FILE: traceFile },
      config: {
        "g8os:buildTree": treeDir,
        "g8os:branches": JSON.stringify(BRANCHES),
        "g8os:runId": "real-1",
        "g8os:buildNodeAddress": node.address,
        "g8os:buildNodeKey": { secret: tb().bootstrapKey.privateKey },
        "g8os:buildNodeHostKey": node.hostKeySha256,
        "g8os:workDir": workDir,
        "g8os:logDir": path.join(dir, "logs"),
        "g8os:ipfsApi": ipfs.apiUrl,
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
        "g8os:repoUrl": git.url,
        "g8os:deployKey": { secret: git.deployKey },
        "g8os:knownHosts": git.knownHosts,
        "g8os:telegramBotToken": { secret: TG_TOKEN },
        "g8os:telegramChatId": TG_CHAT,
        "g8os:telegramApiRoot": tg.apiRoot,
      },
    });
  });
  after(async () => {
    // No destroy (one more slow harness operation): the build dirs go with workDir below, and the
    // repo and services are the suite's own.
    await h?.close();
    for (const n of nodes ?? []) await n.stop();
    await git?.stop();
    await gateway?.stop();
    await ipfs?.stop();
    await tg?.stop();
    if (workDir) await tb().exec(NODE, `rm -rf '${workDir}'`);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  let released: BranchRelease[];
  let builds: BuildOut[];

  it("builds every app on the node, tests them in containers, releases the built plists per branch, reports", async () => {
    const r = await h.upOk();
    assert.deepEqual(
      r.steps
        .filter((s) => /build:AppBuild$/.test(s.type))
        .map((s) => `${s.urn.split("::").pop()} ${s.op}`)
        .sort(),
      ["greeter create", "hello-c create", "hello-sh create"],
    );
    builds = r.outputs.builds as BuildOut[];
    released = r.outputs.released as BranchRelease[];

    // Every plist line resolves through IPFS to the bytes the build left on the node.
    for (const b of builds) {
      const spec = apps.find((a) => a.name === b.app)!;
      // One line per output, plus /proc (coreX mounts proc there, AppBuild adds it).
      const all = parsePlist(b.plist);
      assert.ok(
        all.some((e) => e.path === "/proc" && e.type === 4),
        `${b.app}: /proc listed`,
      );
      const entries = all.filter((e) => e.path !== "/proc");
      assert.deepEqual(
        entries.map((e) => e.path).sort(),
        spec.outputs.map((o) => o.to).sort(),
        `${b.app}: one plist line per output`,
      );
      for (const e of entries) {
        const from = spec.outputs.find((o) => o.to === e.path)!.from;
        // Brotli in IPFS (what core0 v0.9.0 reads); size and hash are of the built bytes.
        const bytes = zlib.brotliDecompressSync(await ipfsCat(ipfs.apiUrl, e.hash));
        assert.equal(bytes.length, e.size, `${b.app}${e.path} size`);
        const onNode = await tb().exec(NODE, `sha256sum < '${b.buildDir}/src/${from}'`);
        assert.equal(onNode.code, 0, onNode.stderr);
        assert.equal(sha256(bytes), onNode.stdout.split(" ")[0], `${b.app}${e.path}: built bytes`);
      }
    }
    const greeterScript = parsePlist(builds.find((b) => b.app === "greeter")!.plist).find(
      (e) => e.path === "/usr/bin/greeter",
    )!;
    assert.match(
      zlib.brotliDecompressSync(await ipfsCat(ipfs.apiUrl, greeterScript.hash)).toString(),
      /v0\.3/,
      "stamped by the build",
    );

    // Containers built from those plists ran the apps: every test passed, on both nodes.
    const results = r.outputs.testResults as AppTestResult[];
    assert.deepEqual(
      results.map((x) => [x.app, x.passed, x.tests.map((t) => `${t.name}:${t.passed}`)]),
      [
        ["greeter", true, ["greets:true", "serving:true"]],
        ["hello-c", true, ["greets:true", "counts-args:true", "greeted-at-start:true"]],
        ["hello-sh", true, ["version:true", "pong:true"]],
      ],
      JSON.stringify(results, null, 1),
    );
    assert.equal(new Set(results.map((x) => x.node)).size, 2, "the tests spread over both nodes");
    const tail = (app: string, test: string) =>
      results.find((x) => x.app === app)!.tests.find((t) => t.name === test)!.outputTail;
    assert.match(tail("hello-c", "counts-args"), /^3\s*$/);
    assert.match(tail("greeter", "greets"), /HELLO FROM THE STABLE BRANCH \(world\) v0\.3/);
    assert.equal(nodes[0].containerCount() + nodes[1].containerCount(), 0, "containers terminated");

    // The plists are in the right directories of the right branches, byte for byte the built ones.
    const plistOf = (app: string) => builds.find((b) => b.app === app)!.plist;
    const expected: Record<string, Record<string, string | undefined>> = {
      master: {
        "apps/hello-c/plist": "hello-c",
        "apps/hello-sh/plist": "hello-sh",
        "apps/all/plist": "hello-sh",
        "apps/greeter/plist": undefined,
      },
      stable: {
        "apps/hello-sh/plist": "hello-sh",
        "apps/all/plist": "hello-sh",
        "apps/greeter/plist": "greeter",
        "apps/hello-c/plist": undefined,
      },
    };
    for (const [branch, files] of Object.entries(expected)) {
      for (const [file, app] of Object.entries(files)) {
        assert.equal(await git.read(branch, file), app ? plistOf(app) : undefined, `${branch}:${file}`);
      }
    }

    // The push reached the bare repo (one new commit per branch), and each branch's templates hash
    // resolves to its committed tree: every committed file, same bytes (minus the hash file itself).
    assert.deepEqual(
      released.map((b) => [b.branch, b.committed]),
      [
        ["master", true],
        ["stable", true],
      ],
    );
    for (const b of released) {
      assert.equal(await git.head(b.branch), b.commit, `${b.branch} pushed`);
      assert.equal(await git.commitCount(b.branch), commitsBefore[b.branch] + 1);
      assert.equal(await git.read(b.branch, ".ipfs-hash"), `${b.rootCid}\n`);
      const files = (await git.files(b.branch)).filter((f) => f !== ".ipfs-hash").sort();
      assert.ok(files.length >= 5, files.join(", "));
      for (const f of files) {
        assert.equal(
          (await ipfsCat(ipfs.apiUrl, `/ipfs/${b.rootCid}/${f}`)).toString(),
          await git.read(b.branch, f),
          `${b.branch}: /ipfs/<root>/${f}`,
        );
      }
    }

    const texts = tg.messages(TG_TOKEN, TG_CHAT).map((m) => m.text);
    const all = texts.join("\n---\n");
    assert.ok(
      texts.some((t) => /Build run real-1 started: 3 app\(s\) \(greeter, hello-c, hello-sh\)/.test(t)),
      all,
    );
    const built = texts.find((t) => /Build run real-1: 3 app\(s\) built/.test(t));
    assert.ok(built, all);
    for (const b of builds) assert.ok(built.includes(b.buildId), `built message names ${b.app}'s build`);
    const summary = texts.find((t) => /released to/.test(t));
    assert.ok(summary, all);
    for (const b of released)
      assert.ok(summary.includes(b.rootCid) && summary.includes(b.commit.slice(0, 12)));
    const state = h.stateText();
    for (const secret of [
      PASSWORD,
      TG_TOKEN,
      git.deployKey.split("\n")[1],
      tb().bootstrapKey.privateKey.split("\n")[1],
    ]) {
      assert.ok(!state.includes(secret), "no secret in plaintext state");
    }
  });

  it("a second up with nothing changed builds, uploads, pushes and sends nothing", async () => {
    const before = tg.messages(TG_TOKEN, TG_CHAT).length;
    fs.writeFileSync(traceFile, "");
    const r = await h.upOk();
    assert.deepEqual(changed(r), []);
    assert.deepEqual(
      traceEvents(traceFile).filter((e) => e.write || e.system === "ssh" || e.system === "ipfs"),
      [],
      "no SSH command, no IPFS call, no write anywhere",
    );
    assert.equal(tg.messages(TG_TOKEN, TG_CHAT).length, before, "no Telegram message");
    for (const b of released) {
      assert.equal(await git.head(b.branch), b.commit);
      assert.equal(await git.commitCount(b.branch), commitsBefore[b.branch] + 1);
    }
  });

  it("a failing app test: no rebuild, nothing pushed, an urgent alert naming app and test", async () => {
    const before = tg.messages(TG_TOKEN, TG_CHAT).length;
    fs.writeFileSync(traceFile, "");
    const file = path.join(treeDir, "greeter.yaml");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("v0\\\\.3$", "v9$"));
    h.setConfig("g8os:runId", "real-2");
    const r = await h.up();
    assert.equal(r.failed, true);
    const errors = r.errors.join("\n");
    assert.match(
      errors,
      /AppTest "run-tests": app tests failed: 1 failure\(s\): greeter\/greets: output does not match/,
    );
    assert.ok(!errors.includes(PASSWORD));
    // Tests are not part of a build's identity: greeter's AppBuild takes the new spec (an update
    // without remote calls); nothing is rebuilt on the node, nothing uploaded.
    assert.deepEqual(
      r.steps
        .filter((s) => /AppBuild$/.test(s.type) && s.op !== "same")
        .map((s) => `${s.urn.split("::").pop()} ${s.op}`),
      ["greeter update"],
    );
    assert.deepEqual(
      traceEvents(traceFile).filter((e) => e.system === "ssh" || (e.system === "ipfs" && e.write)),
      [],
      "no SSH command to the build node, no IPFS upload",
    );
    assert.ok(
      !r.steps.some((s) => /TemplatesRelease/.test(s.type) && s.op !== "same"),
      "no release step ran",
    );
    for (const b of released)
      assert.equal(await git.head(b.branch), b.commit, `nothing pushed to ${b.branch}`);
    const sent = tg.messages(TG_TOKEN, TG_CHAT).slice(before);
    const alert = sent.find((m) => /TEST FAILURE in build run real-2: app greeter/.test(m.text));
    assert.ok(alert, sent.map((m) => m.text).join("\n---\n"));
    assert.equal(alert.disableNotification, false, "the alert rings");
    assert.equal(nodes[0].containerCount() + nodes[1].containerCount(), 0, "containers terminated");
  });
});
