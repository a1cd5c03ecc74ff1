/**
 * HTTP for the key sources (Node's global fetch, with retry and tracing), and the small helpers
 * the sources share: URLs shown without their query string, fetch errors described, bounded
 * concurrency. Split out of client.ts (same behaviour).
 *
 * Plain module: no Pulumi imports (dynamic providers inline it).
 */
import { OperationError, redact } from "../shared/errors";
import { retry } from "../shared/retry";
import { trace } from "../shared/trace";
import type { FetchKeyGroupOptions } from "./client";

/** Answer of one GET/POST, or the status when the caller wants to handle it. */
export interface HttpAnswer {
  status: number;
  text: string;
}

/** Bounded, traced HTTP with errors that name the URL (never its query, which may hold a secret). */
export class KeySourceHttp {
  constructor(
    private readonly label: string,
    private readonly opts: FetchKeyGroupOptions,
  ) {}

  private get secrets(): string[] {
    return [this.opts.clientSecret ?? ""];
  }

  async request(
    method: "GET" | "POST",
    url: string,
    step: string,
    headers: Record<string, string> = {},
    extraSecrets: string[] = [],
  ): Promise<HttpAnswer> {
    const shown = showUrl(url);
    const secrets = [...this.secrets, ...extraSecrets];
    let host = "invalid-url";
    try {
      host = new URL(url).host;
    } catch {
      throw new OperationError(this.label, step, `invalid URL ${redact(shown, secrets)}`, "source.baseUrl");
    }
    try {
      return await retry(
        async () => {
          trace({ system: "keys", op: step, write: false, target: host });
          const res = await fetch(url, {
            method,
            headers: { accept: "application/json, text/plain", ...headers },
            signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000),
            redirect: "follow",
          });
          const text = await res.text();
          if (res.status >= 500) throw new ServerError(res.status, text.slice(0, 200));
          return { status: res.status, text };
        },
        {
          attempts: this.opts.attempts ?? 3,
          minDelayMs: this.opts.retryDelayMs ?? 500,
          maxDelayMs: 5_000,
        },
      );
    } catch (err) {
      const detail =
        err instanceof ServerError
          ? `${shown} answered HTTP ${err.status}${err.body ? `: ${err.body.trim()}` : ""}`
          : `cannot reach ${shown}: ${describeFetchError(err)}`;
      throw new OperationError(
        this.label,
        step,
        redact(detail, secrets),
        "that the key source URL (source.baseUrl) is right and the service is up; the next pulumi up tries again",
      );
    }
  }

  /** GET that must answer 200 with JSON. */
  async json<T>(
    url: string,
    step: string,
    headers: Record<string, string>,
    secrets: string[],
  ): Promise<HttpAnswer & { body?: T }> {
    const ans = await this.request("GET", url, step, headers, secrets);
    if (ans.status !== 200) return ans;
    try {
      return { ...ans, body: JSON.parse(ans.text) as T };
    } catch {
      throw new OperationError(
        this.label,
        step,
        `${showUrl(url)} did not answer JSON`,
        "that source.baseUrl is the API root of an ItsYou.online-compatible service",
      );
    }
  }
}

export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}`);
  }
}

/** A URL without its query string (which, for the token call, holds the client secret). */
export function showUrl(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

export function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = cause && typeof cause === "object" ? (cause as { code?: string }).code : undefined;
  if (err.name === "TimeoutError") return "timed out";
  return code ? `${err.message} (${code})` : err.message;
}

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}

export function accessError(label: string, url: string, status: number): OperationError {
  return new OperationError(
    label,
    "read key source",
    `${url} answered HTTP ${status}`,
    status === 401 || status === 403
      ? "that the organization's API key (g8os:itsyouonlineClientId) may list the organization's members"
      : "that source.baseUrl is an ItsYou.online-compatible API",
  );
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. */
export async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
