/**
 * core0 v0.9.0 wire, brotli plists and container create against the emulator (core0 v0.9.0
 * protocol on a real redis-server, in its own process as a node would be), with a real offline
 * js-ipfs daemon. Loopback only (127.0.0.1), no testbed, no network namespace: the "2 ms link" is a
 * TCP proxy on loopback that delays every chunk by 1 ms each way.
 *
 * One call of `run()` is one repetition; the runner (bench/index.ts) repeats it (>= 3) and reports
 * median and min..max of each figure. Per repetition:
 * - pipelining: the client with 64 commands in flight (core.ping) against two baselines measured
 *   in the same repetition: one classic caller (RPUSH, then BRPOPLPUSH on the result key, one
 *   command at a time, as the v0.9.0 pyclient did) and 64 such callers at once (64 connections);
 *   each on loopback and through the delay proxy; `G8OS_BENCH_SECONDS` (default 3) per load;
 * - the client's latency p50/p99 with 64 in flight (loopback);
 * - building a 50-file plist with the product's walker, content stored brotli (what v0.9.0 reads)
 *   vs plain (the old design), p50/p99 over `G8OS_BENCH_RUNS` (>= 20) builds;
 * - container create (corex.create, then terminate) from each of those plists, p50/p99 over as
 *   many creates. The plain plist's files cannot be read by v0.9.0: its create succeeds (core0
 *   opens files lazily) but every file fails with `brotli: stream is corrupted`, so that baseline
 *   is fetch without decompression, not a usable container;
 * - peak RSS of a child process pushing 1 GiB of random bytes through brotli into IPFS vs the
 *   same push of 10 MiB (its own VmHWM; goal ratio <= 1.2: memory flat in the size).
 *
 * Run: `npm run bench -- core0` (or `npx ts-node bench/core0.ts` for one repetition).
 */
import * as fs from "fs";
import * as path from "path";
import { randomUUID } from "crypto";
import * as net from "net";
import { Core0Client } from "../providers/core0/client";
import { IpfsClient } from "../providers/ipfs/client";
import { buildPlistFromDirectory, serializePlist, storeBrotli } from "../providers/plist";
import { startIpfsDaemon } from "../test/testbed/ipfs";
import type { BenchResult } from "./index";
import { pushPeakRss } from "./lib/push-child";
import { percentile, startReadyChild, timed, withScope, type Scope } from "./lib/setup";

const PASSWORD = "bench-" + randomUUID();
const IN_FLIGHT = 64;
const FILES = 50;

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
      if (!raw) throw new Error("core0 bench: classic caller got no result within 10 s");
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

/** `inFlight` workers each sending pings back to back for `seconds`; cmd/s and sorted latencies. */
async function clientLoad(
  c: Core0Client,
  inFlight: number,
  seconds: number,
): Promise<{ rate: number; lat: number[] }> {
  const end = Date.now() + seconds * 1000;
  const lat: number[] = [];
  const worker = async (): Promise<void> => {
    while (Date.now() < end) lat.push((await timed(() => c.ping())).ms);
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { rate: lat.length / ((Date.now() - t0) / 1000), lat: lat.sort((a, b) => a - b) };
}

/** Starts the emulator CLI in its own process; resolves when it prints its address. */
async function startEmulatorProcess(
  ipfsApi: string,
): Promise<{ address: string; port: number; stop(): Promise<void> }> {
  const child = await startReadyChild<{ address: string; port: number }>(
    "core0 emulator",
    path.join(__dirname, "../test/testbed/core0-emulator/cli.ts"),
    ["--ipfs-api", ipfsApi, "--bind", "127.0.0.1"],
    { G8OS_CORE0_PASSWORD: PASSWORD },
    60_000,
  );
  return { ...child.ready, stop: child.stop };
}

/** A loopback TCP proxy to `port` that delays every chunk by `delayMs` in each direction. */
async function delayProxy(port: number, delayMs: number): Promise<{ port: number; close(): void }> {
  const sockets: net.Socket[] = [];
  const pipe = (from: net.Socket, to: net.Socket): void => {
    from.on("data", (d) => setTimeout(() => to.write(d), delayMs));
    from.on("close", () => setTimeout(() => to.destroy(), delayMs));
    from.on("error", () => to.destroy());
  };
  const srv = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.push(client, upstream);
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

/** A FILES-file root (plus /proc for coreX) on disk, about 9 KiB a file. */
function makeTree(dir: string): string {
  const tree = path.join(dir, "tree");
  fs.mkdirSync(path.join(tree, "opt/app"), { recursive: true });
  fs.mkdirSync(path.join(tree, "proc"));
  for (let i = 0; i < FILES; i++) {
    // Text-like content: every line differs (a uuid), so brotli has real work and a real ratio.
    const lines = Array.from({ length: 200 }, (_, j) => `file ${i} line ${j}: ${randomUUID()}\n`);
    fs.writeFileSync(path.join(tree, `opt/app/f${i}`), lines.join(""));
  }
  return tree;
}

/** p50 and p99 of `runs` calls of `fn`. */
async function latencies(runs: number, fn: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push((await timed(fn)).ms);
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

async function throughput(
  s: Scope,
  node: { address: string; port: number },
  seconds: number,
): Promise<BenchResult[]> {
  const proxy = await s.add(delayProxy(node.port, 1), (p) => p.close());
  const client = await s.add(
    new Core0Client({ host: node.address, port: node.port, password: PASSWORD }),
    (c) => c.close(),
  );
  const slow = await s.add(
    new Core0Client({ host: "127.0.0.1", port: proxy.port, password: PASSWORD }),
    (c) => c.close(),
  );
  await client.ping(); // connect outside the measurement
  await slow.ping();
  const out: BenchResult[] = [];
  const links = [
    {
      label: "loopback",
      host: node.address,
      port: node.port,
      c: client,
      note: "client, emulator and redis share the machine's CPUs",
    },
    {
      label: "2 ms RTT",
      host: "127.0.0.1",
      port: proxy.port,
      c: slow,
      note: "loopback TCP proxy delaying 1 ms each way",
    },
  ];
  for (const l of links) {
    const seq = await classicSequential(l.host, l.port, seconds);
    const many = await classicConcurrent(l.host, l.port, IN_FLIGHT, seconds);
    const par = await clientLoad(l.c, IN_FLIGHT, seconds);
    out.push(
      {
        name: `commands/s, client ${IN_FLIGHT} in flight, ${l.label} (vs 1 classic sequential caller)`,
        value: Math.round(par.rate),
        unit: "cmd/s",
        baseline: Math.round(seq),
        ratio: par.rate / seq,
        note: `${l.note}; ${seconds} s per load`,
      },
      {
        name: `commands/s, client ${IN_FLIGHT} in flight, ${l.label} (vs ${IN_FLIGHT} concurrent classic callers)`,
        value: Math.round(par.rate),
        unit: "cmd/s",
        baseline: Math.round(many),
        ratio: par.rate / many,
        note: `baseline: ${IN_FLIGHT} connections, each one command then wait; ${l.note}`,
      },
    );
    if (l.c === client) {
      out.push(
        {
          name: `client latency p50, ${IN_FLIGHT} in flight, loopback`,
          value: percentile(par.lat, 50),
          unit: "ms",
        },
        {
          name: `client latency p99, ${IN_FLIGHT} in flight, loopback`,
          value: percentile(par.lat, 99),
          unit: "ms",
        },
      );
    }
  }
  return out;
}

async function plistAndCreate(
  s: Scope,
  node: { address: string; port: number },
  ipfsApi: string,
  runs: number,
): Promise<BenchResult[]> {
  const tmp = s.tmpDir("g8os-bench-core0-");
  const tree = makeTree(tmp);
  const ipfs = new IpfsClient(ipfsApi);
  const client = await s.add(
    new Core0Client({ host: node.address, port: node.port, password: PASSWORD }),
    (c) => c.close(),
  );
  const build: Record<string, { p50: number; p99: number }> = {};
  const create: Record<string, { p50: number; p99: number }> = {};
  const stored: Record<string, number> = {};
  for (const mode of ["brotli", "plain"] as const) {
    const plist = path.join(tmp, `${mode}.plist`);
    build[mode] = await latencies(runs, async () => {
      let bytes = 0;
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
      stored[mode] = bytes;
      fs.writeFileSync(plist, serializePlist(entries));
    });
    await client.ping();
    create[mode] = await latencies(runs, async () => {
      const id = await client.corex.create({ root: `file://${plist}` });
      await client.corex.terminate(id);
    });
  }
  const pair = (what: string, m: Record<string, { p50: number; p99: number }>, note: string): BenchResult[] =>
    (["p50", "p99"] as const).map((p) => ({
      name: `${what}, brotli content, ${p}`,
      value: m.brotli[p],
      unit: "ms",
      baseline: m.plain[p],
      note: `${p} of ${runs}; baseline: plain content; ${note}`,
    }));
  return [
    ...pair(
      `plist of ${FILES} files built and stored in js-ipfs`,
      build,
      `stored ${stored.brotli} B brotli vs ${stored.plain} B plain`,
    ),
    ...pair(
      `container create (corex.create + terminate) from a ${FILES}-file plist`,
      create,
      "the emulator fetches (and for brotli decompresses) every file at create; plain files fail to decode, as on v0.9.0",
    ),
  ];
}

export async function run(): Promise<BenchResult[]> {
  const seconds = Number(process.env.G8OS_BENCH_SECONDS ?? 3);
  const runs = Math.max(20, Number(process.env.G8OS_BENCH_RUNS ?? 20));
  return withScope(async (s) => {
    const ipfs = await s.add(startIpfsDaemon(), (d) => d.stop());
    const node = await s.add(startEmulatorProcess(ipfs.apiUrl), (n) => n.stop());
    return [
      ...(await throughput(s, node, seconds)),
      ...(await plistAndCreate(s, node, ipfs.apiUrl, runs)),
      await pushPeakRss(
        ipfs.apiUrl,
        "brotli",
        "peak RSS pushing 1 GiB through brotli into IPFS (vs 10 MiB)",
        "VmHWM of the pushing child process; random (incompressible) bytes",
      ),
    ];
  });
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
