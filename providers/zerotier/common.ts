/**
 * What the ZeroTier providers share: the connection inputs (backend, apiUrl, secret token), their
 * check rules, and building a client from them.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 */
import { type FieldRule, httpUrl, nonEmptyString } from "../shared/validate";
import { ZerotierClient, type ZerotierBackend } from "./client";

/** How a ZeroTier resource reaches its API. `token` travels as a secret input. */
export interface ZerotierConnectionInputs {
  /** "central" (hosted, my.zerotier.com) or "controller" (zerotier-one's own controller). */
  backend: ZerotierBackend;
  /** Central: https://api.zerotier.com/api/v1. Controller: http://<host>:9993. */
  apiUrl: string;
  /** Central API token, or the controller's authtoken.secret. */
  token: string;
}

/** Inputs that only say how to reach the API: a change of these alone needs no remote write. */
export const CONNECTION_FIELDS = ["apiUrl", "token"] as const;

export function connectionRules(i: Partial<ZerotierConnectionInputs>): FieldRule[] {
  return [
    {
      path: "backend",
      value: i.backend,
      check: (v) =>
        v === "central" || v === "controller"
          ? undefined
          : 'must be "central" (hosted ZeroTier Central) or "controller" (a self-hosted zerotier-one controller)',
    },
    { path: "apiUrl", value: i.apiUrl, check: httpUrl },
    // The reason never quotes the value: it is a secret.
    { path: "token", value: i.token, check: nonEmptyString },
  ];
}

export function clientFor(i: ZerotierConnectionInputs, label: string): ZerotierClient {
  return new ZerotierClient({ backend: i.backend, apiUrl: i.apiUrl, token: i.token, label });
}

/** True when only connection fields differ between two field lists' worth of changes. */
export function onlyConnectionChanged(changed: readonly string[]): boolean {
  return changed.every((f) => (CONNECTION_FIELDS as readonly string[]).includes(f));
}
