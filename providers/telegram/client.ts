/**
 * Telegram notifications for the build group: a notifier that sends plain-text messages to one chat
 * (optionally one forum topic) through the Bot API, and a digest that batches routine lines to stay
 * within Telegram's group limits while sending failures at once.
 *
 * Built on grammY's `Api` (no polling, no bot framework) with `@grammyjs/auto-retry`:
 * - 429 answers are retried after the server's `retry_after` (up to `maxRetryAfterSeconds`);
 * - 5xx answers are retried with auto-retry's backoff (3 s, 6 s, 12 s ...);
 * - network errors are retried by the shared `retry` (auto-retry's own network loop is unbounded);
 * every retry loop is bounded by `maxRetryAttempts`.
 *
 * Secrets: the bot token and any value passed in `secrets` never leave this module: a message
 * containing one is redacted (or refused, `onSecret: "refuse"`), and every error message is redacted
 * (grammY's network errors carry the request URL, which holds the token).
 *
 * Plain module: no Pulumi imports (dynamic providers inline it). grammY is required inside functions
 * so a serialized provider emits `require("grammy")`.
 */
import { InputError, OperationError, redact } from "../shared/errors";
import { retry } from "../shared/retry";
import { trace } from "../shared/trace";

/** Telegram's limit on one message's text. */
export const TELEGRAM_MAX_MESSAGE_LENGTH = 4096;

/** Where messages go. `token` is a secret. */
export interface TelegramConnection {
  /** Bot token from BotFather, `123456:ABC-...`. Secret. */
  token: string;
  /** Chat id of the build group (`-100...` for supergroups) or `@channelname`. */
  chatId: string | number;
  /** Forum topic (`message_thread_id`) inside the group; unset = the general topic. */
  topicId?: number;
  /** Bot API root without trailing slash. Default `https://api.telegram.org`. */
  apiRoot?: string;
}

export interface TelegramNotifierOptions {
  /** Values that must never appear in a message or error (passwords, keys...). The token always is one. */
  secrets?: ReadonlyArray<string | undefined>;
  /** What to do with a message that contains a secret: replace it with `[secret]` (default) or throw. */
  onSecret?: "redact" | "refuse";
  /** Label for errors, e.g. `TelegramMessage "node-up"`. Default `Telegram`. */
  label?: string;
  /** Retries of one request (429, 5xx, network) after the first attempt. Default 3. */
  maxRetryAttempts?: number;
  /** Longest `retry_after` the notifier waits for; a longer one fails the send. Default 60 s. */
  maxRetryAfterSeconds?: number;
  /**
   * Longest time one message waits, in all, through a run of 429 answers (each waited out after its
   * `retry_after`), beyond the `maxRetryAttempts` auto-retry makes: a storm of rate limits longer
   * than a few retries must not lose the message. 0 = only `maxRetryAttempts`. Default 300 s.
   */
  maxRateLimitWaitSeconds?: number;
  /** First delay before retrying a network error. Default 1 s. */
  networkRetryDelayMs?: number;
  /** Timeout of one HTTP request. Default 30 s. */
  timeoutSeconds?: number;
}

export interface SendOptions {
  /**
   * A failure or anything the group must see now: sent with a notification sound. Routine
   * messages are sent silently (`disable_notification`), so phones only buzz for problems.
   */
  urgent?: boolean;
}

/** One Telegram message that was sent (a long text becomes several). */
export interface SentMessage {
  messageId: number;
  /** As the Bot API returned it (unix seconds on Telegram). */
  date: number;
}

/** Thrown when a send fails; `sent` holds the parts of a long text that did go out before it. */
export class TelegramSendError extends OperationError {
  constructor(
    resource: string,
    step: string,
    detail: string,
    hint: string | undefined,
    readonly sent: SentMessage[],
    /** Telegram's error code (401, 400, 429, 5xx), or undefined for a network failure. */
    readonly errorCode?: number,
  ) {
    super(resource, step, detail, hint);
    this.name = "TelegramSendError";
  }
}

/**
 * Splits `text` into parts of at most `max` UTF-16 units, preferring line breaks, then spaces,
 * and never cutting a surrogate pair in two.
 */
export function splitMessage(text: string, max = TELEGRAM_MAX_MESSAGE_LENGTH): string[] {
  if (max < 2) throw new RangeError("max must be at least 2");
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf("\n", max);
    if (cut < max / 2) cut = rest.lastIndexOf(" ", max);
    if (cut < max / 2) {
      cut = max;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut -= 1; // high surrogate: keep the pair together
    }
    parts.push(rest.slice(0, cut));
    // The separator we cut at carries no content: drop it rather than start the next part with it.
    rest = rest.slice(rest[cut] === "\n" || rest[cut] === " " ? cut + 1 : cut);
  }
  if (rest.length > 0 || parts.length === 0) parts.push(rest);
  return parts;
}

/** Turns a grammY error (or anything thrown while sending) into a redacted, actionable error. */
export function describeTelegramError(
  err: unknown,
  label: string,
  secrets: ReadonlyArray<string | undefined>,
  sent: SentMessage[] = [],
): TelegramSendError {
  const { GrammyError } = require("grammy") as typeof import("grammy");
  const step = "send Telegram message";
  if (err instanceof GrammyError) {
    const code = err.error_code;
    const description = redact(err.description ?? "", secrets);
    const retryAfter = err.parameters?.retry_after;
    let hint: string;
    if (code === 401 || code === 404) {
      // The Bot API answers 404 for a malformed token, 401 for a revoked or wrong one.
      hint = "g8os:telegramBotToken (the token BotFather gave the bot, like 123456:ABC-DEF...)";
    } else if (code === 400 && /chat not found/i.test(description)) {
      hint = "g8os:telegramChatId (the build group's id, e.g. -1001234567890; the bot must be a member)";
    } else if (code === 400 && /thread not found|topic/i.test(description)) {
      hint = "g8os:telegramTopicId (a topic id of the group, or unset it for the general topic)";
    } else if (code === 403) {
      hint = "that the bot is a member of the group and may post there (g8os:telegramChatId)";
    } else if (code === 429) {
      hint = `Telegram's rate limit (retry after ${retryAfter ?? "?"} s); the next pulumi up sends it`;
    } else if (code >= 500) {
      hint = "Telegram's status; the next pulumi up sends it again";
    } else {
      hint = "the message text and g8os:telegramChatId";
    }
    return new TelegramSendError(
      label,
      step,
      `Telegram answered ${code}: ${description || "(no description)"}`,
      hint,
      sent,
      code,
    );
  }
  const raw = err instanceof Error ? err.message : String(err);
  // grammY's HttpError wraps the fetch error, whose message holds the URL and so the token.
  const inner = (err as { error?: unknown } | undefined)?.error;
  const cause = inner instanceof Error ? `: ${inner.message}` : "";
  return new TelegramSendError(
    label,
    step,
    redact(`could not reach the Telegram Bot API (${raw}${cause})`, secrets),
    "the network and the Bot API root (apiRoot); the next pulumi up sends it again",
    sent,
  );
}

/** Sends messages to one chat; see the module comment for retries and secret handling. */
export class TelegramNotifier {
  private readonly api: import("grammy").Api;
  private readonly secrets: string[];
  private readonly label: string;
  private readonly apiRoot: string;

  constructor(
    readonly connection: TelegramConnection,
    private readonly options: TelegramNotifierOptions = {},
  ) {
    this.label = options.label ?? "Telegram";
    if (typeof connection.token !== "string" || !/^\d+:[A-Za-z0-9_-]+$/.test(connection.token)) {
      throw new InputError(
        this.label,
        "connection.token",
        "is not a bot token (digits, a colon, then letters, digits, - or _)",
        "set g8os:telegramBotToken to the token BotFather gave the bot",
      );
    }
    this.secrets = [connection.token, ...(options.secrets ?? []).filter((s): s is string => !!s)];
    this.apiRoot = (connection.apiRoot ?? "https://api.telegram.org").replace(/\/+$/, "");
    const { Api } = require("grammy") as typeof import("grammy");
    const { autoRetry } = require("@grammyjs/auto-retry") as typeof import("@grammyjs/auto-retry");
    this.api = new Api(connection.token, {
      apiRoot: this.apiRoot,
      timeoutSeconds: options.timeoutSeconds ?? 30,
    });
    const host = safeHost(this.apiRoot);
    // Installed first, so it runs inside auto-retry: every HTTP attempt is counted.
    this.api.config.use((prev, method, payload, signal) => {
      trace({ system: "telegram", op: method, write: method !== "getMe", target: host });
      return prev(method, payload, signal);
    });
    this.api.config.use(
      autoRetry({
        maxRetryAttempts: options.maxRetryAttempts ?? 3,
        maxDelaySeconds: options.maxRetryAfterSeconds ?? 60,
        rethrowHttpErrors: true,
      }),
    );
  }

  /**
   * The parts `send` would post for `text`: secrets redacted (or an InputError under
   * `onSecret: "refuse"`), then split to Telegram's length limit.
   */
  prepare(text: string): string[] {
    if (typeof text !== "string" || text.trim() === "") {
      throw new InputError(this.label, "text", "is empty", "give the message some text");
    }
    const clean = redact(text, this.secrets);
    if (clean !== text && this.options.onSecret === "refuse") {
      throw new InputError(
        this.label,
        "text",
        "contains a secret value (token, password or key)",
        "leave secrets out of notifications; name the secret instead of printing it",
      );
    }
    return splitMessage(clean);
  }

  /** Sends `text` (split if long). Throws TelegramSendError naming the fix; `sent` lists what went out. */
  async send(text: string, opts: SendOptions = {}): Promise<SentMessage[]> {
    return this.sendParts(this.prepare(text), opts);
  }

  /** Sends prepared parts in order; used to resume a long message after a partial failure. */
  async sendParts(
    parts: string[],
    opts: SendOptions = {},
    alreadySent: SentMessage[] = [],
  ): Promise<SentMessage[]> {
    const { GrammyError, HttpError } = require("grammy") as typeof import("grammy");
    const sent = [...alreadySent];
    const maxAfter = this.options.maxRetryAfterSeconds ?? 60;
    for (const part of parts) {
      const rateLimitDeadline = Date.now() + (this.options.maxRateLimitWaitSeconds ?? 300) * 1000;
      const once = () =>
        retry(
          () =>
            this.api.sendMessage(this.connection.chatId, part, {
              message_thread_id: this.connection.topicId,
              disable_notification: !opts.urgent,
              link_preview_options: { is_disabled: true },
            }),
          {
            attempts: (this.options.maxRetryAttempts ?? 3) + 1,
            minDelayMs: this.options.networkRetryDelayMs ?? 1000,
            maxDelayMs: 30_000,
            retryable: (err) => err instanceof HttpError,
          },
        );
      try {
        let msg: Awaited<ReturnType<typeof once>>;
        for (;;) {
          try {
            msg = await once();
            break;
          } catch (err) {
            // auto-retry gave up on a run of 429s: wait the last retry_after again while the
            // budget lasts (a retry_after over maxRetryAfterSeconds still fails at once).
            const after =
              err instanceof GrammyError && err.error_code === 429 ? err.parameters?.retry_after : undefined;
            if (after === undefined || after > maxAfter || Date.now() + after * 1000 > rateLimitDeadline)
              throw err;
            await new Promise((r) => setTimeout(r, after * 1000));
          }
        }
        sent.push({ messageId: msg.message_id, date: msg.date });
      } catch (err) {
        throw describeTelegramError(err, this.label, this.secrets, sent);
      }
    }
    return sent;
  }
}

function safeHost(apiRoot: string): string {
  try {
    return new URL(apiRoot).host;
  } catch {
    return "invalid-api-root";
  }
}

export interface DigestOptions {
  /** Messages the digest may send per rolling minute (Telegram allows about 20 per group). Default 20. */
  maxMessagesPerMinute?: number;
  /** How often queued lines are flushed automatically; 0 = only on `flush()`/`close()`. Default 10 s. */
  flushIntervalMs?: number;
  /** Routine lines kept at most; older ones are dropped and counted in the next digest. Default 500. */
  maxQueuedLines?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Batches routine lines into few messages within Telegram's group limit, and sends urgent messages
 * at once. Routine lines may be dropped (oldest first, and the group is told how many) when the
 * queue overflows; an urgent message is never dropped: if its send fails it stays pending, is
 * retried on every flush and on close, and `urgent()` rejects so the caller knows.
 */
export class TelegramDigest {
  private readonly queue: string[];
  private readonly pendingUrgent: string[];
  private readonly sentAt: number[];
  private dropped: number;
  private timer?: ReturnType<typeof setInterval>;
  private flushing?: Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly notifier: Pick<TelegramNotifier, "send">,
    private readonly options: DigestOptions = {},
  ) {
    // Set here, not by field initializers: a serialized provider rebuilds the class from its
    // constructor and drops initializers (AppTest uses the digest inside its provider).
    this.queue = [];
    this.pendingUrgent = [];
    this.sentAt = [];
    this.dropped = 0;
    this.now = options.now ?? Date.now;
    const every = options.flushIntervalMs ?? 10_000;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.flush().catch(() => {
          // A failed routine flush keeps its lines queued; the next flush tries again.
        });
      }, every);
      this.timer.unref();
    }
  }

  /** Lines waiting to be sent (routine), and urgent messages whose send failed. */
  get pending(): { lines: number; urgent: number; dropped: number } {
    return { lines: this.queue.length, urgent: this.pendingUrgent.length, dropped: this.dropped };
  }

  /** Queues a routine line for the next digest message. */
  add(line: string): void {
    this.queue.push(line);
    const max = this.options.maxQueuedLines ?? 500;
    while (this.queue.length > max) {
      this.queue.shift();
      this.dropped++;
    }
  }

  /** Sends `text` now, whatever the budget (a 429 is waited out by the notifier). */
  async urgent(text: string): Promise<void> {
    this.pendingUrgent.push(text);
    await this.sendPendingUrgent();
  }

  /** Sends failed urgent messages, then as many routine lines as the per-minute budget allows. */
  async flush(): Promise<void> {
    // One flush at a time: a timer flush and a manual flush must not send the same lines twice.
    while (this.flushing) await this.flushing.catch(() => undefined);
    this.flushing = this.flushOnce().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Stops the timer and flushes; throws if urgent messages still could not be sent. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    if (this.pendingUrgent.length > 0) {
      throw new OperationError(
        "Telegram digest",
        "close",
        `${this.pendingUrgent.length} urgent message(s) unsent`,
      );
    }
  }

  private async flushOnce(): Promise<void> {
    await this.sendPendingUrgent();
    if (this.queue.length === 0 && this.dropped === 0) return;
    if (!this.takeBudget()) return;
    const lines = [...this.queue];
    const dropped = this.dropped;
    const text = (dropped > 0 ? [`(${dropped} earlier line(s) dropped: too many messages)`] : [])
      .concat(lines)
      .join("\n");
    const sent = await this.notifier.send(text);
    for (let i = 1; i < sent.length; i++) this.recordSend(); // a long digest went out as several messages
    // Only now forget them: a failed send leaves the lines queued for the next flush.
    this.queue.splice(0, lines.length);
    this.dropped -= dropped;
  }

  private async sendPendingUrgent(): Promise<void> {
    while (this.pendingUrgent.length > 0) {
      this.recordSend();
      await this.notifier.send(this.pendingUrgent[0], { urgent: true });
      this.pendingUrgent.shift();
    }
  }

  /** True (and the send is counted) when a routine message fits in the rolling minute. */
  private takeBudget(): boolean {
    const t = this.now();
    while (this.sentAt.length > 0 && this.sentAt[0] <= t - 60_000) this.sentAt.shift();
    if (this.sentAt.length >= (this.options.maxMessagesPerMinute ?? 20)) return false;
    this.recordSend();
    return true;
  }

  private recordSend(): void {
    this.sentAt.push(this.now());
  }
}
