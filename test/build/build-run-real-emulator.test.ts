/**
 * The build-run e2e's sample apps (test/build/fixtures/run-tree) against a chrooted core0 v0.9.0
 * container, without the testbed: each app's build steps run here (`sh -c` in a copy of its source,
 * as AppBuild runs them on the build node), its outputs go into a real offline js-ipfs the way
 * AppBuild stores them (brotli content, plist of the outputs plus `/proc`), and AppTest runs the
 * tree's processes and tests (through BuildRun's `appUnderTest`) on the core0 emulator, which runs
 * them chrooted in the plist root like the real node.
 * This is what build-run-real.test.ts (testbed) relies on: the apps carry their own shell, tools,
 * loader and libc (the `runtime` build step), because nothing of the node is visible in a container.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { appUnderTest } from "../../components/build-run";
import { runAppTests } from "../../workflows/app-test";
import { type AppSpec, loadBuildTree } from "../../workflows/app-tree";
import { IpfsClient } from "../../providers/ipfs/client";
import {
  coreXRequiredEntries,
  FILETYPE_FILE,
  type PlistEntry,
  serializePlist,
  storeBrotli,
} from "../../providers/plist";
import { type Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { ipfsAdd, type IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import { type IpfsGateway, startIpfsGateway } from "./programs/fixtures";

const FIXTURES = path.join(__dirname, "fixtures");
const RUNTIME = /^\/(bin|lib|lib64)\//;

describe("build: the run-tree sample apps, built here, tested chrooted on the core0 emulator", function () {
  this.timeout(180_000);
  const password = "run-tree-" + process.pid;
  let ipfs: IpfsDaemon;
  let gateway: IpfsGateway;
  let node: Core0Emulator;
  let work: string;
  let apps: AppSpec[];
  const entriesOf: Record<string, PlistEntry[]> = {};

  /** Runs the app's build steps in a copy of its source; returns its outputs as plist entries. */
  const build = async (app: AppSpec): Promise<PlistEntry[]> => {
    const src = path.join(work, app.name);
    fs.cpSync(app.source.path!, src, { recursive: true });
    for (const s of app.steps) execFileSync("sh", ["-c", s.run], { cwd: src, stdio: "pipe" });
    const client = new IpfsClient(ipfs.apiUrl);
    const entries: PlistEntry[] = [];
    for (const o of app.outputs) {
      const abs = path.join(src, o.from);
      const st = fs.statSync(abs);
      const stored = await storeBrotli(fs.createReadStream(abs), (c) => client.addStream(c));
      entries.push({
        path: o.to,
        hash: stored.cid,
        size: st.size,
        uname: "root",
        gname: "root",
        mode: o.mode ? parseInt(o.mode, 8) : st.mode & 0o7777,
        type: FILETYPE_FILE,
        ctime: Math.floor(st.ctimeMs / 1000),
        mtime: Math.floor(st.mtimeMs / 1000),
        extended: "",
      });
    }
    return entries;
  };
  /** Adds the plist of `entries` (plus /proc, sorted, as AppBuild writes it); returns its CID. */
  const plistCid = async (entries: PlistEntry[]): Promise<string> => {
    const all = [...entries, ...coreXRequiredEntries(entries, Math.floor(Date.now() / 1000))];
    all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return ipfsAdd(ipfs.apiUrl, serializePlist(all), "plist");
  };

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-run-tree-"));
    ipfs = await startIpfsDaemon();
    gateway = await startIpfsGateway(ipfs.apiUrl);
    node = await startCore0Emulator({ password, ipfsApi: ipfs.apiUrl });
    apps = loadBuildTree(path.join(FIXTURES, "run-tree"), { knownBranches: ["master", "stable"] }).apps;
    for (const a of apps) entriesOf[a.name] = await build(a);
  });
  after(async () => {
    await node?.stop();
    await gateway?.stop();
    await ipfs?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const nodes = () => [{ address: node.address, port: node.port, password, ipfsGateway: gateway.url }];

  it("every app passes its tests in a chrooted container, and no container is left", async () => {
    const under = [];
    for (const a of apps) {
      under.push(
        appUnderTest(a, { buildId: `${a.name}-local`, plistCid: await plistCid(entriesOf[a.name]) }),
      );
    }
    const results = await runAppTests(under, nodes(), { maxPerNode: 3 });
    assert.deepEqual(
      results.map((r) => [r.app, r.passed, r.errors, r.tests.filter((t) => !t.passed).map((t) => t.reason)]),
      apps.map((a) => [a.name, true, [], []]),
      JSON.stringify(results, null, 1),
    );
    assert.deepEqual(
      results.map((r) => r.tests.length),
      apps.map((a) => a.tests.length),
    );
    assert.equal(node.containerCount(), 0);
  });

  it("without the runtime outputs nothing can start: the container sees only its plist", async () => {
    const a = apps.find((x) => x.name === "hello-sh")!;
    const cid = await plistCid(entriesOf[a.name].filter((e) => !RUNTIME.test(e.path)));
    const [r] = await runAppTests([appUnderTest(a, { buildId: "bare", plistCid: cid })], nodes());
    assert.equal(r.passed, false);
    assert.match(r.errors.join("\n"), /process main: did not start \(state ERROR: .*\/bin\/sh/);
    for (const t of r.tests) assert.match(t.reason, /could not start: .*the container is chrooted/);
    assert.equal(node.containerCount(), 0);
  });
});
