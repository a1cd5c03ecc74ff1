/**
 * Starts and stops a real IPFS daemon (js-ipfs, `node_modules/.bin/jsipfs`) OFFLINE on loopback:
 * `init --profile test`, API/Gateway/RPC on free loopback ports, no swarm, `daemon --offline
 * --enable-preload=false`, ready when it prints "Daemon is ready". An initialised repo is cached
 * (init takes seconds) and copied for each daemon.
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";

const JSIPFS = path.join(__dirname, "../../node_modules/.bin/jsipfs");
const CACHE = path.join(__dirname, "../../.testbed/ipfs-repo-template");

export interface IpfsDaemon {
  /** RPC API base URL, e.g. http://127.0.0.1:41234 */
  apiUrl: string;
  repo: string;
  pid: number;
  stop(): Promise<void>;
}

async function jsipfs(repo: string, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(JSIPFS, args, {
    env: { ...process.env, IPFS_PATH: repo },
    timeout: 60_000,
  });
  return stdout;
}

async function templateRepo(): Promise<string> {
  if (fs.existsSync(path.join(CACHE, "config"))) return CACHE;
  const tmp = `${CACHE}.${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(tmp), { recursive: true });
  await jsipfs(tmp, ["init", "--profile", "test"]);
  await jsipfs(tmp, ["config", "--json", "Addresses.Swarm", "[]"]);
  // Port 0 everywhere: several daemons can run at once, and none takes a well-known port.
  for (const k of ["API", "Gateway", "RPC"])
    await jsipfs(tmp, ["config", `Addresses.${k}`, "/ip4/127.0.0.1/tcp/0"]);
  try {
    fs.renameSync(tmp, CACHE);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another process cached it first
  }
  return CACHE;
}

export async function startIpfsDaemon(opts: { dir?: string } = {}): Promise<IpfsDaemon> {
  const template = await templateRepo();
  const ownDir = !opts.dir;
  const base = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "g8os-ipfs-"));
  const repo = path.join(base, "repo");
  fs.cpSync(template, repo, { recursive: true });
  const child: ChildProcess = spawn(JSIPFS, ["daemon", "--offline", "--enable-preload=false"], {
    env: { ...process.env, IPFS_PATH: repo },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const apiUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`jsipfs daemon not ready within 60 s: ${log.slice(-500)}`));
    }, 60_000);
    const onData = (d: Buffer): void => {
      log += d.toString();
      const api = /HTTP API listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(log);
      if (api && log.includes("Daemon is ready")) {
        clearTimeout(timer);
        resolve(`http://${api[1]}:${api[2]}`);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`jsipfs daemon exited (${code}): ${log.slice(-500)}`));
    });
  });
  return {
    apiUrl,
    repo,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await gone;
        clearTimeout(t);
      }
      if (ownDir) fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Adds bytes through the RPC API (`POST /api/v0/add`), returns the CID string. */
export async function ipfsAdd(apiUrl: string, content: Buffer | string, name = "file"): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([typeof content === "string" ? Buffer.from(content) : content]), name);
  const res = await fetch(`${apiUrl}/api/v0/add?pin=true`, { method: "POST", body: form });
  if (!res.ok) throw new Error(`ipfs add: HTTP ${res.status}: ${await res.text()}`);
  const lines = (await res.text()).trim().split("\n");
  return (JSON.parse(lines[lines.length - 1]) as { Hash: string }).Hash;
}
