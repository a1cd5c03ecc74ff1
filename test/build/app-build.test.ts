/**
 * AppBuild through the engine harness, with testbed host g8t-h4 as the build node (real sshd, the
 * machine's sh/make/gcc/git) and a real offline js-ipfs daemon:
 * - the plist's lines resolve through IPFS to the bytes built on the node;
 * - a no-op up makes no SSH command and no IPFS add (counted with G8OS_TRACE_FILE);
 * - a changed source rebuilds only that app;
 * - a build step that kills its own SSH session fails the up clearly, the next up resumes and converges;
 * - a failing step names the app and the step and shows the log tail;
 * - a git source (file:// repo) builds at the resolved commit.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { IpfsClient } from "../../providers/ipfs";
import { parsePlist } from "../../providers/plist";
import { Harness, RunResult } from "../harness";
import { useTestbed } from "../testbed";
import { IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";

const FIXTURES = path.join(__dirname, "fixtures");
const PROGRAM = path.join(__dirname, "programs", "app-build.ts");
const NODE = "g8t-h4";

interface BuildOut {
  app: string;
  buildId: string;
  sourceCommit: string;
  plist: string;
  plistCid: string;
  files: { path: string; cid: string; size: number; mode: number }[];
  buildDir: string;
  logFile: string;
}

const buildOps = (r: RunResult): string[] =>
  r.steps
    .filter((s) => /build:AppBuild$/.test(s.type))
    .map((s) => `${s.urn.split("::").pop()} ${s.op}`)
    .sort();

const traceEvents = (file: string): { system: string; op: string; write: boolean }[] =>
  fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe("build: AppBuild on a testbed build node", function () {
  this.timeout(600_000);
  const tb = useTestbed(this, { hosts: 4 });
  let ipfs: IpfsDaemon;
  let ipfsClient: IpfsClient;
  let dir: string;
  let workDir: string;

  /** A copy of the sample apps and a tree pointing at them, so tests can change sources. */
  const copyTree = (name: string, apps: Record<string, string>): string => {
    const treeDir = path.join(dir, name, "tree");
    fs.mkdirSync(treeDir, { recursive: true });
    for (const [file, body] of Object.entries(apps)) fs.writeFileSync(path.join(treeDir, file), body);
    return treeDir;
  };

  const harness = (stack: string, treeDir: string, env: Record<string, string> = {}): Harness => {
    const node = tb().host(NODE);
    return new Harness({
      program: PROGRAM,
      stack,
      stateFile: path.join(dir, `${stack}.json`),
      env,
      config: {
        "g8os:buildTree": treeDir,
        "g8os:buildNodeAddress": node.address,
        "g8os:buildNodeKey": { secret: tb().bootstrapKey.privateKey },
        "g8os:buildNodeHostKey": node.hostKeySha256,
        "g8os:ipfsApiUrl": ipfs.apiUrl,
        "g8os:workDir": workDir,
        "g8os:logDir": path.join(dir, "logs"),
      },
    });
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-app-build-"));
    workDir = `/root/g8os-test-builds-${path.basename(dir)}`;
    ipfs = await startIpfsDaemon();
    ipfsClient = new IpfsClient(ipfs.apiUrl, { timeoutMs: 10_000 });
  });
  after(async () => {
    await ipfs?.stop();
    if (workDir) await tb().exec(NODE, `rm -rf '${workDir}'`);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("sample tree: build, no-op, change one app", () => {
    let h: Harness;
    let treeDir: string;
    let first: Record<string, BuildOut>;
    before(() => {
      fs.cpSync(path.join(FIXTURES, "apps"), path.join(dir, "sample", "apps"), { recursive: true });
      treeDir = path.join(dir, "sample", "tree");
      fs.cpSync(path.join(FIXTURES, "tree"), treeDir, { recursive: true });
      h = harness("build-1", treeDir);
    });
    after(async () => {
      await h?.destroyOk();
      await h?.close();
    });

    it("up builds both apps; every plist line resolves through IPFS to the bytes built on the node", async () => {
      const r = await h.upOk();
      assert.deepEqual(buildOps(r), ["hello-c create", "hello-sh create"]);
      first = r.outputs as unknown as Record<string, BuildOut>;
      const c = first["hello-c"];
      assert.equal(c.app, "hello-c");
      assert.match(c.buildId, /^[0-9a-f]{64}$/);
      assert.match(c.sourceCommit, /^[0-9a-f]{64}$/);
      const all = parsePlist(c.plist);
      // The outputs (the app, plus the shell, loader and libc of its runtime step: the container is
      // chrooted) and /proc for coreX, sorted by path.
      assert.deepEqual(
        all.map((e) => e.path),
        [
          "/bin/sh",
          "/lib/x86_64-linux-gnu/libc.so.6",
          "/lib64/ld-linux-x86-64.so.2",
          "/proc",
          "/usr/bin/hello",
          "/usr/share/doc/hello/hello.c",
        ],
      );
      const entries = all.filter((e) => e.path.startsWith("/usr/"));
      assert.deepEqual(
        entries.map((e) => [e.path, e.mode.toString(8)]),
        [
          ["/usr/bin/hello", "755"],
          ["/usr/share/doc/hello/hello.c", "644"],
        ],
      );
      for (const e of entries) {
        // Stored brotli-compressed (what core0 v0.9.0 reads); size is the uncompressed one.
        const bytes = zlib.brotliDecompressSync(await ipfsClient.catBuffer(e.hash));
        assert.equal(bytes.length, e.size);
        const onNode = await tb().exec(
          NODE,
          `sha256sum < '${c.buildDir}/src/${e.path === "/usr/bin/hello" ? "hello" : "hello.c"}'`,
        );
        assert.equal(crypto.createHash("sha256").update(bytes).digest("hex"), onNode.stdout.split(" ")[0]);
        assert.ok(e.mtime > 1_600_000_000 && e.ctime > 1_600_000_000);
      }
      // The binary from IPFS runs and greets.
      const bin = path.join(dir, "hello");
      fs.writeFileSync(bin, zlib.brotliDecompressSync(await ipfsClient.catBuffer(entries[0].hash)), {
        mode: 0o755,
      });
      assert.equal(execFileSync(bin).toString(), "hello from g8os\n");
      // The plist itself is in IPFS, pinned, and equal to the output text.
      assert.equal((await ipfsClient.catBuffer(c.plistCid)).toString(), c.plist);
      assert.equal((await ipfsClient.pinLs(c.plistCid))?.type, "recursive");
      assert.deepEqual(
        c.files.map((f) => [f.path, f.cid, f.mode]).sort(),
        all
          .filter((e) => e.path !== "/proc")
          .map((e) => [e.path, e.hash, e.mode])
          .sort(),
      );
      // The shell app was stamped by its build steps.
      const sh = parsePlist(first["hello-sh"].plist).find((e) => e.path === "/usr/bin/hello-sh")!;
      assert.equal(
        zlib
          .brotliDecompressSync(await ipfsClient.catBuffer(sh.hash))
          .toString()
          .includes("hello-sh 1.0"),
        true,
      );
      assert.equal(sh.mode, 0o755, "mode of the built file when the tree sets none");
      // The full log is kept locally and on the node.
      assert.match(fs.readFileSync(c.logFile, "utf8"), /build step "compile" \(1\/2\): make/);
      assert.equal((await tb().exec(NODE, `test -s '${c.buildDir}/build.log'`)).code, 0);
      assert.ok(
        !h.stateText().includes(tb().bootstrapKey.privateKey.split("\n")[1]),
        "key not in plaintext state",
      );
    });

    it("a no-op up makes no SSH command and no IPFS add", async () => {
      const traceFile = path.join(dir, "noop.trace");
      fs.writeFileSync(traceFile, "");
      const noop = new Harness({
        program: PROGRAM,
        stack: "build-1",
        stateFile: h.stateFile,
        env: { G8OS_TRACE_FILE: traceFile },
        config: (h as unknown as { config: Record<string, string> }).config,
      });
      try {
        const r = await noop.upOk();
        assert.deepEqual(buildOps(r), ["hello-c same", "hello-sh same"]);
        assert.deepEqual(
          (r.outputs as Record<string, BuildOut>)["hello-c"].plistCid,
          first["hello-c"].plistCid,
        );
      } finally {
        await noop.close();
      }
      const events = traceEvents(traceFile);
      assert.deepEqual(
        events.filter((e) => e.system === "ssh" || e.system === "ipfs"),
        [],
        "no SSH and no IPFS call",
      );
    });

    it("a changed source rebuilds only that app", async () => {
      fs.writeFileSync(path.join(dir, "sample", "apps", "hello-sh", "VERSION"), "2.0\n");
      const r = await h.upOk();
      assert.deepEqual(buildOps(r), ["hello-c same", "hello-sh update"]);
      const out = r.outputs as unknown as Record<string, BuildOut>;
      assert.equal(out["hello-c"].plistCid, first["hello-c"].plistCid);
      assert.notEqual(out["hello-sh"].buildId, first["hello-sh"].buildId);
      const sh = parsePlist(out["hello-sh"].plist).find((e) => e.path === "/usr/bin/hello-sh")!;
      assert.match(
        zlib.brotliDecompressSync(await ipfsClient.catBuffer(sh.hash)).toString(),
        /hello-sh 2\.0/,
      );
      // The superseded build directory is gone from the node.
      assert.notEqual((await tb().exec(NODE, `test -d '${first["hello-sh"].buildDir}'`)).code, 0);
    });
  });

  describe("failures", () => {
    let h: Harness;
    let marks: string;
    let treeDir: string;
    const flakyApp = (marks: string): string =>
      // Step 1 counts its runs; step 2 kills its own SSH session the first time it runs.
      `name: flaky\nsource: {path: ../src}\nbuild:\n  steps:\n` +
      `    - {name: count, run: 'echo run >> ${marks}/count && echo built > out.txt'}\n` +
      `    - name: cut-ssh\n      run: |\n` +
      `        if [ ! -e ${marks}/killed ]; then\n` +
      `          touch ${marks}/killed; p=$$; i=0\n` +
      `          while [ $i -lt 20 ] && [ "$(ps -o comm= -p $p)" != sshd ]; do p=$(ps -o ppid= -p $p | tr -d ' '); i=$((i+1)); done\n` +
      `          kill -9 $p; sleep 10\n` +
      `        fi\n` +
      `outputs: [{from: out.txt, to: /out.txt}]\ntemplates: [apps/flaky]\nbranches: [master]\n`;
    const brokenApp = (fixed: boolean): string =>
      `name: broken\nsource: {path: ../src}\nbuild:\n  steps:\n    - {name: prepare, run: 'echo ok > out.txt'}\n` +
      `    - name: compile\n      run: ${fixed ? "'echo fixed'" : "'for i in $(seq 1 60); do echo line-$i; done; echo \"error: boom\" >&2; exit 3'"}\n` +
      `outputs: [{from: out.txt, to: /out.txt}]\ntemplates: [apps/broken]\nbranches: [master]\n`;

    before(() => {
      marks = path.join(dir, "marks");
      fs.mkdirSync(marks);
      fs.mkdirSync(path.join(dir, "failures", "src"), { recursive: true });
      fs.writeFileSync(path.join(dir, "failures", "src", "README"), "source\n");
      treeDir = copyTree("failures", { "flaky.yaml": flakyApp(marks), "broken.yaml": brokenApp(false) });
      h = harness("build-2", treeDir);
    });
    after(async () => {
      await h?.destroyOk();
      await h?.close();
    });

    // The harness blanks every string of a secret input out of errors, so the node address (part of
    // the secret buildNode connection) shows as [secret] here; the real engine shows the address.
    it("SSH lost mid-build and a failing step: the up fails clearly for each", async () => {
      const r = await h.up();
      assert.ok(r.failed, "up must fail");
      const errors = r.errors.join("\n");
      assert.match(
        errors,
        /AppBuild "flaky": build step "cut-ssh" \(2\/2\) failed: the SSH connection to \S+ was lost/,
      );
      assert.match(errors, /next up resumes/);
      assert.match(
        errors,
        /AppBuild "broken": build step "compile" \(2\/2\) failed: exit status 3; last 40 log lines:/,
      );
      assert.match(errors, /error: boom/);
      assert.match(errors, /line-60/);
      assert.doesNotMatch(errors, /line-10\b/, "only the tail of the log");
      assert.match(
        errors,
        /full log, on \S+ at \/root\/.*\/build\.log and here at .*broken-[0-9a-f]{12}\.log/,
      );
      assert.ok(!errors.includes(tb().bootstrapKey.privateKey.split("\n")[1]));
      const localLog = /here at (\S+\.log)/.exec(errors)![1];
      assert.match(fs.readFileSync(localLog, "utf8"), /line-1\n[\s\S]*error: boom/);
    });

    it("the next up resumes the cut build (finished steps not re-run) and converges once the step is fixed", async () => {
      fs.writeFileSync(path.join(treeDir, "broken.yaml"), brokenApp(true));
      const r = await h.upOk();
      assert.deepEqual(buildOps(r), ["broken update", "flaky update"]);
      const out = r.outputs as unknown as Record<string, BuildOut>;
      assert.equal(
        zlib.brotliDecompressSync(await ipfsClient.catBuffer(out.flaky.files[0].cid)).toString(),
        "built\n",
      );
      assert.equal(fs.readFileSync(path.join(marks, "count"), "utf8"), "run\n", "step 1 ran once");
      const again = await h.upOk();
      assert.deepEqual(buildOps(again), ["broken same", "flaky same"]);
    });
  });

  it("a git source builds at the commit its ref resolves to", async () => {
    const repo = path.join(dir, "git", "app");
    fs.mkdirSync(repo, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", repo, ...args])
        .toString()
        .trim();
    git("init", "-q", "-b", "main");
    fs.writeFileSync(path.join(repo, "msg"), "from git v1\n");
    git("add", "msg");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "v1");
    const commit = git("rev-parse", "HEAD");
    const treeDir = copyTree("gitsrc", {
      "g.yaml":
        `name: from-git\nsource: {git: 'file://${repo}', ref: main}\nbuild: {steps: ['cp msg out']}\n` +
        `outputs: [{from: out, to: /etc/msg}]\ntemplates: [apps/g]\nbranches: [master]\n`,
    });
    const h = harness("build-3", treeDir);
    try {
      const r = await h.upOk();
      const out = (r.outputs as unknown as Record<string, BuildOut>)["from-git"];
      assert.equal(out.sourceCommit, commit);
      assert.equal(
        zlib.brotliDecompressSync(await ipfsClient.catBuffer(out.files[0].cid)).toString(),
        "from git v1\n",
      );
      assert.equal(
        (await tb().exec(NODE, `git -C '${out.buildDir}/src' rev-parse HEAD`)).stdout.trim(),
        commit,
      );
      await h.destroyOk();
      assert.notEqual(
        (await tb().exec(NODE, `test -d '${out.buildDir}'`)).code,
        0,
        "destroy removes the build dir",
      );
    } finally {
      await h.close();
    }
  });
});
