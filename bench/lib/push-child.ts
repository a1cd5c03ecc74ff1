/**
 * Child process of the peak-RSS benches (bench/core0.ts, bench/build-ipfs.ts): pushes
 * G8OS_BENCH_PUSH_BYTES generated random bytes, in 64 KiB chunks (an SSH channel's size order),
 * into the IPFS RPC API at G8OS_BENCH_IPFS_API, either as they are (`plain`, IpfsClient.addStream)
 * or brotli-compressed on the way (`brotli`, providers/plist storeBrotli), as G8OS_BENCH_PUSH_MODE
 * says. Prints one JSON line: bytes read, bytes stored, cid and this process's own peak RSS
 * (VmHWM). Run by `runChild` (bench/lib/setup.ts), not by hand.
 */
import * as crypto from "crypto";
import * as path from "path";
import { Readable } from "stream";
import { IpfsClient } from "../../providers/ipfs/client";
import { storeBrotli } from "../../providers/plist";
import type { BenchResult } from "../index";
import { peakRssKiB, runChild } from "./setup";

/** What the child prints. */
export interface PushResult {
  /** Bytes read from the generated source. */
  bytes: number;
  /** Bytes handed to IPFS (compressed ones for brotli). */
  storedBytes: number;
  cid: string;
  /** VmHWM of the child, KiB. */
  peakRssKiB: number;
}

export type PushMode = "plain" | "brotli";

/**
 * Pushes 10 MiB, then 1 GiB, each in its own child process, and returns the figure: the 1 GiB
 * child's peak RSS against the 10 MiB child's (ratio big / small; goal <= 1.2).
 */
export async function pushPeakRss(
  ipfsApiUrl: string,
  mode: PushMode,
  name: string,
  note: string,
): Promise<BenchResult> {
  const push = async (bytes: number): Promise<PushResult & { seconds: number }> => {
    const r = await runChild<PushResult>(__filename, {
      G8OS_BENCH_PUSH_BYTES: String(bytes),
      G8OS_BENCH_IPFS_API: ipfsApiUrl,
      G8OS_BENCH_PUSH_MODE: mode,
    });
    if (r.bytes !== bytes)
      throw new Error(`${path.basename(__filename)}: pushed ${r.bytes} B, expected ${bytes}`);
    return r;
  };
  const small = await push(10 * 2 ** 20);
  const big = await push(2 ** 30);
  return {
    ...peakRssFigure(name, big.peakRssKiB, small.peakRssKiB),
    note: `${note}; baseline: the same push of 10 MiB; goal ratio <= 1.2; 1 GiB took ${big.seconds.toFixed(0)} s`,
  };
}

/** A peak-RSS figure in MiB from two VmHWM readings in KiB: value, baseline and ratio big / small. */
export function peakRssFigure(name: string, bigKiB: number, smallKiB: number): BenchResult {
  return { name, value: bigKiB / 1024, unit: "MiB", baseline: smallKiB / 1024, ratio: bigKiB / smallKiB };
}

async function main(): Promise<void> {
  const total = Number(process.env.G8OS_BENCH_PUSH_BYTES);
  const api = process.env.G8OS_BENCH_IPFS_API;
  const mode = process.env.G8OS_BENCH_PUSH_MODE as PushMode;
  if (!Number.isInteger(total) || total <= 0 || !api || (mode !== "plain" && mode !== "brotli")) {
    throw new Error(
      "push-child: set G8OS_BENCH_PUSH_BYTES (> 0), G8OS_BENCH_IPFS_API and G8OS_BENCH_PUSH_MODE (plain|brotli)",
    );
  }
  let produced = 0;
  const source = new Readable({
    read() {
      if (produced >= total) return void this.push(null);
      const n = Math.min(64 * 1024, total - produced);
      produced += n;
      this.push(crypto.randomFillSync(Buffer.allocUnsafe(n)));
    },
  });
  const client = new IpfsClient(api);
  const opts = { cidVersion: 1 as const, rawLeaves: true, pin: false };
  let result: Omit<PushResult, "peakRssKiB">;
  if (mode === "brotli") {
    const r = await storeBrotli(source, (s) => client.addStream(s, opts));
    result = { bytes: r.size, storedBytes: r.storedBytes, cid: r.cid };
  } else {
    const r = await client.addStream(source, opts);
    result = { bytes: r.bytes, storedBytes: r.bytes, cid: r.cid };
  }
  const out: PushResult = { ...result, peakRssKiB: peakRssKiB() };
  process.stdout.write(JSON.stringify(out) + "\n");
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
