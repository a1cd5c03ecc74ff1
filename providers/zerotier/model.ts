/**
 * The one model of ZeroTier's two management APIs (see ./client.ts): how to reach an API, and the
 * network and member settings this project manages.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value (docs/ARCHITECTURE.md).
 */

export type ZerotierBackend = "central" | "controller";

/** Where and how to reach the API. `token` is a secret: it never appears in messages. */
export interface ZerotierConnection {
  backend: ZerotierBackend;
  /** Central: `https://api.zerotier.com/api/v1`. Controller: `http://127.0.0.1:9993` (no `/controller`). */
  apiUrl: string;
  token: string;
}

export interface ZerotierClientOptions extends ZerotierConnection {
  /** Who is calling, for error messages: `ZerotierNetwork "build"`. Default "ZeroTier API". */
  label?: string;
  /** Attempts per request for 429/5xx/connection errors (the first included). Default 6. */
  attempts?: number;
  /**
   * First backoff delay; it doubles per attempt (with jitter: each wait is between half and all
   * of it), up to `maxRateLimitWaitMs`. Default 250 ms, so 6 attempts wait about 4 to 8 s in all.
   */
  minDelayMs?: number;
  /** Per-request timeout. Default 30 s. */
  requestTimeoutMs?: number;
  /**
   * Longest single wait: caps the backoff and any `Retry-After` / `X-Ratelimit-Reset` the server
   * asks for (a far-off reset is not waited for whole; the attempts run out instead). Default 10 s.
   */
  maxRateLimitWaitMs?: number;
}

export interface IpPool {
  start: string;
  end: string;
}
export interface ZtRoute {
  target: string;
  /** Gateway; `null` for a route the network itself serves. */
  via: string | null;
}
export interface ZtDns {
  domain: string;
  servers: string[];
}

/** The settings of a network that this project manages. */
export interface NetworkConfig {
  name: string;
  /** `undefined` when the backend does not store descriptions (controller). */
  description?: string;
  private: boolean;
  ipAssignmentPools: IpPool[];
  routes: ZtRoute[];
  v4AutoAssign: boolean;
  dns: ZtDns;
  /** Flow rules source. `undefined` when the backend ignores it (controller). */
  rulesSource?: string;
}

export interface Network extends NetworkConfig {
  /** 16 hex characters. */
  id: string;
}

/** The settings of a member that this project manages. */
export interface MemberConfig {
  name?: string;
  /** `undefined` when the backend does not store it (controller). */
  description?: string;
  /** `undefined` when the backend does not store it (controller). */
  hidden?: boolean;
  authorized: boolean;
  /** Every IP assigned to the member: fixed ones and, once the node asked for its config, auto ones. */
  ipAssignments: string[];
  noAutoAssignIps: boolean;
}

export interface Member extends MemberConfig {
  networkId: string;
  /** 10 hex characters (the node address). */
  memberId: string;
  /** Last time the controller heard from the node (ms since epoch); 0 = never. */
  lastSeen: number;
}
