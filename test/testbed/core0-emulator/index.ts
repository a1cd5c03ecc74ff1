/**
 * A core0 v0.9.0 node emulator (threefoldtech/0-core@v0.9.0), written from
 * /work/shared/facts/core0-protocol.md and the tag's sources, independent of the product code
 * (nothing here imports providers/; an eslint rule enforces it). The protocol it follows, and what it
 * does not do: docs/protocols/core0-v0.9.md.
 *
 *   const node = await startCore0Emulator({ ipfsApi });               // stock image: no password
 *   const node = await startCore0Emulator({ ipfsApi, password });     // image with requirepass
 *   // node.address / node.port: the node's redis; RPUSH core:default, BRPOPLPUSH result:<id>
 *   await node.stop();
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Core0Node } from "./node";
import { startNodeIpfs, startNodeRedis } from "./node-services";

/** Kept for callers of the previous emulator; a real v0.9.0 node never reports a version. */
export const EMULATOR_VERSION = "g8os-core0-emulator 0.9.0";

export interface Core0EmulatorOptions {
  /**
   * redis `requirepass` of the emulated image. Default: none, as the stock image's
   * `core0/conf/redis.toml` (clients then must not AUTH: redis answers an error to AUTH without one).
   */
  password?: string;
  /** IPFS RPC API (js-ipfs or Kubo) holding the brotli-compressed file contents, e.g. http://127.0.0.1:5001 */
  ipfsApi: string;
  /** Address the node's redis listens on. Default 127.0.0.1 (loopback only here). */
  bind?: string;
  /** Redis port. Default 0 = a free port. */
  port?: number;
  /** State dir (redis files, container roots). Default a temp dir removed on stop. */
  dir?: string;
  /** TTL of result lists, seconds. Default 300 (sinkclient.go ReturnExpire). */
  resultTtlSeconds?: number;
  /** ms without response headers before a content download is cancelled. Default 15000 (ipfsstor.go). */
  ipfsFetchTimeoutMs?: number;
  /**
   * ms the sink pauses after an undecodable command when the previous error was less than that ago.
   * Default 10000 (base/sink.go ReconnectSleepTime). Tests of other behaviour may lower it.
   */
  decodeErrorPauseMs?: number;
  /** Concurrent jobs before the node stops taking commands. Default 200 (core0/g8os.toml max_jobs). */
  maxJobs?: number;
  /** How long an emulated core.reboot keeps the node away, ms. Default 1000. */
  rebootMs?: number;
  /** @deprecated Ignored: zerotier.* commands do not exist in v0.9.0 (kept so old callers compile). */
  zerotierAddresses?: string[];
}

export interface Core0Emulator {
  /** Redis address of the node. */
  address: string;
  /** Redis port of the node. */
  port: number;
  /** State directory (removed on stop when the emulator created it). */
  dir: string;
  /** The node-local IPFS API core0 reads content from (path-style cat), fronting `ipfsApi`. */
  nodeIpfsApi: string;
  /** Containers currently alive (for tests checking that nothing was left behind). */
  containerCount(): number;
  /** Directory holding container roots (`container-<id>`, as core0's /mnt). */
  containersDir: string;
  /** What core0 would have logged (decode failures, download errors, panics), oldest first. */
  log(): string[];
  /** Kills jobs and containers (undoing bind mounts), stops redis and the IPFS front. */
  stop(): Promise<void>;
}

export async function startCore0Emulator(opts: Core0EmulatorOptions): Promise<Core0Emulator> {
  if (!opts.ipfsApi)
    throw new Error("startCore0Emulator: ipfsApi (the IPFS RPC API holding file contents) is required");
  const ownDir = !opts.dir;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "g8os-core0-"));
  const redis = await startNodeRedis({
    dir: path.join(dir, "redis"),
    bind: opts.bind ?? "127.0.0.1",
    port: opts.port,
    password: opts.password,
  });
  const ipfs = await startNodeIpfs(opts.ipfsApi);
  const Redis = require("ioredis") as typeof import("ioredis").default;
  const connect = (): import("ioredis").Redis =>
    new Redis({ host: redis.host, port: redis.port, password: opts.password, maxRetriesPerRequest: null });
  const node = new Core0Node(connect(), connect(), {
    dir,
    nodeIpfsApi: ipfs.url,
    resultTtlSeconds: opts.resultTtlSeconds ?? 300,
    ipfsFetchTimeoutMs: opts.ipfsFetchTimeoutMs ?? 15_000,
    decodeErrorPauseMs: opts.decodeErrorPauseMs ?? 10_000,
    maxJobs: opts.maxJobs ?? 200,
    rebootMs: opts.rebootMs ?? 1000,
  });
  node.start();
  return {
    address: redis.host,
    port: redis.port,
    dir,
    nodeIpfsApi: ipfs.url,
    containersDir: path.join(dir, "mnt"),
    containerCount: () => node.containerCount,
    log: () => [...node.logLines],
    async stop() {
      await node.stop();
      await ipfs.stop();
      await redis.stop();
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
