/**
 * core0 client throughput and latency against the emulator on a real redis-server (loopback only).
 *
 * - baseline: strictly sequential request/response the classic way (RPUSH, then BRPOPLPUSH on the
 *   result key), as the JumpScale client did;
 * - the client with 64 commands in flight (64 workers looping), same redis, same emulator;
 * - both again through a TCP proxy adding 1 ms each way, standing for a node reached over ZeroTier
 *   (real links have 1-50 ms; on loopback the 2 cores, not the protocol, bound the ratio);
 * The emulator runs in its own process (its CLI), as a real node would.
 * - p50/p99 latency of one command with 64 in flight and alone;
 * - container create latency in the emulator (plist of small files served by a local fake IPFS API).
 *
 * Run: `npx ts-node bench/core0.ts` (or through bench/index.ts).
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { randomUUID, createHash } from "crypto";
import { Core0Client } from "../providers/core0/client";
import { serializePlist, PlistEntry, FILETYPE_FILE } from "../providers/plist";
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
        JSON.stringify({ id, command: "core.ping", arguments: {}, queue: "", max_time: 0, tags: null }),
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

/** A minimal IPFS `cat` endpoint over a map of hash -> content (the bench measures core0, not IPFS). */
async function fakeIpfs(files: Map<string, Buffer>): Promise<{ url: string; close(): void }> {
  const srv = http.createServer((req, res) => {
    const hash = new URL(req.url ?? "", "http://x").searchParams.get("arg") ?? "";
    const body = files.get(hash);
    if (req.method !== "POST" || !body) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ Message: "not found", Code: 0, Type: "error" }));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as import("net").AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => srv.close() };
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

export async function run(): Promise<BenchResult[]> {
  const files = new Map<string, Buffer>();
  const entries: PlistEntry[] = [];
  for (let i = 0; i < 50; i++) {
    const body = Buffer.from(`file ${i}\n`.repeat(100));
    const hash = "Qm" + createHash("sha256").update(body).digest("hex").slice(0, 44);
    files.set(hash, body);
    const now = Math.floor(Date.now() / 1000);
    entries.push({
      path: `/opt/app/f${i}`,
      hash,
      size: body.length,
      uname: "root",
      gname: "root",
      mode: 0o644,
      type: FILETYPE_FILE,
      ctime: now,
      mtime: now,
      extended: "",
    });
  }
  const ipfs = await fakeIpfs(files);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-bench-core0-"));
  const plist = path.join(tmp, "app.plist");
  fs.writeFileSync(plist, serializePlist(entries));
  const node = await startEmulatorProcess(ipfs.url);
  const proxy = await delayProxy(node.port, 1);
  const client = new Core0Client({ host: node.address, port: node.port, password: PASSWORD });
  const slowClient = new Core0Client({ host: "127.0.0.1", port: proxy.port, password: PASSWORD });
  const out: BenchResult[] = [];
  try {
    await client.ping(); // connect outside the measurement
    await slowClient.ping();
    const seconds = Number(process.env.G8OS_BENCH_SECONDS ?? 3);
    const baseline = await classicSequential(node.address, node.port, seconds);
    const seq = await clientLoad(client, 1, seconds);
    const par = await clientLoad(client, 64, seconds);
    const slowBaseline = await classicSequential("127.0.0.1", proxy.port, seconds);
    const slowPar = await clientLoad(slowClient, 64, seconds);
    const ratio = (a: number, b: number): number => Math.round((a / b) * 10) / 10;
    out.push({
      name: "core0 commands/s, 64 in flight, loopback (vs classic sequential RPUSH+BRPOPLPUSH)",
      value: Math.round(par.rate),
      unit: "cmd/s",
      baseline: Math.round(baseline),
      ratio: ratio(par.rate, baseline),
      note: "client, emulator and redis share 2 cores: CPU-bound",
    });
    out.push({
      name: "core0 commands/s, 64 in flight, 2 ms RTT link (vs classic sequential)",
      value: Math.round(slowPar.rate),
      unit: "cmd/s",
      baseline: Math.round(slowBaseline),
      ratio: ratio(slowPar.rate, slowBaseline),
      note: "through a loopback TCP proxy delaying 1 ms each way",
    });
    out.push({
      name: "core0 commands/s, client used sequentially, loopback",
      value: Math.round(seq.rate),
      unit: "cmd/s",
      baseline: Math.round(baseline),
      ratio: Math.round((seq.rate / baseline) * 100) / 100,
    });
    out.push({ name: "core0 latency p50, 64 in flight", value: percentile(par.lat, 50), unit: "ms" });
    out.push({ name: "core0 latency p99, 64 in flight", value: percentile(par.lat, 99), unit: "ms" });
    out.push({ name: "core0 latency p50, sequential", value: percentile(seq.lat, 50), unit: "ms" });
    out.push({ name: "core0 latency p99, sequential", value: percentile(seq.lat, 99), unit: "ms" });

    const creates: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = process.hrtime.bigint();
      const id = await client.corex.create({ root: `file://${plist}` }, [`bench-${i}`]);
      creates.push(Number(process.hrtime.bigint() - t) / 1e6);
      await client.corex.terminate(id);
    }
    creates.sort((a, b) => a - b);
    out.push({
      name: "core0 emulator container create (50-file plist), p50",
      value: percentile(creates, 50),
      unit: "ms",
      note: `p99 ${percentile(creates, 99).toFixed(1)} ms over ${creates.length}`,
    });
  } finally {
    await client.close();
    await slowClient.close();
    proxy.close();
    await node.stop();
    ipfs.close();
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
