/**
 * What the ZeroTier providers share: the connection inputs (backend, apiUrl, secret token) as kit
 * field declarations, and building a client from them. Provider methods are wrapped with
 * `withRealErrors` so what they throw is a real Error in the dynamic-provider host.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 */
import { httpUrl, nonEmptyString } from "../shared/validate";
import { required } from "../shared/resource-kit";
import { ZerotierClient } from "./client";
import type { ZerotierBackend } from "./model";

/** How a ZeroTier resource reaches its API. `token` travels as a secret input. */
export interface ZerotierConnectionInputs {
  /** "central" (hosted, my.zerotier.com) or "controller" (zerotier-one's own controller). */
  backend: ZerotierBackend;
  /** Central: https://api.zerotier.com/api/v1. Controller: http://<host>:9993. */
  apiUrl: string;
  /** Central API token, or the controller's authtoken.secret. */
  token: string;
}

/** The connection fields every ZeroTier resource declares first (kit field declarations). */
export const connectionFields = {
  /** "central" (hosted ZeroTier Central) or "controller" (a self-hosted zerotier-one controller). Replaces. */
  backend: required<ZerotierBackend>({
    validate: (v) =>
      v === "central" || v === "controller"
        ? undefined
        : 'must be "central" (hosted ZeroTier Central) or "controller" (a self-hosted zerotier-one controller)',
    change: "replace",
  }),
  /** API base URL. Central: https://api.zerotier.com/api/v1. Controller: http://<host>:9993. */
  apiUrl: required<string>({ validate: httpUrl }),
  /** Central API token, or the controller's authtoken.secret. Stored encrypted (always a secret). */
  // The reason never quotes the value: it is a secret.
  token: required<string>({ validate: nonEmptyString, secret: true }),
};

/** Inputs that only say how to reach the API: a change of these alone needs no remote write. */
export const CONNECTION_FIELDS = ["apiUrl", "token"] as const;

export function clientFor(i: ZerotierConnectionInputs, label: string): ZerotierClient {
  return new ZerotierClient({ backend: i.backend, apiUrl: i.apiUrl, token: i.token, label });
}

/** True when only connection fields differ between two field lists' worth of changes. */
export function onlyConnectionChanged(changed: readonly string[]): boolean {
  return changed.every((f) => (CONNECTION_FIELDS as readonly string[]).includes(f));
}

/**
 * Pulumi's closure serialiser turns `class X extends Error` into a plain function whose `super()`
 * call creates nothing, so in the dynamic-provider host an OperationError/InputError has no
 * `message` and is not an Error (the user would see "[object Object]"). This rebuilds a real Error
 * with the same text and fields; partial-create errors (real Errors) pass through unchanged.
 */
export function realError(err: unknown): unknown {
  if (err instanceof Error || !err || typeof err !== "object") return err;
  const e = err as Record<string, unknown>;
  const message =
    typeof e.message === "string"
      ? e.message
      : "detail" in e
        ? `${e.resource}: ${e.step} failed: ${e.detail}${e.hint ? `. Check: ${e.hint}` : ""}`
        : "problem" in e
          ? `${e.resource}: ${e.field}: ${e.problem}. Fix: ${e.fix}`
          : String(err);
  return Object.assign(new Error(message), e);
}

/** Wraps every method of a provider so whatever it throws reaches the engine as a real Error. */
export function withRealErrors<P extends object>(provider: P): P {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(provider)) {
    out[name] = async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        throw realError(err);
      }
    };
  }
  return out as P;
}
