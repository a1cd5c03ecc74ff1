/**
 * Testbed service "zerotier": the ZeroTier stand-ins on the testbed.
 * - up: starts the API stand-in (Central at /api/v1, controller at /controller, see standin.ts) as a
 *   detached daemon on the public bridge's gateway (10.213.0.1, ephemeral port), installs the node agent
 *   stand-in as /usr/local/sbin/zerotier-cli (and zerotier-idtool), and writes each host's /var/lib/zerotier-one/g8os-standin.json
 *   (controller URL, ZeroTier bridge) so `zerotier-cli` on the host works like an installed zerotier-one.
 * - down: stops every host's agent and the daemon, removes the files it installed.
 * Tests get the URLs and token with `zerotierStandInInfo(tb)`.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { OperationError } from "../../../providers/shared/errors";
import { pollUntil } from "../../../providers/shared/retry";
import { pidAlive, signal } from "../proc";
import type { ServiceStatus, Testbed, TestbedService, TestHost } from "../types";
import { TS_REGISTER } from "../../ts-register-path";

/** Where the node agent is installed on the (shared) filesystem of the testbed machine. */
export const ZEROTIER_CLI_PATH = "/usr/local/sbin/zerotier-cli";
/** zerotier-idtool: the same script (it answers by its name, as zerotier-one's binary does). */
export const ZEROTIER_IDTOOL_PATH = "/usr/local/sbin/zerotier-idtool";
const AGENT_SOURCE = path.join(__dirname, "zerotier-cli.js");
const AGENT_MARKER = "Stand-in for a test host's `zerotier-one`";
const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

export interface ZerotierStandInInfo {
  /** Controller apiUrl (root of the stand-in). */
  url: string;
  /** Central apiUrl. */
  centralUrl: string;
  controllerAddress: string;
  /** API token for both APIs (Central token, controller authtoken.secret). */
  token: string;
  port: number;
  pid: number;
}

function serviceDir(tb: Testbed): string {
  return path.join(tb.stateDir, "zerotier");
}
function infoFile(tb: Testbed): string {
  return path.join(serviceDir(tb), "standin.json");
}
function hostZtDir(h: TestHost): string {
  return path.join(h.dir, "zerotier-one");
}

/** The running stand-in's URLs and token, or undefined when the service is down. */
export function zerotierStandInInfo(tb: Testbed): ZerotierStandInInfo | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(infoFile(tb), "utf8")) as Partial<ZerotierStandInInfo>;
    return info.pid && info.url && pidAlive(info.pid) ? (info as ZerotierStandInInfo) : undefined;
  } catch {
    return undefined;
  }
}

async function startDaemon(tb: Testbed): Promise<ZerotierStandInInfo> {
  fs.mkdirSync(serviceDir(tb), { recursive: true, mode: 0o700 });
  const file = infoFile(tb);
  fs.writeFileSync(
    file,
    JSON.stringify({
      bind: tb.publicBridge.gateway,
      token: crypto.randomBytes(18).toString("hex"),
      attachBridge: tb.ztBridge.name,
    }),
    { mode: 0o600 },
  );
  const log = fs.openSync(path.join(serviceDir(tb), "standin.log"), "a");
  try {
    const child = spawn(process.execPath, ["-r", TS_REGISTER, path.join(__dirname, "daemon.ts"), file], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ["ignore", log, log],
    });
    child.unref();
  } finally {
    fs.closeSync(log);
  }
  return pollUntil(
    async () => {
      const info = zerotierStandInInfo(tb);
      if (!info) return { pending: "daemon not ready" };
      const r = await fetch(`${info.url}/controller`, { headers: { "x-zt1-auth": info.token } }).catch(
        () => undefined,
      );
      return r?.ok ? info : { pending: `GET /controller: ${r ? r.status : "no answer"}` };
    },
    {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: `the ZeroTier stand-in (log: ${serviceDir(tb)}/standin.log)`,
    },
  );
}

function installAgent(tb: Testbed, info: ZerotierStandInInfo): void {
  fs.copyFileSync(AGENT_SOURCE, `${ZEROTIER_CLI_PATH}.tmp`);
  fs.chmodSync(`${ZEROTIER_CLI_PATH}.tmp`, 0o755);
  fs.renameSync(`${ZEROTIER_CLI_PATH}.tmp`, ZEROTIER_CLI_PATH);
  fs.rmSync(ZEROTIER_IDTOOL_PATH, { force: true });
  fs.symlinkSync(path.basename(ZEROTIER_CLI_PATH), ZEROTIER_IDTOOL_PATH);
  for (const h of tb.hosts) {
    fs.mkdirSync(hostZtDir(h), { recursive: true, mode: 0o700 });
    // rootNetnsPid: a process in the root namespace, where the agent moves its veth peer to.
    const cfg = { controllerUrl: info.url, rootNetnsPid: info.pid, manageInterfaces: true };
    fs.writeFileSync(path.join(hostZtDir(h), "g8os-standin.json"), JSON.stringify(cfg, null, 2) + "\n");
  }
}

async function stopAgents(tb: Testbed): Promise<void> {
  for (const h of tb.hosts) {
    const pidFile = path.join(hostZtDir(h), "agent.pid");
    const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim()) : 0;
    if (pid > 0 && pidAlive(pid)) signal(pid, "SIGTERM");
    fs.rmSync(path.join(hostZtDir(h), "g8os-standin.json"), { force: true });
  }
}

export const zerotierService: TestbedService = {
  name: "zerotier",

  async up(tb) {
    const info = zerotierStandInInfo(tb) ?? (await startDaemon(tb));
    installAgent(tb, info);
  },

  async down(tb) {
    await stopAgents(tb);
    const info = zerotierStandInInfo(tb);
    if (info) {
      signal(info.pid, "SIGTERM");
      await pollUntil(async () => (pidAlive(info.pid) ? { pending: `pid ${info.pid}` } : true), {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: "the ZeroTier stand-in to exit",
      }).catch(() => signal(info.pid, "SIGKILL"));
    }
    fs.rmSync(infoFile(tb), { force: true });
    if (
      fs.existsSync(ZEROTIER_CLI_PATH) &&
      fs.readFileSync(ZEROTIER_CLI_PATH, "utf8").includes(AGENT_MARKER)
    ) {
      fs.rmSync(ZEROTIER_CLI_PATH, { force: true });
      fs.rmSync(ZEROTIER_IDTOOL_PATH, { force: true });
    }
  },

  async status(tb): Promise<ServiceStatus> {
    const info = zerotierStandInInfo(tb);
    if (!info) return { up: false, detail: "stand-in daemon not running" };
    const r = await fetch(`${info.url}/controller`, { headers: { "x-zt1-auth": info.token } }).catch(
      () => undefined,
    );
    if (!r?.ok) return { up: false, detail: `stand-in pid ${info.pid} does not answer at ${info.url}` };
    if (!fs.existsSync(ZEROTIER_CLI_PATH)) return { up: false, detail: `${ZEROTIER_CLI_PATH} missing` };
    return {
      up: true,
      detail: `API ${info.url} (central ${info.centralUrl}), controller ${info.controllerAddress}, pid ${info.pid}`,
    };
  },
};

/** Throws a clear error unless the service is up (for tests that need it). */
export function requireZerotierStandIn(tb: Testbed): ZerotierStandInInfo {
  const info = zerotierStandInInfo(tb);
  if (!info) {
    throw new OperationError(
      "Testbed",
      "ZeroTier stand-in",
      "not running",
      '`npm run testbed -- up` (service "zerotier")',
    );
  }
  return info;
}

export default zerotierService;

/** The module itself is the service too: `{ name, up, down, status }`. */
export const { name, up, down, status } = zerotierService;
