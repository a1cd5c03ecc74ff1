/**
 * Many emulated core0 v0.9.0 nodes in one process, for benches that need hundreds of nodes (a
 * cli.ts process per node costs a Node.js runtime each, and a redis-server per node idles at a
 * share of a CPU: a thousand of them saturate a small machine). Test-side multiplexer only; the
 * single-node emulator (index.ts, its contract tests) is not changed by it.
 *
 * Every node has its own core0 sink and process manager (node.ts, as a single emulator), its own
 * state directory, its own loopback port, and its own redis keyspace: one redis-server serves all
 * nodes, node i in database i. The node's port is a front that relays the client's bytes to that
 * redis unchanged and selects database i for it: at connect when the image has no password, else
 * right after each AUTH the client sends (a failed AUTH leaves the connection unauthenticated, as on
 * a node). Its reply is not passed on. Commands that would reach other nodes' data or the shared
 * server (SELECT, SWAPDB, MOVE, COPY, FLUSHALL, pub/sub, CONFIG, ...) are refused with an error
 * naming the fleet: a test needing them uses a single emulator.
 *
 *   ts-node test/testbed/core0-emulator/fleet.ts --nodes 1000 --ipfs-api http://127.0.0.1:5001
 *
 * The redis password, if any, comes from G8OS_CORE0_PASSWORD (as cli.ts: never argv). Prints one
 * JSON line `{"pid","nodes":[{"address","port"}...]}` once every node is up, and stops them all on
 * SIGTERM/SIGINT.
 */
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Core0Node } from "./node";
import { startNodeIpfs, startNodeRedis } from "./node-services";
import { parseOptions } from "./cli-options";

const USAGE = "usage: [G8OS_CORE0_PASSWORD=...] fleet.ts --nodes N --ipfs-api URL [--bind ADDR]";

/** Commands that reach beyond the node's own database (redis 7 command table). */
const REFUSED = new Set([
  "select",
  "swapdb",
  "move",
  "copy",
  "flushall",
  "migrate",
  "hello",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "publish",
  "spublish",
  "pubsub",
  "monitor",
  "config",
  "shutdown",
  "debug",
  "acl",
  "replicaof",
  "slaveof",
  "sync",
  "psync",
  "failover",
  "script",
  "function",
]);

export interface FleetOptions {
  /** redis `requirepass` of every node's image. Default none (the stock image). */
  password?: string;
  /** IPFS RPC API holding file contents (one node-local front serves every node). */
  ipfsApi: string;
  /** Loopback address the nodes listen on. Default 127.0.0.1. */
  bind?: string;
  /** TTL of result lists, s. Default 300 (sinkclient.go ReturnExpire). */
  resultTtlSeconds?: number;
}

export interface FleetNode {
  /** The node's redis address (its front). */
  address: string;
  /** The node's redis port (its front). */
  port: number;
}

export interface Core0Fleet {
  /** Node i uses database i of the shared redis. */
  nodes: FleetNode[];
  /** Stops every node, the fronts, redis and the IPFS front; removes the state directory. */
  stop(): Promise<void>;
}

/**
 * Length of the complete RESP2 reply at `off` in `buf`, or -1 while it is incomplete (replies:
 * simple string, error, integer, bulk string, array; redis 7 without HELLO 3 sends only these).
 */
export function replyEnd(buf: Buffer, off: number): number {
  if (off >= buf.length) return -1;
  const eol = buf.indexOf("\r\n", off);
  if (eol < 0) return -1;
  const type = String.fromCharCode(buf[off]);
  if (type === "+" || type === "-" || type === ":") return eol + 2;
  const n = Number(buf.toString("latin1", off + 1, eol));
  if (type === "$") {
    if (n < 0) return eol + 2;
    const end = eol + 2 + n + 2;
    return end <= buf.length ? end : -1;
  }
  if (type === "*") {
    let at = eol + 2;
    for (let i = 0; i < n; i++) {
      at = replyEnd(buf, at);
      if (at < 0) return -1;
    }
    return at;
  }
  throw new Error(`core0 fleet: unexpected RESP reply type ${JSON.stringify(type)}`);
}

/**
 * The next complete command the client sent at `off`: its raw bytes end and its name (lower
 * case), or undefined while incomplete. Multibulk (`*N` of `$len` strings, what clients send) and
 * inline (one text line) commands.
 */
export function commandAt(buf: Buffer, off: number): { end: number; name: string } | undefined {
  const eol = buf.indexOf("\r\n", off);
  if (eol < 0) return undefined;
  if (buf[off] !== 0x2a /* * */) {
    const line = buf.toString("latin1", off, eol).trim();
    return { end: eol + 2, name: line.split(/\s+/)[0]?.toLowerCase() ?? "" };
  }
  const n = Number(buf.toString("latin1", off + 1, eol));
  let at = eol + 2;
  let name = "";
  for (let i = 0; i < n; i++) {
    const e = buf.indexOf("\r\n", at);
    if (e < 0) return undefined;
    const len = Number(buf.toString("latin1", at + 1, e));
    if (e + 2 + len + 2 > buf.length) return undefined;
    if (i === 0) name = buf.toString("latin1", e + 2, e + 2 + len).toLowerCase();
    at = e + 2 + len + 2;
  }
  return { end: at, name };
}

const resp = (...args: string[]): Buffer =>
  Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);

/** One client connection of node `db`: relays to redis, selecting the node's database. */
function relay(client: net.Socket, redisPort: number, host: string, db: number, password: boolean): void {
  const upstream = net.connect({ host, port: redisPort });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  // What each upstream reply is for, in order: passed to the client, or the front's own SELECT.
  // A refused command's error waits its turn behind the replies still due.
  const due: Array<{ kind: "pass" } | { kind: "swallow" } | { kind: "local"; data: Buffer }> = [];
  let fromClient: Buffer = Buffer.alloc(0);
  let fromRedis: Buffer = Buffer.alloc(0);
  const flushLocal = (): void => {
    while (due.length && due[0].kind === "local") client.write((due.shift() as { data: Buffer }).data);
  };
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  const select = (): void => {
    upstream.write(resp("SELECT", String(db)));
    due.push({ kind: "swallow" });
  };
  if (!password) select();
  client.on("data", (d: Buffer) => {
    fromClient = fromClient.length ? Buffer.concat([fromClient, d]) : d;
    let off = 0;
    for (let c = commandAt(fromClient, off); c; c = commandAt(fromClient, off)) {
      const raw = fromClient.subarray(off, c.end);
      off = c.end;
      if (REFUSED.has(c.name)) {
        due.push({
          kind: "local",
          data: Buffer.from(
            `-ERR g8os core0 fleet: ${c.name.toUpperCase()} is not multiplexed (it reaches other nodes' data); use one emulator (startCore0Emulator) for it\r\n`,
          ),
        });
        if (due.length === 1) flushLocal();
        continue;
      }
      upstream.write(raw);
      due.push({ kind: "pass" });
      if (c.name === "auth") select();
    }
    fromClient = fromClient.subarray(off);
  });
  upstream.on("data", (d: Buffer) => {
    fromRedis = fromRedis.length ? Buffer.concat([fromRedis, d]) : d;
    let off = 0;
    for (let end = replyEnd(fromRedis, off); end >= 0; end = replyEnd(fromRedis, off)) {
      const what = due.shift();
      if (what?.kind === "pass" || what === undefined) client.write(fromRedis.subarray(off, end));
      off = end;
      flushLocal();
    }
    fromRedis = fromRedis.subarray(off);
  });
  client.on("close", close);
  upstream.on("close", close);
  client.on("error", close);
  upstream.on("error", close);
}

/** Starts `count` emulated nodes in this process (see the file's comment). */
export async function startCore0Fleet(count: number, opts: FleetOptions): Promise<Core0Fleet> {
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`startCore0Fleet: count ${count}: must be an integer >= 1`);
  if (!opts.ipfsApi)
    throw new Error("startCore0Fleet: ipfsApi (the IPFS RPC API holding file contents) is required");
  const bind = opts.bind ?? "127.0.0.1";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-core0-fleet-"));
  const stops: Array<() => Promise<void> | void> = [() => fs.rmSync(dir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    const redis = await startNodeRedis({
      dir: path.join(dir, "redis"),
      bind,
      password: opts.password,
      databases: count,
    });
    stops.push(() => redis.stop());
    const ipfs = await startNodeIpfs(opts.ipfsApi);
    stops.push(() => ipfs.stop());
    const Redis = require("ioredis") as typeof import("ioredis").default;
    const nodes: FleetNode[] = [];
    const cores: Core0Node[] = [];
    const servers: net.Server[] = [];
    stops.push(async () => {
      await Promise.all(cores.map((c) => c.stop()));
      for (const s of servers) s.close();
    });
    for (let db = 0; db < count; db++) {
      const connect = (): import("ioredis").Redis =>
        new Redis({
          host: redis.host,
          port: redis.port,
          password: opts.password,
          db,
          maxRetriesPerRequest: null,
        });
      const publisher = connect();
      // A node's reboot empties its redis: here that is its own database, not the server's.
      publisher.flushall = publisher.flushdb.bind(publisher) as typeof publisher.flushall;
      const nodeDir = path.join(dir, `node-${db}`);
      fs.mkdirSync(nodeDir);
      const core = new Core0Node(connect(), publisher, {
        dir: nodeDir,
        nodeIpfsApi: ipfs.url,
        resultTtlSeconds: opts.resultTtlSeconds ?? 300,
        ipfsFetchTimeoutMs: 15_000,
        decodeErrorPauseMs: 10_000,
        maxJobs: 200,
        rebootMs: 1000,
      });
      core.start();
      cores.push(core);
      const server = net.createServer((c) => relay(c, redis.port, redis.host, db, !!opts.password));
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, bind, resolve);
      });
      nodes.push({ address: bind, port: (server.address() as net.AddressInfo).port });
    }
    return { nodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const a = parseOptions(process.argv.slice(2), ["nodes", "ipfs-api", "bind"]);
  if (!a["ipfs-api"]) throw new Error("--ipfs-api is required");
  const fleet = await startCore0Fleet(Number(a.nodes), {
    password: process.env.G8OS_CORE0_PASSWORD || undefined,
    ipfsApi: a["ipfs-api"],
    bind: a.bind,
  });
  console.log(JSON.stringify({ pid: process.pid, nodes: fleet.nodes }));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    fleet.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`core0 emulator fleet: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  });
}
