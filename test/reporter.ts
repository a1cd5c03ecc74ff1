/**
 * Mocha reporter for g8os: the spec output, then a plain `N passed, N failed, N skipped` line and
 * the titles of skipped tests. With G8OS_TEST_COUNTS_FILE set it also writes the counts there as
 * JSON (.ci/run prints both suites' counts from it). Last, the wall time of the slowest test files
 * (hooks included), so a CI log shows where its minutes went.
 *
 * CI cannot pass by skipping: as root with CI or G8OS_NO_SKIP set, a skipped test of a suite that
 * needs the testbed or real VMs (its file is in one of TESTBED_DIRS, or calls `useTestbed(` or uses
 * the libvirt testbed) makes the run fail. Other skips (and every skip of a non-root developer,
 * who cannot run the testbed) stay skips.
 */
import * as fs from "fs";
import * as Mocha from "mocha";
import * as path from "path";
import { needsTestbed, noSkipPolicy } from "./skip-policy";

const SLOWEST_FILES = 15;

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  /** Skipped tests whose suite needs the testbed, counted as failures under the no-skip policy. */
  skippedTestbed: number;
}

class G8osReporter extends Mocha.reporters.Spec {
  private readonly skippedTitles: { title: string; testbed: boolean }[] = [];
  private passed = 0;
  private failed = 0;
  /** Wall time per test file, in ms, summed over its top-level suites. */
  private readonly fileMs = new Map<string, number>();
  private readonly suiteStart = new Map<Mocha.Suite, number>();

  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, () => this.passed++);
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, () => this.failed++);
    runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, (t: Mocha.Test) =>
      this.skippedTitles.push({ title: t.fullTitle(), testbed: needsTestbed(t.file) }),
    );
    runner.on(Mocha.Runner.constants.EVENT_SUITE_BEGIN, (s: Mocha.Suite) => {
      if (s.parent?.root && s.file) this.suiteStart.set(s, Date.now());
    });
    runner.on(Mocha.Runner.constants.EVENT_SUITE_END, (s: Mocha.Suite) => {
      const start = this.suiteStart.get(s);
      if (start === undefined || !s.file) return;
      const file = path.relative(process.cwd(), s.file);
      this.fileMs.set(file, (this.fileMs.get(file) ?? 0) + Date.now() - start);
    });
  }

  /** Mocha calls this with its failure count and exits with what we pass on. */
  done(failures: number, fn?: (failures: number) => void): void {
    const counts: Counts = {
      passed: this.passed,
      failed: this.failed,
      skipped: this.skippedTitles.length,
      skippedTestbed: this.skippedTitles.filter((s) => s.testbed).length,
    };
    const strict = noSkipPolicy();
    for (const s of this.skippedTitles) {
      const mark = strict && s.testbed ? "SKIPPED (fails the run: root with CI/G8OS_NO_SKIP)" : "skipped";
      console.log(`  ${mark}: ${s.title}`);
    }
    const slowest = [...this.fileMs].sort((a, b) => b[1] - a[1]).slice(0, SLOWEST_FILES);
    if (slowest.length > 1) {
      console.log("slowest test files (wall time, hooks included):");
      for (const [file, ms] of slowest) console.log(`  ${(ms / 1000).toFixed(0).padStart(5)} s  ${file}`);
    }
    console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    const file = process.env.G8OS_TEST_COUNTS_FILE;
    if (file) fs.writeFileSync(file, JSON.stringify(counts) + "\n");
    const extra = strict ? counts.skippedTestbed : 0;
    if (extra) {
      console.log(
        `${extra} testbed/VM test(s) skipped as root in CI: failing the run. ` +
          "Fix what made them skip (missing tool, KVM group, testbed lease), or unset CI/G8OS_NO_SKIP locally.",
      );
    }
    fn?.(failures + extra);
  }
}

export = G8osReporter;
