/**
 * The benchmark runner (bench/index.ts): repetitions (>= 3), median and spread per figure, ratio
 * against the baseline of the same repetition, results.json merged per bench name, and the
 * generated section of docs/BENCHMARKS.md. Pure functions; no bench is run.
 */
import { strict as assert } from "assert";
import {
  DOC_BEGIN,
  DOC_END,
  mergeResults,
  parseArgs,
  renderTable,
  repeat,
  spread,
  summarize,
  updateDoc,
  type BenchResult,
} from "../bench/index";

const AT = "2026-12-01T22:00:00.000Z";
const MACHINE = "2 CPUs, 4 GiB, node v22";

describe("bench runner", function () {
  it("runs at least 3 times by default and refuses fewer", () => {
    assert.deepEqual(parseArgs([]), { runs: 3, only: [] });
    assert.deepEqual(parseArgs(["core0", "--runs", "5", "vms"]), { runs: 5, only: ["core0", "vms"] });
    assert.throws(() => parseArgs(["--runs", "2"]), /--runs 2: must be an integer >= 3/);
    assert.throws(() => parseArgs(["--runs", "x"]), /must be an integer >= 3/);
  });

  it("repeat calls the bench once per run and keeps the failed runs' messages", async () => {
    let n = 0;
    const r = await repeat(async () => {
      n++;
      if (n === 2) throw new Error("lease taken");
      return [{ name: "x", value: n, unit: "ms" }];
    }, 3);
    assert.equal(n, 3);
    assert.deepEqual(r.repetitions, [
      [{ name: "x", value: 1, unit: "ms" }],
      [{ name: "x", value: 3, unit: "ms" }],
    ]);
    assert.deepEqual(r.errors, ["run 2: lease taken"]);
  });

  it("median and min..max; even counts average the middle two", () => {
    assert.deepEqual(spread([5, 1, 3]), { median: 3, min: 1, max: 5 });
    assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
  });

  it("summarizes each figure over the runs: value, baseline and the per-run ratio", () => {
    const reps: BenchResult[][] = [
      [{ name: "two nodes vs one", value: 2000, unit: "ms", baseline: 4000, ratio: 2, note: "ideal 2x" }],
      [{ name: "two nodes vs one", value: 2500, unit: "ms", baseline: 4000, ratio: 1.6 }],
      [{ name: "two nodes vs one", value: 2200, unit: "ms", baseline: 4600, ratio: 4600 / 2200 }],
    ];
    const [s] = summarize("build-tests", reps, [], AT, MACHINE);
    assert.equal(s.runs, 3);
    assert.deepEqual(s.value, { median: 2200, min: 2000, max: 2500 });
    assert.deepEqual(s.baseline, { median: 4000, min: 4000, max: 4600 });
    // The ratio is taken within each run (its own baseline), then summarized: not median/median.
    assert.deepEqual(s.ratio, { median: 2, min: 1.6, max: 4600 / 2200 });
    assert.equal(Math.round(s.spreadPct), Math.round((500 / 2200) * 100));
    assert.equal(s.note, "ideal 2x");
    // Without an explicit ratio, value / baseline.
    const [t] = summarize("m", [[{ name: "a", value: 3, unit: "s", baseline: 6 }]], [], AT, MACHINE);
    assert.deepEqual(t.ratio, { median: 0.5, min: 0.5, max: 0.5 });
  });

  it("a failed run adds a FAILED entry with the messages", () => {
    const out = summarize("core0", [], ["run 1: boom", "run 2: boom"], AT, MACHINE);
    assert.equal(out.length, 1);
    assert.equal(out[0].name, "FAILED");
    assert.equal(out[0].error, "run 1: boom | run 2: boom");
  });

  it("results.json merges per bench name: re-run modules replace their figures, others stay", () => {
    const old = mergeResults({ benches: {} }, [
      ...summarize("core0", [[{ name: "cmd/s", value: 100, unit: "cmd/s" }]], [], AT, MACHINE),
      ...summarize("vms", [], ["run 1: no KVM"], AT, MACHINE),
    ]);
    const fresh = summarize(
      "vms",
      [[{ name: "4 vs 1", value: 20, unit: "s", baseline: 21 }]],
      [],
      AT,
      MACHINE,
    );
    const merged = mergeResults(old, fresh);
    assert.deepEqual(Object.keys(merged.benches), ["core0: cmd/s", "vms: 4 vs 1"]);
    assert.equal(merged.benches["core0: cmd/s"].value.median, 100);
  });

  it("BENCHMARKS.md: the generated section is replaced in place, or appended once", () => {
    const results = mergeResults({ benches: {} }, [
      ...summarize(
        "core0",
        [1, 2, 3].map((v) => [{ name: "a|b", value: 10 * v, unit: "ms", baseline: 40, ratio: 4 / v }]),
        [],
        AT,
        MACHINE,
      ),
    ]);
    const table = renderTable(results);
    assert.match(
      table,
      /^\| core0 \| a\\\|b \| 20\.0 \(10\.0\.\.30\.0\) \| ms \| 40\.0 \| 2\.00x \(1\.33\.\.4\.00\) \| 3 \| 2026-12-01, 2 CPUs/m,
    );
    const first = updateDoc("# Benchmarks\n\nhand-written text\n", results);
    assert.ok(first.startsWith("# Benchmarks\n\nhand-written text\n"));
    assert.equal(first.split(DOC_BEGIN).length, 2);
    const again = updateDoc(first.replace("20.0", "99.9"), results);
    assert.equal(again, first, "rewritten from results.json, nothing duplicated");
    assert.ok(again.includes(DOC_END));
  });
});
