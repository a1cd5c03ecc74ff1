/**
 * .ci/run's control flow, with `npm` replaced by a stub that records its calls: install, test,
 * always stop the testbed, and exit with npm test's status (or fail when stopping fails).
 * The apt phase is the real one; the test skips when a package is missing (it would install it).
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../testbed/state";

const CI_RUN = path.join(REPO_ROOT, ".ci", "run");

const NPM_STUB = `#!/bin/sh
echo "$*" >> "$NPM_STUB_LOG"
# What the g8os reporter writes (test/reporter.ts), per suite.
if [ -n "$G8OS_TEST_COUNTS_FILE" ] && [ -z "$NPM_NO_COUNTS" ]; then
  echo '{"passed":'"\${NPM_PASSED:-5}"',"failed":0,"skipped":1}' > "$G8OS_TEST_COUNTS_FILE"
fi
echo "stub npm $1: CI=$CI"
case "$1 $2" in
  "test "*) exit "\${NPM_TEST_STATUS:-0}" ;;
  "run test:vm") exit "\${NPM_VM_STATUS:-0}" ;;
  "run "*) exit "\${NPM_DOWN_STATUS:-0}" ;;
esac
exit 0
`;

function packagesInScript(): string[] {
  // .ci/run reads its packages from the one list it shares with `npm run sandbox`.
  assert.match(fs.readFileSync(CI_RUN, "utf8"), /scripts\/debian-packages\.txt/);
  const list = fs.readFileSync(
    path.join(path.dirname(CI_RUN), "..", "scripts", "debian-packages.txt"),
    "utf8",
  );
  return list
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
}

function allInstalled(pkgs: string[]): boolean {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}\\n", ...pkgs], { encoding: "utf8" });
  return (
    r.status === 0 &&
    r.stdout
      .trim()
      .split("\n")
      .every((l) => l === "install ok installed")
  );
}

describe(".ci/run", function () {
  this.timeout(60_000);
  let dir: string;

  before(function () {
    if (process.getuid?.() !== 0 || !allInstalled(packagesInScript())) {
      console.log("    (skipping: needs root and every package of .ci/run installed, else it would run apt)");
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8t-ci-"));
    fs.writeFileSync(path.join(dir, "npm"), NPM_STUB, { mode: 0o755 });
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function ciRun(env: Record<string, string>) {
    const log = path.join(dir, `calls-${Math.random().toString(36).slice(2)}.log`);
    const r = spawnSync("bash", [CI_RUN], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, NPM_STUB_LOG: log, ...env },
    });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
    return { code: r.status, out: r.stdout + r.stderr, calls };
  }

  it("installs, tests and stops the testbed, printing the time of each phase", () => {
    const r = ciRun({});
    assert.strictEqual(r.code, 0, r.out);
    assert.deepStrictEqual(r.calls, [
      "ci --no-audit --no-fund",
      "test",
      "run test:vm",
      "run --silent testbed -- down",
    ]);
    for (const p of ["apt", "npm ci", "npm test", "npm run test:vm", "testbed down"]) {
      assert.match(r.out, new RegExp(`\\[ci\\] ${p} took \\d+ s`));
    }
    assert.match(r.out, /already installed/);
    assert.match(r.out, /^\[ci\] npm test: 5 passed, 0 failed, 1 skipped \(status 0\)$/m);
    assert.match(r.out, /^\[ci\] npm run test:vm: 5 passed, 0 failed, 1 skipped \(status 0\)$/m);
  });

  it("runs both suites with CI set (a skipped testbed test then fails) and prints each one's counts", () => {
    const r = ciRun({ NPM_PASSED: "7", CI: "" });
    assert.strictEqual(r.code, 0, r.out);
    assert.match(r.out, /\[ci\] npm test: 7 passed, 0 failed, 1 skipped/);
    assert.match(r.out, /stub npm test: CI=1/);
    const noCounts = ciRun({ NPM_NO_COUNTS: "1", NPM_TEST_STATUS: "2" });
    assert.strictEqual(noCounts.code, 2, noCounts.out);
    assert.match(
      noCounts.out,
      /\[ci\] npm test: no counts \(the run ended before its reporter wrote them\) \(status 2\)/,
    );
  });

  it("stops the testbed even when the tests fail, and exits with their status", () => {
    const r = ciRun({ NPM_TEST_STATUS: "3" });
    assert.strictEqual(r.code, 3, r.out);
    assert.deepStrictEqual(r.calls.slice(-1), ["run --silent testbed -- down"]);
  });

  it("runs the real-VM suites too, and fails with their status when only they fail", () => {
    const r = ciRun({ NPM_VM_STATUS: "4" });
    assert.strictEqual(r.code, 4, r.out);
    assert.deepStrictEqual(r.calls.slice(-2), ["run test:vm", "run --silent testbed -- down"]);
  });

  it("fails when the tests pass but the testbed cannot be stopped", () => {
    const r = ciRun({ NPM_DOWN_STATUS: "1" });
    assert.strictEqual(r.code, 1, r.out);
    assert.match(r.out, /testbed down failed/);
  });
});
