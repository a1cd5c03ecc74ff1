/**
 * `npm run bench`: runs every benchmark module in bench/ (each exports `run(): Promise<BenchResult[]>`)
 * one after another, prints a table, and writes bench/results.json. Every figure that is a speed-up
 * or a cost is a ratio against a baseline measured in the same run (never a fixed threshold).
 * `npm run bench -- core0 libvirt` runs only those modules.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  note?: string;
}

function fmt(n: number | undefined): string {
  if (n === undefined) return "";
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const modules = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith(".ts") && f !== "index.ts")
    .map((f) => f.replace(/\.ts$/, ""))
    .filter((m) => only.length === 0 || only.includes(m))
    .sort();
  const all: (BenchResult & { module: string })[] = [];
  for (const m of modules) {
    const mod = require(path.join(__dirname, m)) as { run?: () => Promise<BenchResult[]> };
    if (typeof mod.run !== "function") continue;
    process.stderr.write(`bench: ${m} ...\n`);
    const started = Date.now();
    try {
      for (const r of await mod.run()) all.push({ module: m, ...r });
    } catch (err) {
      all.push({ module: m, name: "FAILED", value: NaN, unit: "", note: (err as Error).message });
    }
    process.stderr.write(`bench: ${m} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  console.log(
    `\nmachine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}\n`,
  );
  console.log(["module", "benchmark", "value", "unit", "baseline", "ratio", "note"].join(" | "));
  for (const r of all) {
    console.log(
      [
        r.module,
        r.name,
        fmt(r.value),
        r.unit,
        fmt(r.baseline),
        r.ratio === undefined ? "" : `${fmt(r.ratio)}x`,
        r.note ?? "",
      ].join(" | "),
    );
  }
  const out = path.join(__dirname, "results.json");
  fs.writeFileSync(
    out,
    JSON.stringify({ at: new Date().toISOString(), cpus: os.cpus().length, results: all }, null, 2) + "\n",
  );
  if (all.some((r) => r.name === "FAILED")) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
