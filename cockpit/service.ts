/**
 * Puts the cockpit together: engine, history, logs, run manager, access and the REST server,
 * from a checked config. `main.ts` calls it; tests call it with their own engine or the real one.
 */
import * as fs from "fs";
import type * as http from "http";
import type { AddressInfo } from "net";
import * as path from "path";
import { redact } from "../providers/shared/errors";
import { createApiServer } from "./api/server";
import { Authenticator } from "./auth/authenticator";
import { LoginFlow } from "./auth/login";
import { TokenStore } from "./auth/tokens";
import type { CockpitConfig } from "./config";
import { AutomationEngine } from "./runs/automation";
import type { StackEngine } from "./runs/engine";
import { RunHistory } from "./runs/history";
import { RunLogs } from "./runs/log";
import { RunManager } from "./runs/manager";
import { projectStacks } from "./runs/stacks";
import { DriftSchedule } from "./drift/schedule";
import { EnvironmentSource } from "./status/environment";
import { projectName } from "./status/state";
import { startRobot, type Robot, type RobotTimings } from "./robot/robot";

/** Overrides for tests. */
export interface CockpitOverrides {
  /** The engine; default the Automation API engine of the config. */
  engine?: StackEngine;
  /** The service log; default one line to stdout. */
  log?: (line: string) => void;
  /** SSE keepalive interval, ms; default 15000. */
  sseKeepaliveMs?: number;
  /** The robot's poll and flush timings; default the production ones. */
  robot?: RobotTimings;
}

/** A running cockpit. */
export interface Cockpit {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The run manager (the robot and the schedule will call it directly). */
  manager: RunManager;
  /** The API tokens. */
  tokens: TokenStore;
  /** Drift checks: `check()` asks them now; reports of found drift go to the robot. */
  drift: DriftSchedule;
  /** The Telegram robot, when the config has `robot:`. */
  robot?: Robot;
  /** Stops listening and stops started runs (recorded as cancelled); queued runs stay for the next start. */
  close(): Promise<void>;
}

function version(): string {
  try {
    return String(JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8")).version);
  } catch {
    return "unknown";
  }
}

/** Starts the cockpit described by `cfg`. */
export async function startCockpit(cfg: CockpitConfig, over: CockpitOverrides = {}): Promise<Cockpit> {
  const log = over.log ?? ((line: string) => console.log(`${new Date().toISOString()} ${line}`));
  // Read only to scrub it from logs and errors; the CLI gets the file path, not the value.
  const passphrase = fs.readFileSync(cfg.pulumi.passphraseFile, "utf8").trim();
  const secrets = [
    passphrase,
    cfg.auth.login?.clientSecret,
    cfg.robot?.token,
    cfg.status?.zerotier?.token,
    cfg.status?.core0?.password,
  ];
  const scrub = (text: string) => redact(text, secrets);
  fs.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  const engine =
    over.engine ??
    new AutomationEngine({
      projectDir: cfg.projectDir,
      pulumiRoot: cfg.pulumi.root,
      skipVersionCheck: cfg.pulumi.skipVersionCheck,
      backendUrl: cfg.pulumi.backendUrl,
      passphraseFile: cfg.pulumi.passphraseFile,
      ...(cfg.pulumi.home ? { pulumiHome: cfg.pulumi.home } : {}),
    });
  const stacks = () => projectStacks(cfg.projectDir, cfg.stacks);
  const logs = new RunLogs(path.join(cfg.dataDir, "logs"), scrub);
  const manager = new RunManager({
    engine,
    history: new RunHistory(cfg.dataDir),
    logs,
    stacks,
    redact: scrub,
  });
  const tokens = new TokenStore(cfg.dataDir);
  const auth = new Authenticator(cfg.auth, tokens, { clockSkewSeconds: cfg.auth.clockSkewSeconds });
  const login =
    cfg.auth.mode === "oidc" && cfg.auth.login ? new LoginFlow(cfg.auth, cfg.auth.login, auth) : undefined;
  manager.on("change", (r) => log(`run ${r.id} ${r.stack} ${r.kind} ${r.state}`));
  const environment = cfg.status
    ? new EnvironmentSource(cfg.status, {
        backendUrl: cfg.pulumi.backendUrl,
        project: projectName(cfg.projectDir),
        manager,
        redact: scrub,
      })
    : undefined;
  const server: http.Server = createApiServer({
    deps: {
      manager,
      ...(environment ? { environment } : {}),
      logs,
      engine,
      tokens,
      stacks,
      version: version(),
      ...(login ? { login } : {}),
      ...(over.sseKeepaliveMs ? { sseKeepaliveMs: over.sseKeepaliveMs } : {}),
    },
    auth,
    maxBodyBytes: cfg.maxBodyBytes,
    log,
    redact: scrub,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.listen.port, cfg.listen.host, () => resolve());
  });
  const drift = new DriftSchedule(cfg.drift, manager, stacks, log);
  let robot: Robot | undefined;
  if (cfg.robot) {
    try {
      robot = await startRobot(
        {
          settings: cfg.robot,
          manager,
          logs,
          stacks,
          redact: scrub,
          log,
          drift,
          ...(environment ? { environment } : {}),
          secrets,
        },
        over.robot ?? {},
      );
    } catch (err) {
      server.close();
      throw err;
    }
  }
  manager.start();
  drift.start();
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  log(`cockpit listening on http://${host}:${addr.port}, project ${cfg.projectDir}`);
  return {
    url: `http://${host}:${addr.port}`,
    manager,
    tokens,
    drift,
    ...(robot ? { robot } : {}),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      drift.stop();
      await manager.shutdown("cockpit shutdown");
      await robot?.stop();
    },
  };
}
