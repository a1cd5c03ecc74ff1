/**
 * Posts to the build group within Telegram's group limit, through the project's Telegram
 * notifier and digest (providers/telegram/client.ts): successful runs are routine lines batched
 * into few messages (at most `maxMessagesPerMinute`), failures and drift are urgent (sent at
 * once, never dropped: a send that fails stays pending and is retried on every flush).
 */
import { errorMessage } from "../../providers/shared/errors";
import { TelegramDigest, TelegramNotifier } from "../../providers/telegram/client";
import type { RobotSettings } from "./settings";

export class GroupOutbox {
  private readonly digest: TelegramDigest;

  constructor(
    s: RobotSettings,
    /** Values never sent (the passphrase, secrets of the login); the bot token always is one. */
    secrets: ReadonlyArray<string | undefined>,
    private readonly log: (line: string) => void,
    /** How often routine lines are flushed, ms. Default 10000. */
    flushIntervalMs = 10_000,
  ) {
    const notifier = new TelegramNotifier(
      { token: s.token, chatId: s.chatId, apiRoot: s.apiRoot, ...(s.topicId ? { topicId: s.topicId } : {}) },
      { secrets, label: "cockpit robot group post" },
    );
    this.digest = new TelegramDigest(notifier, {
      maxMessagesPerMinute: s.maxMessagesPerMinute,
      flushIntervalMs,
    });
  }

  /** Queues a routine line (a successful run) for the next digest message. */
  routine(text: string): void {
    this.digest.add(text);
  }

  /** Sends `text` now (failures, drift); a failed send stays pending and is retried on the next flush. */
  urgent(text: string): void {
    this.digest
      .urgent(text)
      .catch((err) => this.log(`robot: group post pending, will retry: ${errorMessage(err)}`));
  }

  /** What waits to be sent. */
  get pending(): { lines: number; urgent: number; dropped: number } {
    return this.digest.pending;
  }

  /** Sends what waits now (tests, shutdown). */
  async flush(): Promise<void> {
    await this.digest.flush();
  }

  /** Flushes and stops; logs (does not throw) when urgent posts remain unsent. */
  async close(): Promise<void> {
    try {
      await this.digest.close();
    } catch (err) {
      this.log(`robot: ${errorMessage(err)}`);
    }
  }
}
