/**
 * When a skipped test must fail the run (so CI cannot pass by skipping): used by the reporter
 * (test/reporter.ts) and by the testbed helpers' own skips (test/testbed).
 */
import * as fs from "fs";
import * as path from "path";

/** Folders whose suites all need the testbed or real guests (as docs/ARCHITECTURE.md lists them). */
const TESTBED_DIRS = ["test/build-host/", "test/hosts/", "test/libvirt/", "test/vm/"];
export const REPO_ROOT = path.resolve(__dirname, "..");

/** True when skips must fail the run: root, and CI or G8OS_NO_SKIP set (non-empty, not "0"). */
export function noSkipPolicy(env: NodeJS.ProcessEnv = process.env): boolean {
  const on = (v: string | undefined) => !!v && v !== "0" && v !== "false";
  return (
    typeof process.getuid === "function" && process.getuid() === 0 && (on(env.CI) || on(env.G8OS_NO_SKIP))
  );
}

/** Does this test file need the testbed (so that skipping it hides a broken environment)? */
export function needsTestbed(file: string | undefined): boolean {
  if (!file) return false;
  const rel = path.relative(REPO_ROOT, file).split(path.sep).join("/");
  if (TESTBED_DIRS.some((d) => rel.startsWith(d))) return true;
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.includes("useTestbed(") || text.includes("testbed/libvirt");
  } catch {
    return false;
  }
}

/**
 * Skips the running test or hook with `reason`, or, under the no-skip policy, throws instead so
 * the suite fails with the reason (root in CI must run every testbed suite).
 */
export function skipOrFail(ctx: Mocha.Context, what: string, reason: string): never {
  if (noSkipPolicy()) {
    throw new Error(
      `${what} would be skipped (${reason}), but as root with CI or G8OS_NO_SKIP set a skip fails the run. ` +
        "Fix the cause, or unset CI/G8OS_NO_SKIP to skip locally.",
    );
  }
  console.log(`    (skipping "${what}": ${reason})`);
  ctx.skip();
}
