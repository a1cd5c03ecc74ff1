/**
 * Reading the ZeroTier APIs' rate-limit and retry headers, and the client's backoff.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value (docs/ARCHITECTURE.md).
 */

/**
 * Reads a `Retry-After` header (RFC 9110 section 10.2.3: delay seconds or an HTTP date) as a wait
 * in ms from `nowMs`; `undefined` when absent or unreadable (never NaN, never negative).
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/**
 * Reads an `X-Ratelimit-Reset` header as the absolute time (ms since epoch) the window resets.
 * go-ztcentral (client.go) documents it as an HTTP date (`Tue, 06 Aug 2024 20:53:48 UTC`); other
 * rate limiters send Unix seconds, so both are read. A small number (below one year of seconds) is
 * taken as seconds from now. `undefined` when absent or unreadable.
 */
export function parseRateLimitReset(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) {
    const n = Number(v);
    if (n >= 1e12) return n; // already milliseconds
    if (n >= 31_536_000) return n * 1000; // Unix seconds
    return nowMs + n * 1000; // seconds from now
  }
  const at = Date.parse(v);
  return Number.isFinite(at) ? at : undefined;
}

/**
 * The wait before retry number `attempt` (1 = after the first failure): exponential backoff from
 * `minMs` with jitter (between half and all of the step, so parallel clients spread out), never
 * shorter than what the server asked for (`serverWaitMs`), never longer than `maxMs`.
 */
export function backoffDelayMs(
  attempt: number,
  minMs: number,
  maxMs: number,
  serverWaitMs?: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  const jittered = step / 2 + random() * (step / 2);
  return Math.min(maxMs, Math.max(jittered, serverWaitMs ?? 0));
}
