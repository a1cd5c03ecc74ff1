/**
 * Starts and stops a real `redis-server` (Debian's redis-server package) with `requirepass`, for the
 * core0 emulator and the core0 client tests. One server per call; its files live in its own dir.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { pollUntil } from "../../providers/shared/retry";

export interface RedisServerOptions {
  /** `requirepass`; unset = no password (tests of the "node without password" case only). */
  password?: string;
  /** Default 127.0.0.1. */
  bind?: string;
  /** Default 0 = pick a free port. */
  port?: number;
  /** Working dir (logs, config); default a fresh temp dir removed on stop. */
  dir?: string;
}

export interface RedisServer {
  host: string;
  port: number;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

/** Asks the kernel for a free TCP port on `host` (listen on 0, read it, close). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const host = opts.bind ?? "127.0.0.1";
  const port = opts.port || (await freePort(host));
  const ownDir = !opts.dir;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "g8os-redis-"));
  fs.mkdirSync(dir, { recursive: true });
  const conf = [
    `bind ${host}`,
    `port ${port}`,
    `dir ${dir}`,
    "save ''",
    "appendonly no",
    "daemonize no",
    `logfile ${path.join(dir, "redis.log")}`,
    // The password goes in a 0600 file, never on a command line other users could read.
    ...(opts.password ? [`requirepass ${opts.password}`] : []),
  ].join("\n");
  const confPath = path.join(dir, "redis.conf");
  fs.writeFileSync(confPath, conf + "\n", { mode: 0o600 });
  const child: ChildProcess = spawn("redis-server", [confPath], { stdio: "ignore" });
  let exited = false;
  child.once("exit", () => (exited = true));
  await pollUntil(
    async () => {
      if (exited) throw new Error(`redis-server on ${host}:${port} exited at start; see ${dir}/redis.log`);
      return (await canConnect(host, port)) ? true : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 50, what: `redis-server on ${host}:${port}` },
  );
  return {
    host,
    port,
    dir,
    pid: child.pid!,
    async stop() {
      if (!exited) {
        const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (!exited) child.kill("SIGKILL");
      }
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
