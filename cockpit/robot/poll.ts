/**
 * The update loop: `getUpdates` long polling (no webhook: the cockpit listens on ZeroTier only,
 * which Telegram cannot reach). Each update is handed to the bot in order and acknowledged by the
 * next call's `offset` (Bot API `getUpdates`). A server that answers at once with nothing (the
 * test emulator ignores `timeout`) is polled again after `idleMs`; errors back off up to 30 s.
 */
import type { Bot } from "grammy";
import { errorMessage } from "../../providers/shared/errors";

/** A running loop. */
export interface Poller {
  /** Stops polling and waits for the update being handled. */
  stop(): Promise<void>;
}

export function startPolling(
  bot: Bot,
  o: { pollSeconds: number; idleMs: number; log: (line: string) => void; clean: (t: string) => string },
): Poller {
  const abort = new AbortController();
  let offset = 0;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const onAbort = () => (clearTimeout(t), resolve());
      // Removed when the timer fires, so idle polls do not pile listeners on the signal.
      const t = setTimeout(() => (abort.signal.removeEventListener("abort", onAbort), resolve()), ms);
      abort.signal.addEventListener("abort", onAbort, { once: true });
    });
  const loop = async () => {
    let backoff = 1000;
    while (!abort.signal.aborted) {
      try {
        // getMe first (grammY needs the bot's name to read `/cmd@bot`); until Telegram answers,
        // the cockpit runs without the robot's commands, and its group posts wait in the outbox.
        if (!bot.isInited()) {
          // Not bot.init(): it retries network errors forever and silently; here they are logged.
          bot.botInfo = await bot.api.getMe(abort.signal as unknown as Parameters<typeof bot.api.getMe>[0]);
          o.log(`robot: @${bot.botInfo.username} polling`);
        }
        const started = Date.now();
        const updates = await bot.api.getUpdates(
          { offset, timeout: o.pollSeconds, allowed_updates: ["message", "callback_query"] },
          // grammY types its signal with the abort-controller polyfill; Node's is the same at run time.
          abort.signal as unknown as Parameters<typeof bot.api.getUpdates>[1],
        );
        backoff = 1000;
        for (const u of updates) {
          offset = u.update_id + 1;
          await bot
            .handleUpdate(u)
            .catch((err) => o.log(`robot: update ${u.update_id}: ${o.clean(errorMessage(err))}`));
        }
        if (updates.length === 0 && Date.now() - started < o.pollSeconds * 1000) await sleep(o.idleMs);
      } catch (err) {
        if (abort.signal.aborted) break;
        o.log(
          `robot: ${bot.isInited() ? "getUpdates" : "getMe"} failed, retrying in ${backoff / 1000} s: ${o.clean(errorMessage(err))}. Check: robot.tokenFile and robot.apiRoot`,
        );
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  };
  const done = loop();
  return {
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}
