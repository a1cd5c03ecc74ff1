/**
 * Testbed service "core0": an offline js-ipfs daemon and two emulated core0 nodes (the seed's
 * "2 x core0 nodes" for testing), run by a detached supervisor process so they outlive
 * `npm run testbed -- up`. State in `<stateDir>/core0/`: `password` (0600), `nodes.json`
 * (addresses, ports, IPFS API, supervisor pid), `supervisor.log`.
 */
import { spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { ServiceStatus, Testbed, TestbedService } from "../types";
import type { Core0ServiceState } from "./supervisor";

// Own small helpers: the emulator folder imports nothing from providers/ (not even through ../proc).
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Polls `check` every intervalMs until it returns true; throws naming `what` after timeoutMs. */
async function pollUntil(
  check: () => Promise<true | undefined>,
  o: { timeoutMs: number; intervalMs: number; what: string },
): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${o.timeoutMs} ms waiting for ${o.what}`);
    await new Promise((r) => setTimeout(r, o.intervalMs));
  }
}

const dirOf = (tb: Pick<Testbed, "stateDir">): string => path.join(tb.stateDir, "core0");

/** The running service's nodes, or undefined when it is down. */
export function core0ServiceState(tb: Pick<Testbed, "stateDir">): Core0ServiceState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(dirOf(tb), "nodes.json"), "utf8")) as Core0ServiceState;
    return pidAlive(s.pid) ? s : undefined;
  } catch {
    return undefined;
  }
}

export const core0Service: TestbedService = {
  name: "core0",
  async up(tb) {
    if (core0ServiceState(tb)) return;
    await this.down(tb); // clear a half-up leftover
    const dir = dirOf(tb);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pwFile = path.join(dir, "password");
    if (!fs.existsSync(pwFile))
      fs.writeFileSync(pwFile, randomBytes(24).toString("hex") + "\n", { mode: 0o600 });
    const log = fs.openSync(path.join(dir, "supervisor.log"), "a");
    const child = spawn(
      process.execPath,
      [
        require.resolve("ts-node/dist/bin.js"),
        "--transpile-only",
        path.join(__dirname, "supervisor.ts"),
        "--dir",
        dir,
        "--nodes",
        "2",
      ],
      { detached: true, stdio: ["ignore", log, log] },
    );
    child.unref();
    fs.closeSync(log);
    await pollUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`core0 supervisor exited; see ${dir}/supervisor.log`);
        return core0ServiceState(tb) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: "core0 emulators and js-ipfs to start" },
    );
  },
  async down(tb) {
    const file = path.join(dirOf(tb), "nodes.json");
    let pid: number | undefined;
    try {
      pid = (JSON.parse(fs.readFileSync(file, "utf8")) as Core0ServiceState).pid;
    } catch {
      return;
    }
    if (pid && pidAlive(pid)) {
      signal(pid, "SIGTERM");
      await pollUntil(async () => (pidAlive(pid!) ? undefined : true), {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `core0 supervisor ${pid} to stop`,
      }).catch(() => signal(pid!, "SIGKILL"));
    }
    fs.rmSync(file, { force: true });
  },
  async status(tb): Promise<ServiceStatus> {
    const s = core0ServiceState(tb);
    if (!s) return { up: false, detail: "not running" };
    return {
      up: true,
      detail: `nodes ${s.nodes.map((n) => `${n.address}:${n.port}`).join(", ")}; ipfs ${s.ipfsApi}; pid ${s.pid}`,
    };
  },
};
