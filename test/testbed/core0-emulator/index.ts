/**
 * A core0 node emulator: a real `redis-server` with `requirepass` (one per emulated node) and the
 * emulated command loop behind it. Clients speak the real core0 protocol to it.
 *
 *   const node = await startCore0Emulator({ password, ipfsApi });
 *   // node.address / node.port: what a Core0Node resource gets
 *   await node.stop();
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startRedisServer } from "../redis";
import { EmulatorEngine, EmulatorEngineOptions } from "./emulator";

export { EMULATOR_VERSION } from "./emulator";

export interface Core0EmulatorOptions {
  /** The node redis password (requirepass). Required: core0 nodes here always have one. */
  password: string;
  /** IPFS RPC API the node fetches container files from, e.g. http://127.0.0.1:5001 */
  ipfsApi: string;
  /** Address redis listens on. Default 127.0.0.1. */
  bind?: string;
  /** Default 0 = a free port. */
  port?: number;
  /** State dir (redis files, container roots). Default a temp dir removed on stop. */
  dir?: string;
  /** TTL of result keys, seconds. Default 300 (core0's). */
  resultTtlSeconds?: number;
  /** Per-file IPFS fetch timeout, ms. Default 5000. */
  ipfsFetchTimeoutMs?: number;
  /** Addresses reported for joined ZeroTier networks. */
  zerotierAddresses?: string[];
}

export interface Core0Emulator {
  address: string;
  port: number;
  dir: string;
  /** Containers currently alive (for tests checking that nothing was left behind). */
  containerCount(): number;
  /** Directory holding container roots (`<id>/root`). */
  containersDir: string;
  stop(): Promise<void>;
}

export async function startCore0Emulator(opts: Core0EmulatorOptions): Promise<Core0Emulator> {
  if (!opts.password)
    throw new Error("startCore0Emulator: password is required (core0 nodes run redis with requirepass)");
  const ownDir = !opts.dir;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "g8os-core0-"));
  const redis = await startRedisServer({
    password: opts.password,
    bind: opts.bind,
    port: opts.port,
    dir: path.join(dir, "redis"),
  });
  const Redis = require("ioredis") as typeof import("ioredis").default;
  const connect = (): import("ioredis").Redis =>
    new Redis({ host: redis.host, port: redis.port, password: opts.password, maxRetriesPerRequest: null });
  const engineOpts: EmulatorEngineOptions = {
    dir,
    ipfsApi: opts.ipfsApi,
    resultTtlSeconds: opts.resultTtlSeconds,
    ipfsFetchTimeoutMs: opts.ipfsFetchTimeoutMs,
    zerotierAddresses: opts.zerotierAddresses,
  };
  const engine = new EmulatorEngine(connect(), connect(), engineOpts);
  engine.start();
  return {
    address: redis.host,
    port: redis.port,
    dir,
    containersDir: path.join(dir, "containers"),
    containerCount: () => engine.containerCount,
    async stop() {
      await engine.stop();
      await redis.stop();
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
