/**
 * core0 client throughput/latency and container create against the emulator (core0 v0.9.0
 * protocol) on a real redis-server, with a real offline js-ipfs daemon. Loopback only, no testbed.
 *
 * - sequential baseline: one classic caller (RPUSH, then BRPOPLPUSH on the result key), as the
 *   v0.9.0 pyclient did; 64 classic callers at once (64 connections, each sequential); the client
 *   with 64 commands in flight on its pipelined readers; the same through a TCP proxy adding 1 ms
 *   each way (a node over ZeroTier). The emulator runs in its own process (its CLI), as a node would.
 * - a 50-file plist built with the product's walker: content stored brotli (what v0.9.0 reads) vs
 *   plain (what it cannot read), p50/p99 of the build over the runs; then container create from
 *   the brotli plist, p50/p99 (a plain-content root is not measured: v0.9.0 cannot open its files).
 * Every figure is measured `G8OS_BENCH_REPEATS` times (default 3); the median is reported with the
 * spread (min..max) in the note.
 *
 * Run: `npx ts-node bench/core0.ts` (or through bench/index.ts).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomUUID } from "crypto";
import { Core0Client } from "../providers/core0/client";
import { IpfsClient } from "../providers/ipfs/client";
import { buildPlistFromDirectory, serializePlist, storeBrotli } from "../providers/plist";
import { startIpfsDaemon } from "../test/testbed/ipfs";
import { spawn, ChildProcess } from "child_process";
import * as net from "net";
import * as readline from "readline";
import type { BenchResult } from "./index";

const PASSWORD = "bench-" + randomUUID();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The classic client: one RPUSH, then a blocking BRPOPLPUSH on the result key, one at a time. */
async function classicSequential(host: string, port: number, seconds: number): Promise<number> {
  const Redis = require("ioredis") as typeof import("ioredis").default;
  const r = new Redis({ host, port, password: PASSWORD });
  const end = Date.now() + seconds * 1000;
  let n = 0;
  try {
    while (Date.now() < end) {
      const id = randomUUID();
      await r.rpush(
        "core:default",
        // v0.9.0 Command: tags is a string (a list or null-typed mismatch drops the command).
        JSON.stringify({ id, command: "core.ping", arguments: {}, queue: "", tags: "" }),
      );
      const raw = await r.brpoplpush(`result:${id}`, `result:${id}`, 10);
      if (!raw) throw new Error("baseline: no result within 10 s");
      n++;
    }
  } finally {
    r.disconnect();
  }
  return n / seconds;
}

/** `callers` classic sequential callers at once, each on its own connection; total cmd/s. */
async function classicConcurrent(
  host: string,
  port: number,
  callers: number,
  seconds: number,
): Promise<number> {
  const rates = await Promise.all(
    Array.from({ length: callers }, () => classicSequential(host, port, seconds)),
  );
  return rates.reduce((a, b) => a + b, 0);
}

/** `inFlight` workers each sending pings back to back for `seconds`; returns cmd/s and latencies. */
async function clientLoad(
  c: Core0Client,
  inFlight: number,
  seconds: number,
): Promise<{ rate: number; lat: number[] }> {
  const end = Date.now() + seconds * 1000;
  const lat: number[] = [];
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const t = process.hrtime.bigint();
      await c.ping();
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { rate: lat.length / ((Date.now() - t0) / 1000), lat: lat.sort((a, b) => a - b) };
}

/** Starts the emulator CLI in its own process; resolves when it prints its address. */
async function startEmulatorProcess(
  ipfsApi: string,
): Promise<{ address: string; port: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      require.resolve("ts-node/dist/bin.js"),
      "--transpile-only",
      path.join(__dirname, "../test/testbed/core0-emulator/cli.ts"),
      "--ipfs-api",
      ipfsApi,
    ],
    { env: { ...process.env, G8OS_CORE0_PASSWORD: PASSWORD }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("core0 emulator did not start within 60 s")), 60_000);
    child.once("exit", (code) => reject(new Error(`core0 emulator exited with ${code}`)));
    readline.createInterface({ input: child.stdout! }).once("line", (l) => {
      clearTimeout(timer);
      resolve(l);
    });
  });
  const info = JSON.parse(line) as { address: string; port: number };
  return {
    ...info,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** A loopback TCP proxy to `port` that delays every chunk by `delayMs` in each direction. */
async function delayProxy(port: number, delayMs: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const pipe = (from: net.Socket, to: net.Socket): void => {
    from.on("data", (d) => setTimeout(() => to.write(d), delayMs));
    from.on("close", () => setTimeout(() => to.destroy(), delayMs));
    from.on("error", () => to.destroy());
  };
  const srv = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

/** Median and spread of repeated measurements. */
function summary(xs: number[]): { median: number; note: string } {
  const s = [...xs].sort((a, b) => a - b);
  const r = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3));
  return {
    median: s[Math.floor(s.length / 2)],
    note: `median of ${s.length} runs, spread ${r(s[0])}..${r(s[s.length - 1])}`,
  };
}

/** A 50-file root (plus /proc for coreX) on disk, about 9 KiB a file. */
function makeTree(dir: string): string {
  const tree = path.join(dir, "tree");
  fs.mkdirSync(path.join(tree, "opt/app"), { recursive: true });
  fs.mkdirSync(path.join(tree, "proc"));
  for (let i = 0; i < 50; i++) {
    // Text-like content: every line differs (a uuid), so brotli has real work and a real ratio.
    const lines = Array.from({ length: 200 }, (_, j) => `file ${i} line ${j}: ${randomUUID()}\n`);
    fs.writeFileSync(path.join(tree, `opt/app/f${i}`), lines.join(""));
  }
  return tree;
}

export async function run(): Promise<BenchResult[]> {
  const repeats = Math.max(1, Number(process.env.G8OS_BENCH_REPEATS ?? 3));
  const seconds = Number(process.env.G8OS_BENCH_SECONDS ?? 3);
  const runs = Math.max(20, Number(process.env.G8OS_BENCH_RUNS ?? 20));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-bench-core0-"));
  const ipfsDaemon = await startIpfsDaemon();
  const node = await startEmulatorProcess(ipfsDaemon.apiUrl);
  const proxy = await delayProxy(node.port, 1);
  const client = new Core0Client({ host: node.address, port: node.port, password: PASSWORD });
  const slowClient = new Core0Client({ host: "127.0.0.1", port: proxy.port, password: PASSWORD });
  const ipfs = new IpfsClient(ipfsDaemon.apiUrl);
  const out: BenchResult[] = [];
  const m: Record<string, number[]> = {};
  const add = (k: string, v: number): void => void (m[k] ??= []).push(v);
  try {
    await client.ping(); // connect outside the measurement
    await slowClient.ping();
    const tree = makeTree(tmp);
    let brotliBytes = 0;
    let plainBytes = 0;
    let plist = "";
    for (let rep = 0; rep < repeats; rep++) {
      add("seq", await classicSequential(node.address, node.port, seconds));
      add("classic64", await classicConcurrent(node.address, node.port, 64, seconds));
      const par = await clientLoad(client, 64, seconds);
      add("par", par.rate);
      add("parP50", percentile(par.lat, 50));
      add("parP99", percentile(par.lat, 99));
      add("slowSeq", await classicSequential("127.0.0.1", proxy.port, seconds));
      add("slowClassic64", await classicConcurrent("127.0.0.1", proxy.port, 64, seconds));
      add("slowPar", (await clientLoad(slowClient, 64, seconds)).rate);

      // plist build: brotli vs plain content, `runs` times each.
      for (const mode of ["brotli", "plain"] as const) {
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          let bytes = 0;
          const t = process.hrtime.bigint();
          const entries = await buildPlistFromDirectory(tree, async (abs) => {
            if (mode === "brotli") {
              const r = await storeBrotli(fs.createReadStream(abs), (c) => ipfs.addStream(c));
              bytes += r.storedBytes;
              return r.cid;
            }
            const r = await ipfs.addStream(fs.createReadStream(abs));
            bytes += r.bytes;
            return r.cid;
          });
          times.push(Number(process.hrtime.bigint() - t) / 1e6);
          if (mode === "brotli") {
            brotliBytes = bytes;
            plist = path.join(tmp, "app.plist");
            fs.writeFileSync(plist, serializePlist(entries));
          } else plainBytes = bytes;
        }
        times.sort((a, b) => a - b);
        add(`${mode}P50`, percentile(times, 50));
        add(`${mode}P99`, percentile(times, 99));
      }

      const creates: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = process.hrtime.bigint();
        const id = await client.corex.create({ root: `file://${plist}` });
        creates.push(Number(process.hrtime.bigint() - t) / 1e6);
        await client.corex.terminate(id);
      }
      creates.sort((a, b) => a - b);
      add("createP50", percentile(creates, 50));
      add("createP99", percentile(creates, 99));
    }
    const med = (k: string): number => summary(m[k]).median;
    const note = (k: string, extra = ""): string => `${summary(m[k]).note}${extra ? "; " + extra : ""}`;
    const ratio = (a: number, b: number): number => Math.round((a / b) * 10) / 10;
    out.push({
      name: "core0 commands/s, client 64 in flight, loopback (vs 1 classic sequential caller)",
      value: Math.round(med("par")),
      unit: "cmd/s",
      baseline: Math.round(med("seq")),
      ratio: ratio(med("par"), med("seq")),
      note: note("par", "client, emulator and redis share the machine's cores"),
    });
    out.push({
      name: "core0 commands/s, client 64 in flight, loopback (vs 64 classic callers, 64 connections)",
      value: Math.round(med("par")),
      unit: "cmd/s",
      baseline: Math.round(med("classic64")),
      ratio: ratio(med("par"), med("classic64")),
      note: note("classic64", "spread of the 64-caller baseline"),
    });
    out.push({
      name: "core0 commands/s, client 64 in flight, 2 ms RTT (vs 1 classic sequential caller)",
      value: Math.round(med("slowPar")),
      unit: "cmd/s",
      baseline: Math.round(med("slowSeq")),
      ratio: ratio(med("slowPar"), med("slowSeq")),
      note: note("slowPar", "TCP proxy delaying 1 ms each way"),
    });
    out.push({
      name: "core0 commands/s, client 64 in flight, 2 ms RTT (vs 64 classic callers)",
      value: Math.round(med("slowPar")),
      unit: "cmd/s",
      baseline: Math.round(med("slowClassic64")),
      ratio: ratio(med("slowPar"), med("slowClassic64")),
      note: note("slowClassic64", "spread of the 64-caller baseline"),
    });
    out.push({
      name: "core0 latency p50, 64 in flight",
      value: med("parP50"),
      unit: "ms",
      note: note("parP50"),
    });
    out.push({
      name: "core0 latency p99, 64 in flight",
      value: med("parP99"),
      unit: "ms",
      note: note("parP99"),
    });
    out.push({
      name: `plist of 50 files into IPFS, brotli content, p50 of ${runs}`,
      value: med("brotliP50"),
      unit: "ms",
      baseline: med("plainP50"),
      ratio: Math.round((med("brotliP50") / med("plainP50")) * 100) / 100,
      note: note(
        "brotliP50",
        `baseline = plain content (unreadable by v0.9.0); stored ${brotliBytes} B brotli vs ${plainBytes} B plain`,
      ),
    });
    out.push({
      name: `plist of 50 files into IPFS, brotli content, p99 of ${runs}`,
      value: med("brotliP99"),
      unit: "ms",
      baseline: med("plainP99"),
      ratio: Math.round((med("brotliP99") / med("plainP99")) * 100) / 100,
      note: note("brotliP99"),
    });
    out.push({
      name: `container create (50-file brotli plist, /proc), p50 of ${runs}`,
      value: med("createP50"),
      unit: "ms",
      note: note("createP50", "emulator copies and decompresses every file at create"),
    });
    out.push({
      name: `container create (50-file brotli plist, /proc), p99 of ${runs}`,
      value: med("createP99"),
      unit: "ms",
      note: note("createP99"),
    });
  } finally {
    await client.close();
    await slowClient.close();
    proxy.close();
    await node.stop();
    await ipfsDaemon.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

if (require.main === module) {
  run().then(
    (r) => console.table(r),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
