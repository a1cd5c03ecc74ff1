/**
 * The Telegram robot of the cockpit (grammY): commands (commands.ts), approval buttons
 * (approval.ts), run announcements to the build group (announce.ts, outbox.ts), the update loop
 * (poll.ts). Started by `startCockpit` when the config has `robot:`.
 */
import { announceRuns } from "./announce";
import { registerApproval } from "./approval";
import { registerCommands } from "./commands";
import { registerDrift } from "./drift";
import { clean, type RobotDeps } from "./deps";
import { GroupOutbox } from "./outbox";
import { startPolling } from "./poll";

/** A running robot. */
export interface Robot {
  /** Posts to the build group (drift alerts use it too). */
  outbox: GroupOutbox;
  /** Stops polling and listening, sends what is pending. */
  stop(): Promise<void>;
}

/** Timings for tests. */
export interface RobotTimings {
  /** Pause after an empty `getUpdates` answered at once, ms. Default 1000. */
  idleMs?: number;
  /** Digest flush interval, ms. Default 10000. */
  flushIntervalMs?: number;
}

export async function startRobot(
  d: Omit<RobotDeps, "outbox"> & { secrets: ReadonlyArray<string | undefined> },
  t: RobotTimings = {},
): Promise<Robot> {
  const { Bot } = require("grammy") as typeof import("grammy");
  const { autoRetry } = require("@grammyjs/auto-retry") as typeof import("@grammyjs/auto-retry");
  const outbox = new GroupOutbox(d.settings, d.secrets, d.log, t.flushIntervalMs);
  const deps: RobotDeps = { ...d, outbox };
  // A request outlives the long poll by a margin, never grammY's default 500 s (a dead API root
  // would hold the update loop that long).
  const bot = new Bot(d.settings.token, {
    client: { apiRoot: d.settings.apiRoot, timeoutSeconds: d.settings.pollSeconds + 20 },
  });
  // 429s are waited out (retry_after) and 5xx retried, as the notifier does.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: true }));
  registerCommands(bot, deps);
  registerApproval(bot, deps);
  registerDrift(bot, deps, d.drift);
  const unlisten = announceRuns(bot, deps);
  const poller = startPolling(bot, {
    pollSeconds: d.settings.pollSeconds,
    idleMs: t.idleMs ?? 1000,
    log: d.log,
    clean: (text) => clean(deps, text),
  });

  return {
    outbox,
    stop: async () => {
      unlisten();
      await poller.stop();
      await outbox.close();
    },
  };
}
