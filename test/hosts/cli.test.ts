/**
 * The testbed CLI's argument handling and its refusal to run without root, as a user sees them.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { parseHostCount, isRoot } from "../testbed";
import { parseArgs } from "../testbed/cli";
import { macFor } from "../testbed/network";
import { REPO_ROOT } from "../testbed/state";
import { TS_REGISTER } from "../ts-register-path";

/** Runs the CLI as a separate process (as `npm run testbed` does), optionally as user nobody. */
function cli(args: string[], asNobody = false) {
  const node = process.execPath;
  const argv = ["-r", TS_REGISTER, path.join(REPO_ROOT, "test/testbed/cli.ts"), ...args];
  const [cmd, cmdArgs] = asNobody
    ? ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", node, ...argv]]
    : [node, argv];
  const r = spawnSync(cmd as string, cmdArgs as string[], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe("testbed CLI", function () {
  this.timeout(60_000);

  it("parses up/down/status and their options", () => {
    assert.deepStrictEqual(parseArgs(["up", "--hosts=3", "--services", "redis, ipfs"]), {
      command: "up",
      ensure: { hosts: 3, services: ["redis", "ipfs"] },
      json: false,
    });
    assert.deepStrictEqual(parseArgs(["status", "--json"]), { command: "status", ensure: {}, json: true });
    assert.throws(() => parseArgs(["down", "--hosts", "2"]), /unknown option "--hosts" for down/);
    assert.throws(() => parseArgs(["up", "--hosts"]), /--hosts needs a value/);
  });

  it("rejects a bad host count naming the source and the allowed range", () => {
    assert.strictEqual(parseHostCount(undefined, "G8OS_TESTBED_HOSTS"), 4);
    assert.strictEqual(parseHostCount("7", "G8OS_TESTBED_HOSTS"), 7);
    for (const bad of ["0", "41", "2.5", "four"]) {
      assert.throws(
        () => parseHostCount(bad, "G8OS_TESTBED_HOSTS"),
        new RegExp(`G8OS_TESTBED_HOSTS: "${bad}" is not a whole number from 1 to 40`),
      );
    }
  });

  it("derives fixed MACs from addresses (re-created hosts keep theirs)", () => {
    assert.strictEqual(macFor("10.213.0.11"), "02:00:0a:d5:00:0b");
    assert.strictEqual(macFor("10.214.0.254"), "02:00:0a:d6:00:fe");
  });

  it("exits 2 with the usage on an unknown command or a bad option", () => {
    const unknown = cli(["start"]);
    assert.strictEqual(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "start"[\s\S]*usage: npm run testbed -- <command>/);
    const badHosts = cli(["up", "--hosts", "99"]);
    assert.strictEqual(badHosts.code, 2);
    assert.match(badHosts.stderr, /--hosts: "99" is not a whole number from 1 to 40/);
  });

  it("refuses to run without root, saying why and how to run it", () => {
    const r = cli(["status"], isRoot());
    assert.strictEqual(r.code, 1, r.stderr);
    assert.match(r.stderr, /the g8os testbed needs root: it creates network namespaces/);
    assert.match(r.stderr, /sudo npm run testbed -- up/);
  });
});
