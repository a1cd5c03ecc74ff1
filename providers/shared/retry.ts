/**
 * Retry with backoff and polling with a deadline. Every wait in this project goes through
 * these two functions: no fixed sleeps, no unbounded loops.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface RetryOptions {
  /** Attempts in all, including the first. Default 5. */
  attempts?: number;
  /** First backoff delay. Default 200 ms; doubles each time, with jitter. */
  minDelayMs?: number;
  /** Cap on one delay. Default 10 s. */
  maxDelayMs?: number;
  /**
   * Decides whether an error is worth another attempt, and may ask for a specific delay
   * (e.g. a server's `Retry-After`). Return `false` to fail at once, `true` for backoff,
   * or a number of milliseconds to wait. Default: retry every error.
   */
  retryable?: (err: unknown, attempt: number) => boolean | number;
  /** Called before each wait, e.g. to log at debug level. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it succeeds or the attempts are spent; rethrows the last error. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const min = opts.minDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 10_000;
  let lastErr: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      lastErr = err;
      const verdict = opts.retryable ? opts.retryable(err, attempt) : true;
      if (verdict === false || attempt === attempts) throw err;
      const backoff = Math.min(max, min * 2 ** (attempt - 1));
      const delay =
        typeof verdict === "number" ? Math.min(verdict, max) : backoff / 2 + Math.random() * (backoff / 2);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
  throw lastErr;
}

export interface PollOptions {
  /** Give up after this long. Required: every poll has a deadline. */
  timeoutMs: number;
  /** Delay between checks. Default 1 s. */
  intervalMs?: number;
  /** What we wait for, for the timeout message: "ZeroTier IP for member abc". */
  what: string;
}

/** Thrown when a poll's deadline passes; carries the last observation for the message. */
export class PollTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastObservation?: string,
  ) {
    const message =
      `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}` +
      (lastObservation ? ` (last seen: ${lastObservation})` : "");
    super(message);
    // Serialized providers run classes as functions (Error.call sets no message): set it here too.
    this.message = message;
    this.name = "PollTimeoutError";
  }
}

/**
 * Calls `check` until it returns a value other than `undefined`, or the deadline passes.
 * `check` may return `{ pending: "..." }` to describe what it saw, for the timeout message.
 * Errors thrown by `check` propagate at once (wrap them if they are transient).
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined | { pending: string }>,
  opts: PollOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 1000;
  let last: string | undefined;
  for (;;) {
    const v = await check();
    if (v !== undefined && !(typeof v === "object" && v !== null && "pending" in (v as object)))
      return v as T;
    if (v !== undefined) last = (v as { pending: string }).pending;
    const left = deadline - Date.now();
    if (left <= 0) throw new PollTimeoutError(opts.what, opts.timeoutMs, last);
    await sleep(Math.min(interval, left));
  }
}
