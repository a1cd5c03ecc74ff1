/**
 * The two services a core0 v0.9.0 node runs next to core0 itself, as the emulator provides them:
 * - its redis (`core0/conf/redis.toml`: no password in the stock image; `requirepass` only when the
 *   emulated image is configured with one), a real `redis-server` on loopback;
 * - its local IPFS daemon (`core0/conf/ipfs.toml`, go-ipfs at localhost:5001, which core0 reads with
 *   path-style `POST /api/v0/cat/<hash>`): a small HTTP front that accepts exactly that call and
 *   forwards it as `cat?arg=<hash>` to the configured IPFS RPC API (js-ipfs here does not take path
 *   arguments). Every other path answers 404.
 * Own code on purpose: the emulator imports nothing from the product (providers/).
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";

export interface NodeRedis {
  /** Listen address (loopback). */
  host: string;
  /** Listen port. */
  port: number;
  /** SIGTERM (SIGKILL after 5 s) and wait for exit. */
  stop(): Promise<void>;
}

function freeLoopbackPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Starts redis-server with its config (and password, if any) in a 0600 file under `dir`. */
export async function startNodeRedis(opts: {
  dir: string;
  bind: string;
  port?: number;
  password?: string;
  /** redis `databases`: only the many-node fleet (fleet.ts) sets it, one database per node. Default redis's 16. */
  databases?: number;
}): Promise<NodeRedis> {
  const port = opts.port || (await freeLoopbackPort(opts.bind));
  fs.mkdirSync(opts.dir, { recursive: true });
  const conf = path.join(opts.dir, "redis.conf");
  const lines = [
    `bind ${opts.bind}`,
    `port ${port}`,
    `dir ${opts.dir}`,
    "save ''",
    "appendonly no",
    "daemonize no",
    `logfile ${path.join(opts.dir, "redis.log")}`,
    ...(opts.password ? [`requirepass ${opts.password}`] : []),
    ...(opts.databases ? [`databases ${opts.databases}`] : []),
  ];
  fs.writeFileSync(conf, lines.join("\n") + "\n", { mode: 0o600 });
  const child: ChildProcess = spawn("redis-server", [conf], { stdio: "ignore" });
  let exited = false;
  child.once("exit", () => (exited = true));
  const deadline = Date.now() + 10_000;
  while (!(await connects(opts.bind, port))) {
    if (exited) throw new Error(`core0 emulator: redis-server exited at start; see ${opts.dir}/redis.log`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`core0 emulator: redis-server on ${opts.bind}:${port} not listening after 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: opts.bind,
    port,
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(t);
    },
  };
}

export interface NodeIpfs {
  /** Base URL of the node-local API, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Closes the server and its connections. */
  stop(): Promise<void>;
}

/** The node's IPFS API front: `POST /api/v0/cat/<hash>` -> upstream `POST /api/v0/cat?arg=<hash>`. */
export async function startNodeIpfs(upstream: string): Promise<NodeIpfs> {
  const base = upstream.replace(/\/$/, "");
  const server = http.createServer((req, res) => {
    const m = /^\/api\/v0\/cat\/([^/?]+)$/.exec(req.url ?? "");
    if (req.method !== "POST" || !m) {
      res.writeHead(404, { "content-type": "text/plain" }).end("404 page not found\n");
      return;
    }
    const ctl = new AbortController();
    res.on("close", () => ctl.abort());
    fetch(`${base}/api/v0/cat?arg=${encodeURIComponent(decodeURIComponent(m[1]))}`, {
      method: "POST",
      signal: ctl.signal,
    })
      .then(async (up) => {
        res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "text/plain" });
        res.end(Buffer.from(await up.arrayBuffer()));
      })
      .catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(err.message);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
