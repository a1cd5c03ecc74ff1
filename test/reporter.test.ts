/**
 * The g8os mocha reporter (test/reporter.ts) and the skip policy (test/skip-policy.ts): counts
 * line, counts file, and "CI cannot pass by skipping" (root + CI/G8OS_NO_SKIP: a skipped testbed
 * test fails the run; other skips and non-root runs stay skips). Runs mocha on fixture files in a
 * temp dir; no testbed.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const MOCHA = path.join(ROOT, "node_modules", "mocha", "bin", "mocha.js");
const isRoot = process.getuid?.() === 0;

describe("test reporter and the no-skip policy", function () {
  this.timeout(60_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-reporter-"));
    // A suite "needing the testbed" (its text names the helper, as the policy detects it).
    fs.writeFileSync(
      path.join(dir, "tb.test.js"),
      [
        "// uses useTestbed( in the real suites",
        "describe('tb', function () {",
        "  it('runs', () => {});",
        "  it('skips', function () { this.skip(); });",
        "});",
      ].join("\n"),
    );
    fs.writeFileSync(
      path.join(dir, "plain.test.js"),
      "describe('plain', function () { it('ok', () => {}); it('skips', function () { this.skip(); }); it('fails', () => { throw new Error('boom'); }); });\n",
    );
    fs.writeFileSync(
      path.join(dir, "policy.test.js"),
      [
        `const { skipOrFail } = require(${JSON.stringify(path.join(ROOT, "test", "skip-policy.ts"))});`,
        "describe('helper', function () {",
        "  before(function () { skipOrFail(this, 'helper suite', 'no KVM group'); });",
        "  it('never runs when skipped', () => {});",
        "});",
      ].join("\n"),
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function mocha(files: string[], env: Record<string, string>) {
    const counts = path.join(dir, `counts-${Math.random().toString(36).slice(2)}.json`);
    const clean: NodeJS.ProcessEnv = { ...process.env };
    delete clean.CI;
    delete clean.G8OS_NO_SKIP;
    const r = spawnSync(
      process.execPath,
      [
        MOCHA,
        "--no-config",
        "--require",
        "ts-node/register/transpile-only",
        "--reporter",
        path.join(ROOT, "test", "reporter.ts"),
        ...files.map((f) => path.join(dir, f)),
      ],
      { cwd: ROOT, encoding: "utf8", env: { ...clean, G8OS_TEST_COUNTS_FILE: counts, ...env } },
    );
    const countsJson = fs.existsSync(counts) ? JSON.parse(fs.readFileSync(counts, "utf8")) : undefined;
    return { code: r.status, out: r.stdout + r.stderr, counts: countsJson };
  }

  it("prints the spec output and a plain 'N passed, N failed, N skipped' line, and writes the counts", () => {
    const r = mocha(["tb.test.js", "plain.test.js"], {});
    assert.match(r.out, /✔ runs/, "spec output kept");
    assert.match(r.out, /^2 passed, 1 failed, 2 skipped$/m);
    assert.match(r.out, /skipped: plain skips/);
    assert.deepEqual(r.counts, { passed: 2, failed: 1, skipped: 2, skippedTestbed: 1 });
    assert.equal(r.code, 1, "mocha's own failure count");
    const slowest = r.out.split("slowest test files (wall time, hooks included):\n")[1] ?? "";
    for (const f of ["tb.test.js", "plain.test.js"]) {
      assert.match(slowest, new RegExp(`^ +\\d+ s  .*${f.replace(".", "\\.")}$`, "m"), `${f} timed`);
    }
  });

  it("without CI/G8OS_NO_SKIP a skipped testbed test is a skip", () => {
    const r = mocha(["tb.test.js"], {});
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^1 passed, 0 failed, 1 skipped$/m);
  });

  it("as root with G8OS_NO_SKIP (or CI) a skipped testbed test fails the run; other skips do not", function () {
    for (const env of [{ G8OS_NO_SKIP: "1" }, { CI: "true" }] as Record<string, string>[]) {
      const r = mocha(["tb.test.js"], env);
      if (!isRoot) {
        assert.equal(r.code, 0, "a non-root developer keeps skipping");
        continue;
      }
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /SKIPPED \(fails the run: root with CI\/G8OS_NO_SKIP\): tb skips/);
      assert.match(r.out, /1 testbed\/VM test\(s\) skipped as root in CI: failing the run/);
    }
    const plain = mocha(["plain.test.js"], { G8OS_NO_SKIP: "1" });
    assert.equal(plain.code, 1, "only the real failure counts");
    assert.equal(mocha(["tb.test.js"], { G8OS_NO_SKIP: "0" }).code, 0, "G8OS_NO_SKIP=0 is off");
  });

  it("skipOrFail: a skip without the policy, a failure naming the reason with it (as root)", function () {
    const off = mocha(["policy.test.js"], {});
    assert.equal(off.code, 0, off.out);
    assert.match(off.out, /skipping "helper suite": no KVM group/);
    assert.match(off.out, /^0 passed, 0 failed, 1 skipped$/m);
    const on = mocha(["policy.test.js"], { G8OS_NO_SKIP: "1" });
    if (!isRoot) return assert.equal(on.code, 0);
    assert.equal(on.code, 1, on.out);
    assert.match(
      on.out,
      /helper suite would be skipped \(no KVM group\), but as root with CI or G8OS_NO_SKIP set/,
    );
    assert.match(on.out, /^0 passed, 1 failed, 0 skipped$/m);
  });
});
