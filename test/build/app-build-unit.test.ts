/**
 * AppBuild without a build node: build identity, source resolution, check failures, and that
 * diff/update of an unchanged build make no remote call.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  type AppBuildOutputs,
  appBuildProvider,
  computeBuildId,
  loadBuildTree,
  resolveSourceCommit,
} from "../../workflows";

const FIXTURES = path.join(__dirname, "fixtures");
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

describe("build: AppBuild identity and no-op paths", () => {
  let dir: string;
  const tree = () => loadBuildTree(path.join(FIXTURES, "tree"));
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-app-build-unit-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("buildId depends on the commit, steps and outputs only", () => {
    const spec = tree().apps[0];
    const id = computeBuildId("a".repeat(40), spec);
    assert.match(id, /^[0-9a-f]{64}$/);
    // Key order does not matter; tests, processes, templates do not count.
    const reversed = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).reverse()) as T;
    const reordered = { outputs: spec.outputs.map(reversed), steps: spec.steps.map(reversed) };
    assert.equal(computeBuildId("a".repeat(40), reordered), id);
    const otherTests = { ...spec, tests: [], templates: ["x"] };
    assert.equal(computeBuildId("a".repeat(40), otherTests), id);
    assert.notEqual(computeBuildId("b".repeat(40), spec), id);
    assert.notEqual(
      computeBuildId("a".repeat(40), { ...spec, steps: [{ ...spec.steps[0], run: "make -j2" }] }),
      id,
    );
    assert.notEqual(
      computeBuildId("a".repeat(40), { ...spec, outputs: [{ ...spec.outputs[0], mode: "0700" }] }),
      id,
    );
  });

  it("a local source hashes its content: same bytes anywhere = same hash; content or exec bit changes it", async () => {
    const copy = (name: string) => {
      const d = path.join(dir, name);
      fs.cpSync(path.join(FIXTURES, "apps", "hello-sh"), d, { recursive: true });
      return d;
    };
    const spec = (p: string) => ({ ...tree().apps[1], source: { path: p } });
    const a = copy("a");
    const b = copy("b");
    const ha = await resolveSourceCommit(spec(a));
    assert.match(ha, /^[0-9a-f]{64}$/);
    assert.equal(await resolveSourceCommit(spec(b)), ha);
    fs.mkdirSync(path.join(b, ".git"));
    fs.writeFileSync(path.join(b, ".git", "HEAD"), "x");
    assert.equal(await resolveSourceCommit(spec(b)), ha, ".git is not source");
    fs.chmodSync(path.join(b, "hello.sh"), 0o755);
    const hx = await resolveSourceCommit(spec(b));
    assert.notEqual(hx, ha);
    fs.appendFileSync(path.join(b, "VERSION"), "more\n");
    assert.notEqual(await resolveSourceCommit(spec(b)), hx);
  });

  it("check names each bad field", async () => {
    const spec = tree().apps[0];
    const r = await appBuildProvider.check!(
      {},
      {
        app: "other",
        spec: { ...spec, outputs: [{ from: "../x", to: "rel" }] },
        buildNode: { addresses: [], privateKeys: ["nope"] },
        ipfsApiUrl: "ftp://x",
        sourceCommit: "main",
      },
    );
    assert.deepEqual(r.failures!.map((f) => f.property).sort(), [
      "app",
      "buildNode.addresses",
      "buildNode.privateKeys[0]",
      "ipfsApiUrl",
      "sourceCommit",
      "spec.outputs[0].from",
      "spec.outputs[0].to",
    ]);
    assert.match(r.failures!.find((f) => f.property === "sourceCommit")!.reason, /resolveSourceCommit/);
  });

  it("check refuses an output path a core0 v0.9.0 plist line cannot hold (| or line break)", async () => {
    const spec = tree().apps[0];
    for (const to of ["/usr/bin/a|b", "/usr/bin/a\nb"]) {
      const r = await appBuildProvider.check!(
        {},
        {
          app: spec.name,
          spec: { ...spec, outputs: [{ from: "x", to }] },
          buildNode: { addresses: [{ host: "127.0.0.1" }], privateKeys: [KEY] },
          ipfsApiUrl: "http://127.0.0.1:5001",
          sourceCommit: "a".repeat(40),
        },
      );
      assert.deepEqual(
        r.failures!.map((f) => f.property),
        ["spec.outputs[0].to"],
        JSON.stringify(r.failures),
      );
      assert.match(r.failures![0].reason, /must not contain \| or a line break/);
    }
    const ok = await appBuildProvider.check!(
      {},
      {
        app: spec.name,
        spec: { ...spec, outputs: [{ from: "x", to: "/usr/share/my app/read me" }] },
        buildNode: { addresses: [{ host: "127.0.0.1" }], privateKeys: [KEY] },
        ipfsApiUrl: "http://127.0.0.1:5001",
        sourceCommit: "a".repeat(40),
      },
    );
    assert.deepEqual(ok.failures, [], "spaces are fine");
  });

  it("unchanged build: diff says no change; non-build changes update with no remote call; a cut build resumes", async () => {
    const spec = tree().apps[0];
    const inputs = {
      app: spec.name,
      spec,
      buildNode: { addresses: [{ host: "10.213.0.99" }], privateKeys: [KEY] },
      ipfsApiUrl: "http://127.0.0.1:1",
      sourceCommit: "c".repeat(40),
    };
    const checked = (await appBuildProvider.check!({}, inputs)).inputs as AppBuildOutputs;
    assert.equal(checked.buildId, computeBuildId("c".repeat(40), spec));
    const built: AppBuildOutputs = {
      ...checked,
      plist: "# plist\n",
      plistCid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
      files: [],
      buildDir: `/root/g8os-builds/${checked.buildId}`,
      logFile: "/tmp/x.log",
    };
    assert.equal((await appBuildProvider.diff!("id", built, checked)).changes, false);

    const traceFile = path.join(dir, "trace");
    fs.writeFileSync(traceFile, "");
    process.env.G8OS_TRACE_FILE = traceFile;
    try {
      const newTests = { ...spec, tests: [] };
      const rechecked = (await appBuildProvider.check!(built, { ...inputs, spec: newTests }))
        .inputs as AppBuildOutputs;
      assert.equal(rechecked.buildId, built.buildId);
      assert.equal(
        (await appBuildProvider.diff!("id", built, rechecked)).changes,
        true,
        "records the new spec",
      );
      // The node and IPFS are unreachable addresses: any remote call would fail this update.
      const { outs } = await appBuildProvider.update!("id", built, rechecked);
      assert.equal(outs.plistCid, built.plistCid);
      assert.deepEqual(outs.spec.tests, []);
    } finally {
      delete process.env.G8OS_TRACE_FILE;
    }
    assert.equal(fs.readFileSync(traceFile, "utf8"), "", "no remote call");
    // A build cut off half-way (no plistCid) is a change even with the same inputs.
    assert.equal((await appBuildProvider.diff!("id", { ...built, plistCid: "" }, checked)).changes, true);
  });
});
