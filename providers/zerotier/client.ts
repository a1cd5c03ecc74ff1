/**
 * One client for ZeroTier's two management APIs, normalised into one model (Network, Member):
 * - `central`: the hosted Central API v1 (`Authorization: token <t>`, objects wrapped in `config`,
 *   updates are POSTs of partial objects);
 * - `controller`: a self-hosted controller inside zerotier-one (`/controller`, `X-ZT1-Auth`, flat
 *   objects, member list is `{id: revision}`, network create via `<controllerAddress>______`).
 *
 * Fields a backend does not store (controller: network description, member description/hidden;
 * controller: rulesSource) come back `undefined`, so callers can tell "not stored" from "empty".
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value (docs/ARCHITECTURE.md).
 */
import { OperationError, redact } from "../shared/errors";
import { retry, sleep } from "../shared/retry";
import { trace } from "../shared/trace";
import { ZerotierApiError } from "./api-error";
import { canonicalIPv4 } from "./ipv4";
import type {
  Member,
  MemberConfig,
  Network,
  NetworkConfig,
  ZerotierBackend,
  ZerotierClientOptions,
} from "./model";
import { normaliseNetworkConfig } from "./network-config";
import { backoffDelayMs, parseRateLimitReset, parseRetryAfter } from "./rate-limit";

// Everything importable from here before the split into one-job files stays importable from here.
export * from "./api-error";
export * from "./ipv4";
export * from "./model";
export * from "./network-config";
export * from "./rate-limit";

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `v` when it is a JSON object, else `{}` (a null `config`, `dns`, `v4AssignMode`...). */
function objectOr(v: unknown): Json {
  return isObject(v) ? v : {};
}

/** Talks to one ZeroTier API. Stateless apart from the cached controller address and rate-limit view. */
export class ZerotierClient {
  private readonly base: string;
  private readonly label: string;
  private controllerAddressCache?: string;
  /** What the last answer said about the rate limit (Central): remaining calls and reset time. */
  private rateRemaining?: number;
  private rateResetAtMs?: number;

  constructor(private readonly opts: ZerotierClientOptions) {
    this.base = opts.apiUrl.replace(/\/+$/, "");
    this.label = opts.label ?? "ZeroTier API";
  }

  get backend(): ZerotierBackend {
    return this.opts.backend;
  }

  /** The controller's node address (10 hex), the prefix of every network id it creates. */
  async controllerAddress(): Promise<string> {
    if (this.opts.backend !== "controller") {
      throw new OperationError(
        this.label,
        "read controller address",
        "only a self-hosted controller has one",
      );
    }
    if (!this.controllerAddressCache) {
      const st = (await this.request("GET", "/status", "status")) as Json;
      const addr = String(st.address ?? "");
      if (!/^[0-9a-f]{10}$/.test(addr)) {
        throw new OperationError(
          this.label,
          "GET /status",
          "the answer carries no 10-hex node address",
          "that apiUrl points at zerotier-one's local API (port 9993), not at a proxy or another service",
        );
      }
      this.controllerAddressCache = addr;
    }
    return this.controllerAddressCache;
  }

  // ---- networks ----

  async listNetworks(): Promise<string[]> {
    if (this.opts.backend === "central") {
      const list = await this.request("GET", "/network", "network list");
      return (Array.isArray(list) ? list : []).filter(isObject).map((n) => String(n.id));
    }
    const list = await this.request("GET", "/controller/network", "network list");
    return (Array.isArray(list) ? list : []).filter((x): x is string => typeof x === "string");
  }

  /** The network, or `undefined` when it does not exist (deleted outside, never created). */
  async getNetwork(id: string): Promise<Network | undefined> {
    const raw = await this.requestOrMissing("GET", this.networkPath(id), "network");
    return raw === undefined ? undefined : this.toNetwork(raw as Json);
  }

  async createNetwork(config: NetworkConfig): Promise<Network> {
    if (this.opts.backend === "central") {
      const raw = await this.request("POST", "/network", "network", this.networkBody(config));
      return this.toNetwork(raw as Json);
    }
    const addr = await this.controllerAddress();
    const raw = await this.request(
      "POST",
      `/controller/network/${addr}______`,
      "network",
      this.networkBody(config),
    );
    return this.toNetwork(raw as Json);
  }

  /** Partial update: only the fields given are sent. */
  async updateNetwork(id: string, patch: Partial<NetworkConfig>): Promise<Network> {
    const raw = await this.request("POST", this.networkPath(id), "network", this.networkBody(patch));
    return this.toNetwork(raw as Json);
  }

  /** Deletes; returns false when the network was already gone. */
  async deleteNetwork(id: string): Promise<boolean> {
    return (await this.requestOrMissing("DELETE", this.networkPath(id), "network")) !== undefined;
  }

  // ---- members ----

  async listMembers(networkId: string): Promise<string[]> {
    const raw = await this.request("GET", `${this.networkPath(networkId)}/member`, "member list");
    if (this.opts.backend === "central")
      return (Array.isArray(raw) ? raw : []).filter(isObject).map((m) => String(m.nodeId));
    // The controller answers {"<memberId>": revision}.
    return Object.keys(objectOr(raw));
  }

  /** The member, or `undefined` when it (or its network) does not exist. */
  async getMember(networkId: string, memberId: string): Promise<Member | undefined> {
    const raw = await this.requestOrMissing("GET", this.memberPath(networkId, memberId), "member");
    return raw === undefined ? undefined : this.toMember(raw as Json, networkId, memberId);
  }

  /**
   * Creates or updates a member (both APIs upsert on POST), so a node can be authorised
   * before it ever joins. Only the fields given are sent.
   */
  async upsertMember(networkId: string, memberId: string, patch: Partial<MemberConfig>): Promise<Member> {
    const raw = await this.request(
      "POST",
      this.memberPath(networkId, memberId),
      "member",
      this.memberBody(patch),
    );
    return this.toMember(raw as Json, networkId, memberId);
  }

  /** Deletes; returns false when the member was already gone. */
  async deleteMember(networkId: string, memberId: string): Promise<boolean> {
    const r = await this.requestOrMissing("DELETE", this.memberPath(networkId, memberId), "member");
    return r !== undefined;
  }

  // ---- wire format ----

  private networkPath(id: string): string {
    return this.opts.backend === "central" ? `/network/${id}` : `/controller/network/${id}`;
  }

  private memberPath(networkId: string, memberId: string): string {
    return `${this.networkPath(networkId)}/member/${memberId}`;
  }

  private networkBody(c: Partial<NetworkConfig>): Json {
    const flat: Json = {};
    if (c.name !== undefined) flat.name = c.name;
    if (c.private !== undefined) flat.private = c.private;
    if (c.ipAssignmentPools !== undefined)
      flat.ipAssignmentPools = c.ipAssignmentPools.map((p) => ({ ipRangeStart: p.start, ipRangeEnd: p.end }));
    if (c.routes !== undefined) flat.routes = c.routes.map((r) => ({ target: r.target, via: r.via ?? null }));
    if (c.v4AutoAssign !== undefined) flat.v4AssignMode = { zt: c.v4AutoAssign };
    if (c.dns !== undefined) flat.dns = { domain: c.dns.domain, servers: c.dns.servers };
    if (this.opts.backend === "controller") return flat;
    const body: Json = { config: flat };
    if (c.description !== undefined) body.description = c.description;
    if (c.rulesSource !== undefined) body.rulesSource = c.rulesSource;
    return body;
  }

  private toNetwork(raw: Json): Network {
    const central = this.opts.backend === "central";
    // Central's spec allows `config: null` and nulls in most optional fields: read them as unset.
    const cfg = objectOr(central ? raw.config : raw);
    const pools = (Array.isArray(cfg.ipAssignmentPools) ? cfg.ipAssignmentPools : []).filter(isObject);
    const routes = (Array.isArray(cfg.routes) ? cfg.routes : []).filter(
      (r): r is Json => isObject(r) && typeof r.target === "string",
    );
    // The controller initialises dns to [] until it is set; Central may answer servers: null.
    const dns = objectOr(cfg.dns);
    const n = normaliseNetworkConfig({
      name: String(cfg.name ?? ""),
      description: central ? String(raw.description ?? "") : undefined,
      private: cfg.private !== false,
      ipAssignmentPools: pools.map((p) => ({
        start: String(p.ipRangeStart ?? ""),
        end: String(p.ipRangeEnd ?? ""),
      })),
      routes: routes.map((r) => ({ target: String(r.target), via: r.via ? String(r.via) : null })),
      v4AutoAssign: !!objectOr(cfg.v4AssignMode).zt,
      dns: {
        domain: String(dns.domain ?? ""),
        servers: Array.isArray(dns.servers) ? dns.servers.filter((x) => typeof x === "string") : [],
      },
      rulesSource: central ? String(raw.rulesSource ?? "") : undefined,
    });
    return { id: String(raw.id ?? cfg.id ?? cfg.nwid), ...n };
  }

  private memberBody(m: Partial<MemberConfig>): Json {
    const flat: Json = {};
    if (m.authorized !== undefined) flat.authorized = m.authorized;
    if (m.ipAssignments !== undefined) flat.ipAssignments = m.ipAssignments;
    if (m.noAutoAssignIps !== undefined) flat.noAutoAssignIps = m.noAutoAssignIps;
    if (this.opts.backend === "controller") {
      if (m.name !== undefined) flat.name = m.name;
      return flat;
    }
    const body: Json = { config: flat };
    if (m.name !== undefined) body.name = m.name;
    if (m.description !== undefined) body.description = m.description;
    if (m.hidden !== undefined) body.hidden = m.hidden;
    return body;
  }

  private toMember(raw: Json, networkId: string, memberId: string): Member {
    const central = this.opts.backend === "central";
    const cfg = objectOr(central ? raw.config : raw);
    const ips = Array.isArray(cfg.ipAssignments)
      ? cfg.ipAssignments.filter((s) => typeof s === "string").map(canonicalIPv4)
      : [];
    return {
      networkId,
      memberId,
      name: raw.name === undefined || raw.name === null ? (central ? "" : undefined) : String(raw.name),
      description: central ? String(raw.description ?? "") : undefined,
      hidden: central ? !!raw.hidden : undefined,
      authorized: !!cfg.authorized,
      ipAssignments: ips,
      noAutoAssignIps: !!cfg.noAutoAssignIps,
      lastSeen: Number((central ? raw.lastSeen : raw.lastSeen) ?? 0) || 0,
    };
  }

  // ---- transport ----

  /** Like `request`, but a 404 means "does not exist" and returns `undefined`. */
  private async requestOrMissing(method: string, path: string, what: string): Promise<unknown> {
    try {
      return await this.request(method, path, what);
    } catch (err) {
      if (err instanceof ZerotierApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** One API call with rate-limit pacing and retries of 429, 5xx and connection failures. */
  async request(method: string, path: string, what: string, body?: unknown): Promise<unknown> {
    const step = `${method} ${path}`;
    const maxWait = this.opts.maxRateLimitWaitMs ?? 10_000;
    const minDelay = this.opts.minDelayMs ?? 250;
    return retry(
      async () => {
        await this.paceForRateLimit(maxWait);
        trace({ system: "zerotier", op: `${method} ${what}`, write: method !== "GET", target: this.host() });
        let res: Response;
        try {
          res = await fetch(this.base + path, {
            method,
            headers: {
              ...this.authHeaders(),
              ...(body === undefined ? {} : { "content-type": "application/json" }),
            },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 30_000),
          });
        } catch (err) {
          const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
          throw new ZerotierApiError(
            this.label,
            step,
            this.redact(`no answer from ${this.base}: ${cause}`),
            "apiUrl, that the API is running and reachable from here",
            0,
          );
        }
        this.noteRateLimit(res.headers);
        const text = await res.text();
        if (res.ok) {
          if (!text) return {};
          try {
            return JSON.parse(text);
          } catch {
            throw new ZerotierApiError(this.label, step, "the answer is not JSON", "apiUrl", res.status);
          }
        }
        throw this.httpError(step, what, res, text, maxWait);
      },
      {
        attempts: this.opts.attempts ?? 6,
        minDelayMs: minDelay,
        maxDelayMs: maxWait,
        retryable: (err, attempt) => {
          if (!(err instanceof ZerotierApiError)) return false;
          // A 429 always backs off exponentially; what the server asked for is a floor, not the
          // whole wait (a missing or zero Retry-After must not make the retries hammer the API).
          if (err.status === 429) return backoffDelayMs(attempt, minDelay, maxWait, err.retryAfterMs);
          return !err.permanent && (err.status === 0 || err.status >= 500);
        },
      },
    );
  }

  private authHeaders(): Record<string, string> {
    return this.opts.backend === "central"
      ? { authorization: `token ${this.opts.token}` }
      : { "x-zt1-auth": this.opts.token };
  }

  private host(): string {
    try {
      return new URL(this.base).host;
    } catch {
      return this.base;
    }
  }

  private redact(s: string): string {
    return redact(s, [this.opts.token]);
  }

  private httpError(
    step: string,
    what: string,
    res: Response,
    text: string,
    maxWait: number,
  ): ZerotierApiError {
    const status = res.status;
    let serverSays = "";
    // The controller's handlers answer 500 {"error":500,"description"} when the body they were
    // sent throws in their JSON handling: the same body fails again, so it is not retried.
    let controllerRejected = false;
    try {
      const j = JSON.parse(text) as Json;
      // Central: {"type","message"}; the controller: {"error":500,"description":"..."}.
      if (j && typeof j.message === "string") serverSays = `: ${j.message}`;
      else if (j && typeof j.description === "string") {
        serverSays = `: ${j.description}`;
        controllerRejected = this.opts.backend === "controller" && status === 500 && j.error === 500;
      }
    } catch {
      // Non-JSON error bodies are summarised by the status alone.
    }
    const detail = (d: string): string => this.redact(`HTTP ${status} ${d}${serverSays}`);
    const api = this.opts.backend === "central" ? "ZeroTier Central" : "the ZeroTier controller";
    switch (status) {
      case 401:
        return new ZerotierApiError(
          this.label,
          step,
          detail(`${api} refused the token (unauthorised)`),
          this.opts.backend === "central"
            ? "the API token (my.zerotier.com > Account > API Access Tokens) is current and copied whole"
            : "the token is the controller's authtoken.secret and this address is allowed (allowManagementFrom)",
          status,
        );
      case 403:
        return new ZerotierApiError(
          this.label,
          step,
          detail(`${api} forbids this ${what} operation for this token`),
          this.opts.backend === "central"
            ? "the API token is current and copied whole (Central answers 403 for an unknown token too), and its account owns the network and may change it"
            : "the token is the controller's authtoken.secret and this address is allowed (allowManagementFrom)",
          status,
        );
      case 404:
        return new ZerotierApiError(
          this.label,
          step,
          detail(`${what} not found`),
          "the network and member ids; the object may have been deleted outside Pulumi (run `pulumi refresh`)",
          status,
        );
      case 429: {
        const now = Date.now();
        let wait = parseRetryAfter(res.headers.get("retry-after"), now);
        if (wait === undefined) {
          const reset = parseRateLimitReset(res.headers.get("x-ratelimit-reset"), now);
          if (reset !== undefined) wait = Math.max(0, reset - now);
        }
        return new ZerotierApiError(
          this.label,
          step,
          detail(`${api} rate limited the calls`),
          this.opts.backend === "central"
            ? "fewer parallel operations (pulumi up --parallel), or a paid Central plan for a higher limit"
            : "fewer parallel operations (pulumi up --parallel), and whether a proxy in front of the controller limits calls",
          status,
          wait === undefined ? undefined : Math.min(wait, maxWait),
        );
      }
      default:
        if (controllerRejected)
          return new ZerotierApiError(
            this.label,
            step,
            detail(`${api} could not process the ${what} sent`),
            "the values sent for this resource (the controller's JSON handling rejected them)",
            status,
            undefined,
            true,
          );
        return new ZerotierApiError(
          this.label,
          step,
          detail(status >= 500 ? `${api} failed` : "request rejected"),
          status >= 500 ? "the API's status page; retry later" : "the values sent for this resource",
          status,
        );
    }
  }

  private noteRateLimit(h: Headers): void {
    const remaining = h.get("x-ratelimit-remaining");
    const reset = h.get("x-ratelimit-reset");
    if (remaining === null) return;
    const left = Number(remaining);
    this.rateRemaining = Number.isFinite(left) ? left : undefined;
    // go-ztcentral documents an HTTP date; Unix seconds are read too (parseRateLimitReset).
    this.rateResetAtMs = parseRateLimitReset(reset, Date.now());
  }

  /** Waits for the rate-limit window to reset when the last answer said none are left. */
  private async paceForRateLimit(maxWait: number): Promise<void> {
    if (this.rateRemaining === undefined || this.rateRemaining > 0 || !this.rateResetAtMs) return;
    const wait = this.rateResetAtMs - Date.now();
    this.rateRemaining = undefined;
    if (wait > 0) await sleep(Math.min(wait, maxWait));
  }
}
