/**
 * A faithful stand-in for ZeroTier's management APIs (plain node http), serving both:
 * - Central API v1 under `/api/v1` (`Authorization: token|bearer <t>`, `config`-wrapped objects,
 *   POST = partial update, member POST = upsert, rate-limit headers, `{"type","message"}` errors);
 * - the self-hosted controller under `/controller` plus the node's `GET /status` (`X-ZT1-Auth` or
 *   `Authorization: Bearer`, flat objects, 401 body `{}`, member list `{id: revision}`,
 *   network create at `/controller/network/<controllerAddress>______`, DELETE returns the object).
 * Behaviour pinned in /work/shared/facts/zerotier.md and by test/zerotier/standin.contract.test.ts.
 *
 * The ZeroTier protocol between a node and its controller is replaced by one endpoint, called by the
 * node agent stand-in (zerotier-cli) and needing no API token (a real node proves itself with its
 * identity instead):
 *   POST /_agent/config {nwid, nodeId, clientVersion?, physicalAddress?}
 *     -> 404 {status:"NOT_FOUND"} when the network does not exist;
 *     -> 200 {status:"ACCESS_DENIED", authorized:false} for a private network and an unauthorised member
 *        (the member record is created on first request, unauthorised, as a real controller does);
 *     -> 200 {status:"OK", authorized:true, name, private, ipAssignments:["10.x.y.z/bits"], routes, dns, mtu}.
 *   Auto-assigned IPv4s are picked here and only here (never when a member is created), from the pools,
 *   first free address inside a route without `via`, which also gives the prefix length.
 *   POST /_agent/attach {peer} -> plugs a node's veth peer (already moved into this process's network
 *   namespace) into `attachBridge`: the agent cannot enter the root namespace itself on every machine.
 *
 * Test hooks: `setFault({status, count, retryAfterS?, pathPrefix?})` or `POST /_fault` (same body) makes
 * the next `count` API calls fail with `status`; `requestLog` records method, path and status.
 */
import * as http from "http";
import * as crypto from "crypto";
import type { AddressInfo } from "net";

type Json = Record<string, unknown>;

export interface StandInOptions {
  /** Address to listen on. Default 127.0.0.1. */
  bind?: string;
  /** Port; 0 (default) = ephemeral. */
  port?: number;
  /** The API token (Central) and authtoken.secret (controller). */
  token: string;
  /** A second token that may read but gets 403 on every write (Central). */
  readOnlyToken?: string;
  /** The controller's 10-hex node address. Default random. */
  controllerAddress?: string;
  /** Central requests per second per token before 429. Default 100 (a paid account). */
  rateLimitPerSecond?: number;
  /**
   * Bridge (in this process's network namespace) that `POST /_agent/attach {peer}` enslaves a node
   * agent's veth peer to. Unset = attach answers 501 (loopback tests manage no interfaces).
   */
  attachBridge?: string;
}

export interface Fault {
  status: number;
  /** How many API calls fail. */
  count: number;
  /** Retry-After seconds sent with a 429. Default 0. */
  retryAfterS?: number;
  /** Only calls whose path starts with this (e.g. "/api/v1"). Default every API call. */
  pathPrefix?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
}

export interface ZerotierStandIn {
  /** Root URL: `http://<bind>:<port>`. The controller's apiUrl is this. */
  url: string;
  /** Central's apiUrl: `<url>/api/v1`. */
  centralUrl: string;
  controllerAddress: string;
  port: number;
  setFault(f: Fault): void;
  clearFaults(): void;
  requestLog: LoggedRequest[];
  /** Writes (POST/DELETE) among the logged API calls, for "no-op makes no writes" tests. */
  writeCount(): number;
  stop(): Promise<void>;
}

interface MemberRec {
  id: string;
  nwid: string;
  authorized: boolean;
  activeBridge: boolean;
  noAutoAssignIps: boolean;
  ipAssignments: string[];
  tags: unknown[];
  capabilities: number[];
  revision: number;
  creationTime: number;
  lastAuthorizedTime: number;
  lastDeauthorizedTime: number;
  /** Central-only fields (the controller stores `name` too). */
  name?: string;
  description: string;
  hidden: boolean;
  lastSeen: number;
  physicalAddress: string | null;
  clientVersion: string;
}

interface NetworkRec {
  id: string;
  name: string;
  private: boolean;
  enableBroadcast: boolean;
  multicastLimit: number;
  mtu: number;
  routes: { target: string; via: string | null }[];
  ipAssignmentPools: { ipRangeStart: string; ipRangeEnd: string }[];
  v4AssignMode: { zt: boolean };
  v6AssignMode: { zt: boolean; "6plane": boolean; rfc4193: boolean };
  /** The controller starts with [] and keeps an object once set (DB::initNetwork). */
  dns: { domain: string; servers: string[] } | [];
  rules: unknown[];
  revision: number;
  creationTime: number;
  lastModified: number;
  /** Central-only. */
  description: string;
  rulesSource: string;
  members: Map<string, MemberRec>;
}

const HEX16 = /^[0-9a-f]{16}$/;
const HEX10 = /^[0-9a-f]{10}$/;

function ip2n(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}
function n2ip(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
function inCidr(cidr: string, ip: number): number | undefined {
  const [a, b] = cidr.split("/");
  const base = ip2n(a);
  const bits = Number(b);
  if (base === undefined || !(bits >= 0 && bits <= 32)) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (base & mask) >>> 0 === (ip & mask) >>> 0 ? bits : undefined;
}

export async function startZerotierStandIn(opts: StandInOptions): Promise<ZerotierStandIn> {
  const controllerAddress = opts.controllerAddress ?? crypto.randomBytes(5).toString("hex");
  const networks = new Map<string, NetworkRec>();
  const faults: Fault[] = [];
  const requestLog: LoggedRequest[] = [];
  const rateLimit = opts.rateLimitPerSecond ?? 100;
  const rateWindows = new Map<string, { second: number; used: number }>();

  // ---- model ----

  function newNetwork(id: string): NetworkRec {
    const now = Date.now();
    return {
      id,
      name: "",
      private: true,
      enableBroadcast: true,
      multicastLimit: 32,
      mtu: 2800,
      routes: [],
      ipAssignmentPools: [],
      v4AssignMode: { zt: false },
      v6AssignMode: { zt: false, "6plane": false, rfc4193: false },
      dns: [],
      rules: [{ not: false, or: false, type: "ACTION_ACCEPT" }],
      revision: 0,
      creationTime: now,
      lastModified: now,
      description: "",
      rulesSource: "accept;",
      members: new Map(),
    };
  }

  function newMember(nwid: string, id: string): MemberRec {
    return {
      id,
      nwid,
      authorized: false,
      activeBridge: false,
      noAutoAssignIps: false,
      ipAssignments: [],
      tags: [],
      capabilities: [],
      revision: 0,
      creationTime: Date.now(),
      lastAuthorizedTime: 0,
      lastDeauthorizedTime: 0,
      description: "",
      hidden: false,
      lastSeen: 0,
      physicalAddress: null,
      clientVersion: "",
    };
  }

  /** Applies the flat (controller-shaped) settings of a POST body, as networkUpdateFromPostData does. */
  function applyNetwork(n: NetworkRec, b: Json): void {
    if ("name" in b) n.name = String(b.name ?? "");
    if ("private" in b) n.private = b.private !== false;
    if ("enableBroadcast" in b) n.enableBroadcast = !!b.enableBroadcast;
    if ("multicastLimit" in b) n.multicastLimit = Number(b.multicastLimit) || 32;
    if ("mtu" in b) n.mtu = Math.max(1280, Math.min(10000, Number(b.mtu) || 2800));
    if ("v4AssignMode" in b) {
      const v = b.v4AssignMode;
      n.v4AssignMode = { zt: typeof v === "string" ? v === "zt" : !!(v as Json | null)?.zt };
    }
    if (Array.isArray(b.routes)) {
      n.routes = [];
      for (const r of b.routes as Json[]) {
        const target = typeof r?.target === "string" ? r.target : "";
        const [ip, bits] = target.split("/");
        // Invalid targets are dropped silently, like the real controller.
        if (ip2n(ip) === undefined || !/^\d{1,2}$/.test(bits ?? "") || Number(bits) > 32) continue;
        const via = typeof r.via === "string" && ip2n(r.via) !== undefined ? r.via : null;
        n.routes.push({ target, via });
      }
    }
    if (Array.isArray(b.ipAssignmentPools)) {
      n.ipAssignmentPools = [];
      for (const p of b.ipAssignmentPools as Json[]) {
        const s = String(p?.ipRangeStart ?? "");
        const e = String(p?.ipRangeEnd ?? "");
        if (ip2n(s) !== undefined && ip2n(e) !== undefined)
          n.ipAssignmentPools.push({ ipRangeStart: s, ipRangeEnd: e });
      }
    }
    if (b.dns && typeof b.dns === "object" && !Array.isArray(b.dns)) {
      const d = b.dns as Json;
      n.dns = {
        domain: String(d.domain ?? ""),
        servers: Array.isArray(d.servers) ? d.servers.map(String) : [],
      };
    }
    n.revision++;
    n.lastModified = Date.now();
  }

  function applyMember(m: MemberRec, b: Json): void {
    if ("activeBridge" in b) m.activeBridge = !!b.activeBridge;
    if ("noAutoAssignIps" in b) m.noAutoAssignIps = !!b.noAutoAssignIps;
    if ("authorized" in b) {
      const auth = !!b.authorized;
      if (auth !== m.authorized) {
        m.authorized = auth;
        if (auth) m.lastAuthorizedTime = Date.now();
        else m.lastDeauthorizedTime = Date.now();
      }
    }
    if (Array.isArray(b.ipAssignments)) {
      m.ipAssignments = (b.ipAssignments as unknown[]).map(String).filter((s) => ip2n(s) !== undefined);
    }
    if (Array.isArray(b.tags)) m.tags = b.tags;
    if (Array.isArray(b.capabilities)) m.capabilities = (b.capabilities as unknown[]).map(Number).sort();
    m.revision++;
  }

  function renderControllerNetwork(n: NetworkRec): Json {
    return {
      id: n.id,
      nwid: n.id,
      objtype: "network",
      name: n.name,
      private: n.private,
      enableBroadcast: n.enableBroadcast,
      multicastLimit: n.multicastLimit,
      mtu: n.mtu,
      routes: n.routes,
      ipAssignmentPools: n.ipAssignmentPools,
      v4AssignMode: n.v4AssignMode,
      v6AssignMode: n.v6AssignMode,
      dns: n.dns,
      rules: n.rules,
      rulesSource: "",
      tags: [],
      capabilities: [],
      authTokens: [null],
      remoteTraceTarget: null,
      remoteTraceLevel: 0,
      revision: n.revision,
      creationTime: n.creationTime,
    };
  }

  function renderCentralNetwork(n: NetworkRec): Json {
    const members = [...n.members.values()];
    const flat = renderControllerNetwork(n);
    delete flat.rulesSource;
    const dns = Array.isArray(n.dns)
      ? { domain: "", servers: null }
      : { ...n.dns, servers: n.dns.servers.length ? n.dns.servers : null };
    return {
      id: n.id,
      type: "Network",
      clock: Date.now(),
      description: n.description,
      rulesSource: n.rulesSource,
      ownerId: "00000000-0000-0000-0000-000000000000",
      onlineMemberCount: members.filter((m) => Date.now() - m.lastSeen < 300_000).length,
      authorizedMemberCount: members.filter((m) => m.authorized).length,
      totalMemberCount: members.length,
      config: { ...flat, dns, lastModified: n.lastModified },
    };
  }

  function renderControllerMember(m: MemberRec): Json {
    const o: Json = {
      id: m.id,
      address: m.id,
      nwid: m.nwid,
      objtype: "member",
      authorized: m.authorized,
      activeBridge: m.activeBridge,
      noAutoAssignIps: m.noAutoAssignIps,
      ipAssignments: m.ipAssignments,
      tags: m.tags,
      capabilities: m.capabilities,
      revision: m.revision,
      creationTime: m.creationTime,
      lastAuthorizedTime: m.lastAuthorizedTime,
      lastDeauthorizedTime: m.lastDeauthorizedTime,
      remoteTraceTarget: null,
      remoteTraceLevel: 0,
    };
    if (m.name !== undefined) o.name = m.name;
    return o;
  }

  function renderCentralMember(m: MemberRec): Json {
    return {
      id: `${m.nwid}-${m.id}`,
      type: "Member",
      clock: Date.now(),
      networkId: m.nwid,
      nodeId: m.id,
      controllerId: m.nwid.slice(0, 10),
      hidden: m.hidden,
      name: m.name ?? "",
      description: m.description,
      config: { ...renderControllerMember(m), name: undefined },
      lastOnline: m.lastSeen,
      lastSeen: m.lastSeen,
      physicalAddress: m.physicalAddress,
      clientVersion: m.clientVersion,
      protocolVersion: m.clientVersion ? 12 : 0,
      supportsRulesEngine: true,
    };
  }

  /** Picks the first free pool address inside a route without `via` (the route gives the prefix). */
  function autoAssign(n: NetworkRec, m: MemberRec): void {
    if (!n.v4AssignMode.zt || m.noAutoAssignIps) return;
    if (
      m.ipAssignments.some((ip) =>
        n.routes.some((r) => !r.via && inCidr(r.target, ip2n(ip) ?? -1) !== undefined),
      )
    )
      return;
    const used = new Set<string>();
    for (const o of n.members.values()) for (const ip of o.ipAssignments) used.add(ip);
    for (const p of n.ipAssignmentPools) {
      const s = ip2n(p.ipRangeStart)!;
      const e = ip2n(p.ipRangeEnd)!;
      // Bounded: pools are at most a /16 worth of candidates here.
      for (let a = s; a <= e && a - s < 65536; a++) {
        const ip = n2ip(a);
        if (used.has(ip)) continue;
        if (!n.routes.some((r) => !r.via && inCidr(r.target, a) !== undefined)) continue;
        m.ipAssignments = [...m.ipAssignments, ip];
        m.revision++;
        return;
      }
    }
  }

  function prefixFor(n: NetworkRec, ip: string): number {
    const a = ip2n(ip);
    if (a === undefined) return 32;
    let best = -1;
    for (const r of n.routes) {
      if (r.via) continue;
      const bits = inCidr(r.target, a);
      if (bits !== undefined && bits > best) best = bits;
    }
    return best < 0 ? 32 : best;
  }

  // ---- HTTP ----

  type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

  function centralError(status: number, type: string, message: string): Reply {
    return { status, body: { type, message } };
  }

  function parseBody(raw: string): Json | undefined {
    if (!raw.trim()) return {};
    try {
      const b = JSON.parse(raw) as unknown;
      return b && typeof b === "object" && !Array.isArray(b) ? (b as Json) : undefined;
    } catch {
      return undefined;
    }
  }

  function centralToken(req: http.IncomingMessage): string | undefined {
    const m = /^(token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    return m ? m[2] : undefined;
  }

  function handleCentral(method: string, parts: string[], req: http.IncomingMessage, raw: string): Reply {
    const tok = centralToken(req);
    if (tok !== opts.token && (!opts.readOnlyToken || tok !== opts.readOnlyToken)) {
      return centralError(401, "unauthorized", "Authorization header missing or invalid token");
    }
    if (method !== "GET" && tok === opts.readOnlyToken) {
      return centralError(403, "forbidden", "this token is read-only");
    }
    let body: Json = {};
    if (method === "POST") {
      const b = parseBody(raw);
      if (!b) return centralError(400, "internal", "JSON error");
      body = b;
    }
    const cfg = (body.config && typeof body.config === "object" ? body.config : {}) as Json;
    const [top, nwid, sub, memberId] = parts;
    if (top === "status" && parts.length === 1 && method === "GET") {
      return {
        status: 200,
        body: {
          type: "CentralStatus",
          clock: Date.now(),
          apiVersion: "4",
          readOnlyMode: false,
          user: { id: "standin" },
        },
      };
    }
    if (top !== "network") return centralError(404, "not_found", "no such endpoint");
    if (parts.length === 1) {
      if (method === "GET") return { status: 200, body: [...networks.values()].map(renderCentralNetwork) };
      if (method === "POST") {
        let id: string;
        do id = controllerAddress + crypto.randomBytes(3).toString("hex");
        while (networks.has(id));
        const n = newNetwork(id);
        applyCentralNetwork(n, body, cfg);
        networks.set(id, n);
        return { status: 200, body: renderCentralNetwork(n) };
      }
      return centralError(405, "method_not_allowed", "method not allowed");
    }
    const n = networks.get(nwid);
    if (!n) return centralError(404, "not_found", "network not found");
    if (parts.length === 2) {
      if (method === "GET") return { status: 200, body: renderCentralNetwork(n) };
      if (method === "POST") {
        applyCentralNetwork(n, body, cfg);
        return { status: 200, body: renderCentralNetwork(n) };
      }
      if (method === "DELETE") {
        networks.delete(nwid);
        return { status: 200 };
      }
    }
    if (sub !== "member") return centralError(404, "not_found", "no such endpoint");
    if (parts.length === 3 && method === "GET") {
      return { status: 200, body: [...n.members.values()].map(renderCentralMember) };
    }
    if (parts.length !== 4 || !HEX10.test(memberId))
      return centralError(404, "not_found", "member not found");
    let m = n.members.get(memberId);
    if (method === "POST") {
      // Upsert: a member that never joined can be created and pre-authorised.
      if (!m) n.members.set(memberId, (m = newMember(nwid, memberId)));
      if ("name" in body) m.name = String(body.name ?? "");
      if ("description" in body) m.description = String(body.description ?? "");
      if ("hidden" in body) m.hidden = !!body.hidden;
      applyMember(m, cfg);
      return { status: 200, body: renderCentralMember(m) };
    }
    if (!m) return centralError(404, "not_found", "member not found");
    if (method === "GET") return { status: 200, body: renderCentralMember(m) };
    if (method === "DELETE") {
      n.members.delete(memberId);
      return { status: 200 };
    }
    return centralError(405, "method_not_allowed", "method not allowed");
  }

  function applyCentralNetwork(n: NetworkRec, body: Json, cfg: Json): void {
    if ("description" in body) n.description = String(body.description ?? "");
    if ("rulesSource" in body) n.rulesSource = String(body.rulesSource ?? "");
    applyNetwork(n, cfg);
  }

  function controllerAuthorised(req: http.IncomingMessage): boolean {
    const h = req.headers["x-zt1-auth"];
    if (h === opts.token) return true;
    const m = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    return !!m && m[1] === opts.token;
  }

  function handleController(method: string, parts: string[], raw: string): Reply {
    // parts: ["controller", "network", nwid, "member", memberId]
    let body: Json = {};
    if (method === "POST" || method === "PUT") {
      const b = parseBody(raw);
      if (!b) return { status: 400, body: { message: "body JSON is invalid" } };
      body = b;
      method = "POST";
    }
    if (parts.length === 1) {
      if (method !== "GET") return { status: 405, body: {} };
      return {
        status: 200,
        body: { controller: true, apiVersion: 4, clock: Date.now(), databaseReady: true },
      };
    }
    if (parts[1] !== "network") return { status: 404, body: {} };
    if (parts.length === 2) {
      if (method === "GET") return { status: 200, body: [...networks.keys()].sort() };
      return { status: 405, body: {} };
    }
    const nwidPart = parts[2];
    if (parts.length === 3 && nwidPart.endsWith("______") && method === "POST") {
      // Only this controller's own address may prefix its networks (else 400, like the real one).
      if (nwidPart !== `${controllerAddress}______`) return { status: 400, body: {} };
      let id: string;
      do id = controllerAddress + crypto.randomBytes(3).toString("hex");
      while (networks.has(id));
      const n = newNetwork(id);
      applyNetwork(n, body);
      networks.set(id, n);
      return { status: 200, body: renderControllerNetwork(n) };
    }
    if (!HEX16.test(nwidPart)) return { status: 404, body: {} };
    let n = networks.get(nwidPart);
    if (parts.length === 3) {
      if (method === "POST") {
        if (!n) networks.set(nwidPart, (n = newNetwork(nwidPart)));
        applyNetwork(n, body);
        return { status: 200, body: renderControllerNetwork(n) };
      }
      if (!n) return { status: 404, body: {} };
      if (method === "GET") return { status: 200, body: renderControllerNetwork(n) };
      if (method === "DELETE") {
        networks.delete(nwidPart);
        return { status: 200, body: renderControllerNetwork(n) };
      }
      return { status: 405, body: {} };
    }
    if (!n || parts[3] !== "member") return { status: 404, body: {} };
    if (parts.length === 4) {
      if (method !== "GET") return { status: 405, body: {} };
      const list: Json = {};
      for (const m of n.members.values()) list[m.id] = m.revision;
      return { status: 200, body: list };
    }
    const memberId = parts[4];
    if (parts.length !== 5 || !HEX10.test(memberId)) return { status: 404, body: {} };
    let m = n.members.get(memberId);
    if (method === "POST") {
      if (!m) n.members.set(memberId, (m = newMember(n.id, memberId)));
      if ("name" in body) m.name = String(body.name ?? "");
      applyMember(m, body);
      return { status: 200, body: renderControllerMember(m) };
    }
    if (!m) return { status: 404, body: {} };
    if (method === "GET") return { status: 200, body: renderControllerMember(m) };
    if (method === "DELETE") {
      n.members.delete(memberId);
      return { status: 200, body: renderControllerMember(m) };
    }
    return { status: 405, body: {} };
  }

  /** Stands for a node asking its controller for the network config (see the file comment). */
  function handleAgentConfig(raw: string, remote: string): Reply {
    const b = parseBody(raw);
    const nwid = String(b?.nwid ?? "");
    const nodeId = String(b?.nodeId ?? "");
    if (!HEX16.test(nwid) || !HEX10.test(nodeId))
      return { status: 400, body: { message: "nwid and nodeId required" } };
    const n = networks.get(nwid);
    if (!n) return { status: 404, body: { status: "NOT_FOUND" } };
    let m = n.members.get(nodeId);
    if (!m) n.members.set(nodeId, (m = newMember(nwid, nodeId)));
    m.lastSeen = Date.now();
    m.clientVersion = String(b?.clientVersion ?? "1.14.2");
    m.physicalAddress = typeof b?.physicalAddress === "string" ? b.physicalAddress : remote;
    if (n.private && !m.authorized)
      return { status: 200, body: { status: "ACCESS_DENIED", authorized: false } };
    autoAssign(n, m);
    return {
      status: 200,
      body: {
        status: "OK",
        authorized: true,
        name: n.name,
        private: n.private,
        mtu: n.mtu,
        ipAssignments: m.ipAssignments.map((ip) => `${ip}/${prefixFor(n, ip)}`),
        routes: n.routes,
        dns: Array.isArray(n.dns) ? { domain: "", servers: [] } : n.dns,
      },
    };
  }

  function takeFault(path: string): Fault | undefined {
    const i = faults.findIndex((f) => f.count > 0 && (!f.pathPrefix || path.startsWith(f.pathPrefix)));
    if (i < 0) return undefined;
    const f = faults[i];
    f.count--;
    if (f.count <= 0) faults.splice(i, 1);
    return f;
  }

  function rateHeaders(token: string): { headers: Record<string, string>; limited: boolean } {
    const second = Math.floor(Date.now() / 1000);
    let w = rateWindows.get(token);
    if (!w || w.second !== second) rateWindows.set(token, (w = { second, used: 0 }));
    w.used++;
    return {
      limited: w.used > rateLimit,
      headers: {
        "x-ratelimit-limit": String(rateLimit),
        "x-ratelimit-remaining": String(Math.max(0, rateLimit - w.used)),
        "x-ratelimit-reset": String(second + 1),
      },
    };
  }

  function route(req: http.IncomingMessage, raw: string): Reply {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://standin");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    if (path === "/_fault" && method === "POST") {
      const f = parseBody(raw) as Fault | undefined;
      if (!f || typeof f.status !== "number" || typeof f.count !== "number") return { status: 400, body: {} };
      faults.push({ ...f });
      return { status: 200, body: { ok: true } };
    }
    if (path === "/_agent/config" && method === "POST")
      return handleAgentConfig(raw, req.socket.remoteAddress ?? "");
    const isCentral = path === "/api/v1" || path.startsWith("/api/v1/");
    const isController = path === "/controller" || path.startsWith("/controller/") || path === "/status";
    if (!isCentral && !isController) return { status: 404, body: {} };

    let extra: Record<string, string> = {};
    if (isCentral) {
      const rl = rateHeaders(centralToken(req) ?? "-");
      extra = rl.headers;
      if (rl.limited)
        return {
          status: 429,
          body: { type: "rate_limited", message: "Too many requests" },
          headers: { ...extra, "retry-after": "1" },
        };
    }
    const fault = takeFault(path);
    if (fault) {
      const headers = { ...extra };
      if (fault.status === 429) headers["retry-after"] = String(fault.retryAfterS ?? 0);
      const body = isCentral ? { type: "injected", message: `injected fault ${fault.status}` } : {};
      return { status: fault.status, body, headers };
    }
    if (isCentral) {
      const r = handleCentral(method, path.split("/").slice(3), req, raw);
      return { ...r, headers: { ...extra, ...(r.headers ?? {}) } };
    }
    if (!controllerAuthorised(req)) return { status: 401, body: {} };
    if (path === "/status") {
      if (method !== "GET") return { status: 405, body: {} };
      return {
        status: 200,
        body: {
          address: controllerAddress,
          online: true,
          version: "1.14.2",
          clock: Date.now(),
          tcpFallbackActive: false,
        },
      };
    }
    return handleController(method, path.split("/").slice(1), raw);
  }

  /**
   * Stands for the ZeroTier data plane: a node agent has moved its veth peer into this namespace
   * and asks for it to be plugged into the ZeroTier bridge (it may not enter this namespace itself).
   */
  async function handleAgentAttach(raw: string): Promise<Reply> {
    if (!opts.attachBridge) return { status: 501, body: { message: "no attachBridge configured" } };
    const peer = String(parseBody(raw)?.peer ?? "");
    if (!/^gz[0-9a-f]{10}$/.test(peer)) return { status: 400, body: { message: "peer must be gz + 10 hex" } };
    const { execFile } = require("child_process") as typeof import("child_process");
    const err = await new Promise<Error | null>((resolve) =>
      execFile("ip", ["link", "set", peer, "master", opts.attachBridge!, "up"], { timeout: 10_000 }, (e) =>
        resolve(e),
      ),
    );
    return err ? { status: 500, body: { message: err.message } } : { status: 200, body: { ok: true } };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= 1_000_000) chunks.push(c);
    });
    req.on("end", async () => {
      let reply: Reply;
      const raw = Buffer.concat(chunks).toString("utf8");
      try {
        reply =
          req.method === "POST" && req.url === "/_agent/attach"
            ? await handleAgentAttach(raw)
            : route(req, raw);
      } catch (err) {
        reply = { status: 500, body: { type: "internal", message: String(err) } };
      }
      const path = new URL(req.url ?? "/", "http://standin").pathname;
      if (!path.startsWith("/_")) {
        requestLog.push({ method: req.method ?? "GET", path, status: reply.status });
        if (requestLog.length > 5000) requestLog.splice(0, requestLog.length - 5000);
      }
      const text = reply.body === undefined ? "" : JSON.stringify(reply.body);
      res.writeHead(reply.status, {
        ...(text ? { "content-type": "application/json" } : {}),
        ...(reply.headers ?? {}),
      });
      res.end(text);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.bind ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  return {
    url,
    centralUrl: `${url}/api/v1`,
    controllerAddress,
    port: addr.port,
    setFault: (f) => faults.push({ ...f }),
    clearFaults: () => faults.splice(0, faults.length),
    requestLog,
    writeCount: () => requestLog.filter((r) => r.method !== "GET").length,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
