/**
 * The benchmark runner (bench/index.ts): repetitions (>= 3), median and spread per figure, ratio
 * against the baseline of the same repetition, results.json merged per bench name, and the
 * generated section of docs/BENCHMARKS.md; and the helpers every bench shares (bench/lib/setup.ts):
 * teardown order, trace files, percentiles, child processes reporting their own peak RSS.
 * No bench is run (no testbed, no network: the child processes are local scripts).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  benchModules,
  DOC_BEGIN,
  DOC_END,
  mergeResults,
  parseArgs,
  renderTable,
  repeat,
  selectModules,
  spread,
  summarize,
  updateDoc,
  type BenchResult,
} from "../bench/index";
import { peakRssFigure } from "../bench/lib/push-child";
import {
  peakRssKiB,
  percentile,
  readTrace,
  requireRoot,
  runChild,
  Scope,
  traceFile,
  tracedInProcess,
  withScope,
} from "../bench/lib/setup";

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

  it("a repetition without figures, or with a figure that is not a number, is a failed run", async () => {
    let n = 0;
    const r = await repeat(async () => {
      n++;
      if (n === 1) return []; // a bench that skipped
      return [
        { name: "kept", value: n, unit: "ms" },
        { name: "skipped figure", value: NaN, unit: "" },
      ];
    }, 3);
    assert.deepEqual(r.errors, [
      "run 1: the bench returned no figures",
      "run 2: skipped figure: value NaN is not a measurement",
      "run 3: skipped figure: value NaN is not a measurement",
    ]);
    assert.deepEqual(r.repetitions, [
      [{ name: "kept", value: 2, unit: "ms" }],
      [{ name: "kept", value: 3, unit: "ms" }],
    ]);
    const out = summarize("vms", r.repetitions, r.errors, AT, MACHINE);
    assert.deepEqual(
      out.map((s) => s.name),
      ["kept", "FAILED"],
    );
  });

  it("modules: every bench/*.ts but index.ts, helpers in bench/lib/ excluded; unknown names refused", () => {
    const all = benchModules(path.join(__dirname, "..", "bench"));
    assert.deepEqual(all, [
      "build-host",
      "build-ipfs",
      "build-tests",
      "cockpit",
      "core0",
      "grid",
      "libvirt",
      "vm-zerotier",
      "vms",
    ]);
    for (const m of all) {
      const mod = require(path.join(__dirname, "..", "bench", m)) as { run?: unknown };
      assert.equal(typeof mod.run, "function", `bench/${m}.ts exports run()`);
    }
    assert.deepEqual(selectModules(all, []), all);
    assert.deepEqual(selectModules(all, ["vms", "core0"]), ["core0", "vms"]);
    assert.throws(
      () => selectModules(all, ["core0", "setup"]),
      /no bench module setup in bench\/; the modules are: build-host, build-ipfs/,
    );
  });

  it("testbed benches fail instead of skipping when not root", () => {
    const real = process.getuid;
    process.getuid = () => 1000;
    try {
      assert.throws(
        () => requireRoot("vms", "the libvirt testbed"),
        /^Error: vms: needs root \(the libvirt testbed\)/,
      );
    } finally {
      process.getuid = real;
    }
    if (real?.() === 0) requireRoot("vms", "the libvirt testbed");
  });
});

describe("bench helpers (bench/lib)", function () {
  this.timeout(60_000);

  it("Scope stops in reverse order, runs every teardown when one fails, then throws the first failure", async () => {
    const order: string[] = [];
    const s = new Scope();
    const dir = s.tmpDir("g8os-bench-runner-test-");
    assert.equal(await s.add(Promise.resolve("a"), (v) => order.push(`stop ${v}`)), "a");
    s.defer(() => {
      order.push("defer");
      throw new Error("teardown failed");
    });
    await s.add("c", (v) => order.push(`stop ${v}`));
    await assert.rejects(() => s.close(), /teardown failed/);
    assert.deepEqual(order, ["stop c", "defer", "stop a"]);
    assert.equal(fs.existsSync(dir), false, "the temporary directory is removed");
    await s.close(); // a second close has nothing left to stop
    assert.equal(order.length, 3);
  });

  it("withScope closes on success and on failure; the bench's own error wins over a teardown's", async () => {
    const stopped: string[] = [];
    assert.equal(
      await withScope(async (s) => {
        await s.add(1, () => stopped.push("ok"));
        return 42;
      }),
      42,
    );
    await assert.rejects(
      () =>
        withScope(async (s) => {
          s.defer(() => {
            stopped.push("failing teardown");
            throw new Error("teardown");
          });
          throw new Error("bench failed");
        }),
      /bench failed/,
    );
    assert.deepEqual(stopped, ["ok", "failing teardown"]);
  });

  it("percentile is the nearest rank", () => {
    const xs = Array.from({ length: 20 }, (_, i) => i + 1);
    assert.equal(percentile(xs, 50), 10);
    assert.equal(percentile(xs, 99), 20);
    assert.equal(percentile(xs, 0), 1);
    assert.equal(percentile([7], 99), 7);
    assert.throws(() => percentile([], 50), /empty/);
  });

  it("trace files: read returns the calls since the last read; in-process tracing restores G8OS_TRACE_FILE", async () => {
    await withScope(async (s) => {
      const t = traceFile(s, "unit");
      fs.appendFileSync(t.path, JSON.stringify({ t: 1, system: "ssh", op: "exec", write: true }) + "\n");
      assert.deepEqual(t.read(), [{ t: 1, system: "ssh", op: "exec", write: true }]);
      assert.deepEqual(t.read(), []);
      assert.deepEqual(readTrace(path.join(os.tmpdir(), "g8os-no-such-trace.jsonl")), []);
      const before = process.env.G8OS_TRACE_FILE;
      const { trace } = require("../providers/shared/trace") as typeof import("../providers/shared/trace");
      const r = await tracedInProcess(s, "inproc", async () => {
        trace({ system: "ipfs", op: "add", write: true, target: "http://127.0.0.1:1" });
        return "done";
      });
      assert.equal(r.value, "done");
      assert.deepEqual(
        r.calls.map((c) => [c.system, c.op, c.write, c.target]),
        [["ipfs", "add", true, "http://127.0.0.1:1"]],
      );
      assert.equal(process.env.G8OS_TRACE_FILE, before);
    });
  });

  it("a child process reports its own peak RSS (VmHWM), which follows what it touched", async () => {
    await withScope(async (s) => {
      const dir = s.tmpDir("g8os-bench-child-");
      const script = path.join(dir, "alloc.js");
      fs.writeFileSync(
        script,
        `const { peakRssKiB } = require(${JSON.stringify(path.join(__dirname, "..", "bench", "lib", "setup"))});\n` +
          "const keep = Buffer.alloc(Number(process.env.ALLOC_MIB) * 2 ** 20, 1);\n" +
          "console.log('log line first');\n" +
          "console.log(JSON.stringify({ peak: peakRssKiB(), bytes: keep.length }));\n",
      );
      // A first child fills the transpile cache, so neither measured child loads TypeScript.
      await runChild<{ peak: number }>(script, { ALLOC_MIB: "1" });
      const small = await runChild<{ peak: number; bytes: number }>(script, { ALLOC_MIB: "1" });
      const big = await runChild<{ peak: number; bytes: number }>(script, { ALLOC_MIB: "200" });
      assert.equal(big.bytes, 200 * 2 ** 20);
      assert.ok(big.seconds > 0);
      // The 200 MiB child's own peak is at least ~199 MiB above the 1 MiB child's.
      assert.ok(big.peak - small.peak >= 190 * 1024, `peaks ${small.peak} KiB vs ${big.peak} KiB`);
      assert.ok(peakRssKiB() > 0);
      const f = peakRssFigure("x", big.peak, small.peak);
      assert.equal(f.unit, "MiB");
      assert.equal(f.ratio, big.peak / small.peak);
      assert.equal(f.value, big.peak / 1024);

      const failing = path.join(dir, "fail.js");
      fs.writeFileSync(failing, "console.error('no IPFS API'); process.exit(3);\n");
      await assert.rejects(() => runChild(failing, {}), /bench child fail\.js exited 3: no IPFS API/);
      const silent = path.join(dir, "silent.js");
      fs.writeFileSync(silent, "console.log('not json');\n");
      await assert.rejects(
        () => runChild(silent, {}),
        /bench child silent\.js printed no JSON result: "not json"/,
      );
    });
  });
});
