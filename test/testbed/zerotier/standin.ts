/**
 * A faithful stand-in for ZeroTier's management APIs (plain node http), serving both:
 * - Central API v1 under `/api/v1` (`Authorization: token|bearer <t>`, 403 for a bad token on
 *   GET/POST /network and 401 elsewhere, `config`-wrapped objects, POST = partial update, member
 *   POST = upsert, rate-limit headers with an HTTP-date reset, `{"type","message"}` errors);
 * - the self-hosted controller under `/controller` plus the node's `GET /status` (`X-ZT1-Auth`,
 *   `Authorization: Bearer` or `?auth=`, hex ids of either case, flat objects, IPv4 and IPv6
 *   routes/pools/IPs, 401 body `{}`, 404 with an empty body, 500 `{"error":500,"description"}` for
 *   a body its JSON handling throws on, member list `{id: revision}`, revisions only on change,
 *   network create at `/controller/network` or `/controller/network/<controllerAddress>______`,
 *   DELETE returns the object).
 * Behaviour pinned in /work/shared/facts/zerotier.md and by test/testbed/zerotier/standin.contract.test.ts.
 *
 * The ZeroTier protocol between a node and its controller is replaced by one endpoint, called by the
 * node agent stand-in (zerotier-cli) and needing no API token (a real node proves itself with its
 * identity instead):
 *   POST /_agent/config {nwid, nodeId, clientVersion?, physicalAddress?}
 *     -> 404 {status:"NOT_FOUND"} when the network does not exist;
 *     -> 200 {status:"ACCESS_DENIED", authorized:false} for a private network and an unauthorised member
 *        (the member record is created on first request, unauthorised, as a real controller does);
 *     -> 200 {status:"OK", authorized:true, name, private, ipAssignments:["10.x.y.z/bits"], routes, dns, mtu}.
 *   Auto-assigned IPv4s are picked here and only here (never when a member is created), the way
 *   EmbeddedNetworkController does (see `autoAssign`): not "the first free address", so tests never
 *   assert an exact auto-assigned address.
 *   POST /_agent/attach {peer} -> plugs a node's veth peer (already moved into this process's network
 *   namespace) into `attachBridge`: the agent cannot enter the root namespace itself on every machine.
 *
 * Test hooks: `setFault({status, count, retryAfterS?, pathPrefix?})` or `POST /_fault` (same body) makes
 * the next `count` API calls fail with `status` (a 429 carries `Retry-After` only when `retryAfterS`
 * is given); `setCentralNulls(mode)` makes Central render the nulls its spec allows;
 * `requestLog` records method, path, status and time. The protocol is written down in
 * docs/protocols/zerotier.md, with the upstream sources of each behaviour.
 */
import * as http from "http";
import * as crypto from "crypto";
import * as net from "net";
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
   * Form of Central's `X-Ratelimit-Reset`: `http-date` (default; what go-ztcentral's client.go
   * documents, e.g. `Tue, 06 Aug 2024 20:53:48 GMT`) or `unix-seconds`.
   */
  rateLimitResetFormat?: "http-date" | "unix-seconds";
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
  /** Retry-After seconds sent with a 429. Default: no Retry-After header (Central may omit it). */
  retryAfterS?: number;
  /** Only calls whose path starts with this (e.g. "/api/v1"). Default every API call. */
  pathPrefix?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  /** When the request arrived (ms since epoch), for tests of retry spacing. */
  at: number;
}

/**
 * How Central renders optional fields its spec (zerotier/docs static/openapi/central/v1.json) marks
 * nullable: `none` (default) = values as stored; `empty` = empty strings and lists, and unset DNS,
 * as `null`; `config` = `config: null` on networks and members (the rest as `empty`).
 */
export type CentralNulls = "none" | "empty" | "config";

export interface ZerotierStandIn {
  /** Root URL: `http://<bind>:<port>`. The controller's apiUrl is this. */
  url: string;
  /** Central's apiUrl: `<url>/api/v1`. */
  centralUrl: string;
  controllerAddress: string;
  port: number;
  setFault(f: Fault): void;
  clearFaults(): void;
  setCentralNulls(mode: CentralNulls): void;
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

// The controller's routes accept either case (EmbeddedNetworkController.cpp: `[0-9a-fA-F]{16}`) and
// parse the id as a number, so `ABC...` names the same record as `abc...`.
const HEX16 = /^[0-9a-fA-F]{16}$/;
const HEX10 = /^[0-9a-fA-F]{10}$/;

/** Thrown by the POST handlers for input the real controller's JSON handling throws on (-> 500). */
class ControllerInputError extends Error {}

/** An IP text as the controller stores it: IPv4 dotted, IPv6 lower case; undefined when not an IP. */
function canonicalIp(s: unknown): string | undefined {
  if (typeof s !== "string") return undefined;
  if (net.isIPv4(s)) return s;
  if (net.isIPv6(s)) return s.toLowerCase();
  return undefined;
}

/** `ip/bits` with bits valid for the family (InetAddress::netmaskBitsValid), canonical; else undefined. */
function canonicalTarget(s: unknown): string | undefined {
  if (typeof s !== "string") return undefined;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const ip = canonicalIp(m[1]);
  const bits = Number(m[2]);
  if (!ip || bits > (net.isIPv4(ip) ? 32 : 128)) return undefined;
  return `${ip}/${bits}`;
}

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
  let centralNulls: CentralNulls = "none";

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
      // IPv4 and IPv6 targets are kept; invalid ones are dropped silently, and a `via` of the other
      // family becomes null (EmbeddedNetworkController.cpp, network POST, "routes").
      n.routes = [];
      for (const r of b.routes as Json[]) {
        const target = canonicalTarget(r?.target);
        if (!target) continue;
        const via = canonicalIp(r.via);
        const sameFamily = via !== undefined && net.isIPv4(via) === net.isIPv4(target.split("/")[0]);
        n.routes.push({ target, via: sameFamily ? via : null });
      }
    }
    if (Array.isArray(b.ipAssignmentPools)) {
      // Both ends must be IPs of one family, IPv4 or IPv6 (same source, "ipAssignmentPools").
      n.ipAssignmentPools = [];
      for (const p of b.ipAssignmentPools as Json[]) {
        const s = canonicalIp(p?.ipRangeStart);
        const e = canonicalIp(p?.ipRangeEnd);
        if (s && e && net.isIPv4(s) === net.isIPv4(e))
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
      // The controller reads each entry as a string (a number or null throws: 500) and keeps the
      // ones that parse as IPv4 or IPv6 (EmbeddedNetworkController.cpp, member POST, "ipAssignments").
      const ips: string[] = [];
      for (const x of b.ipAssignments as unknown[]) {
        if (typeof x !== "string") throw new ControllerInputError("type must be string, but is " + typeof x);
        const ip = canonicalIp(x);
        if (ip) ips.push(ip);
      }
      m.ipAssignments = ips;
    }
    if (Array.isArray(b.tags)) m.tags = b.tags;
    if (Array.isArray(b.capabilities)) m.capabilities = (b.capabilities as unknown[]).map(Number).sort();
  }

  /**
   * Runs `change` on a record and bumps its revision only when what it stores changed: DB.cpp /
   * FileDB.cpp save a record (and increment `revision`) only when it differs from the stored one.
   * A new record (`isNew`) is always saved, so it starts at revision 1.
   */
  function saveNetwork(n: NetworkRec, isNew: boolean, change: () => void): void {
    const view = (): string =>
      JSON.stringify({ ...renderControllerNetwork(n), revision: 0, d: n.description, r: n.rulesSource });
    const before = view();
    change();
    if (isNew || view() !== before) {
      n.revision++;
      n.lastModified = Date.now();
    }
  }

  function saveMember(m: MemberRec, isNew: boolean, change: () => void): void {
    const view = (): string =>
      JSON.stringify({ ...renderControllerMember(m), revision: 0, d: m.description, h: m.hidden });
    const before = view();
    change();
    if (isNew || view() !== before) m.revision++;
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
    const out = renderCentralNetworkPlain(n);
    if (centralNulls === "none") return out;
    const cfg = out.config as Json;
    if (!out.description) out.description = null;
    if (!cfg.name) cfg.name = null;
    if (!(cfg.routes as unknown[]).length) cfg.routes = null;
    if (!(cfg.ipAssignmentPools as unknown[]).length) cfg.ipAssignmentPools = null;
    if (!n.v4AssignMode.zt) cfg.v4AssignMode = null;
    if (Array.isArray(n.dns)) cfg.dns = null;
    if (centralNulls === "config") out.config = null;
    return out;
  }

  function renderCentralNetworkPlain(n: NetworkRec): Json {
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
    const out = renderCentralMemberPlain(m);
    if (centralNulls === "none") return out;
    const cfg = out.config as Json;
    if (!out.name) out.name = null;
    if (!out.description) out.description = null;
    if (!m.ipAssignments.length) cfg.ipAssignments = null;
    if (!m.tags.length) cfg.tags = null;
    if (!m.capabilities.length) cfg.capabilities = null;
    if (centralNulls === "config") out.config = null;
    return out;
  }

  function renderCentralMemberPlain(m: MemberRec): Json {
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

  /**
   * IPv4 auto-assignment as EmbeddedNetworkController.cpp does it when a member asks for its config:
   * nothing when the member already holds an IPv4 inside one of the routes; else, pool by pool (IPv4
   * pools with start != 0 and end >= start), candidates `start + (counter % (end - start))` with the
   * counter starting at the low 32 bits of the member's address and growing by one per try (at most
   * 1000 tries, and no more than the pool holds), skipping addresses ending in .255, addresses whose
   * first containing IPv4 route (with or without `via`) has a zero-length prefix or is missing, and
   * addresses any member of the network holds. IPv6 auto-assignment (6plane, rfc4193, zt) is not
   * modelled: v6AssignMode is stored only.
   */
  function autoAssign(n: NetworkRec, m: MemberRec): void {
    if (!n.v4AssignMode.zt || m.noAutoAssignIps) return;
    const v4Routes = n.routes
      .map((r) => {
        const [ip, bits] = r.target.split("/");
        return { addr: ip2n(ip), bits: Number(bits) };
      })
      .filter((r): r is { addr: number; bits: number } => r.addr !== undefined);
    const firstRouteBits = (a: number): number => {
      for (const r of v4Routes) {
        const mask = r.bits === 0 ? 0 : (0xffffffff << (32 - r.bits)) >>> 0;
        if ((a & mask) >>> 0 === r.addr) return r.bits;
      }
      return -1;
    };
    const containedIn = (a: number): boolean =>
      v4Routes.some((r) => {
        const mask = r.bits === 0 ? 0 : (0xffffffff << (32 - r.bits)) >>> 0;
        return (a & mask) >>> 0 === (r.addr & mask) >>> 0;
      });
    if (m.ipAssignments.some((ip) => ip2n(ip) !== undefined && containedIn(ip2n(ip)!))) return;
    const used = new Set<string>();
    for (const o of n.members.values()) for (const ip of o.ipAssignments) used.add(ip);
    const low32 = Number(BigInt(`0x${m.id}`) & 0xffffffffn);
    for (const p of n.ipAssignmentPools) {
      const s = ip2n(p.ipRangeStart);
      const e = ip2n(p.ipRangeEnd);
      if (s === undefined || e === undefined || e < s || s === 0) continue;
      const len = e - s;
      let counter = low32;
      for (let k = s, tries = 0; k <= e && tries < 1000; k++, tries++) {
        const a = len > 0 ? s + (counter % len) : s;
        counter = (counter + 1) >>> 0;
        if ((a & 0xff) === 0xff) continue;
        const ip = n2ip(a);
        if (firstRouteBits(a) > 0 && !used.has(ip)) {
          m.ipAssignments = [...m.ipAssignments, ip];
          m.revision++;
          return;
        }
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
      // central/v1.json lists 403 (no 401) for GET and POST /network; the other paths list 401.
      if (parts.length === 1 && parts[0] === "network" && (method === "GET" || method === "POST"))
        return centralError(403, "forbidden", "invalid or missing API token");
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
        saveNetwork(n, true, () => applyCentralNetwork(n, body, cfg));
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
        saveNetwork(n, false, () => applyCentralNetwork(n, body, cfg));
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
    if (parts.length !== 4 || !/^[0-9a-f]{10}$/.test(memberId))
      return centralError(404, "not_found", "member not found");
    let m = n.members.get(memberId);
    if (method === "POST") {
      // Upsert: a member that never joined can be created and pre-authorised.
      const isNew = !m;
      if (!m) n.members.set(memberId, (m = newMember(nwid, memberId)));
      const rec = m;
      try {
        saveMember(rec, isNew, () => {
          if ("name" in body) rec.name = String(body.name ?? "");
          if ("description" in body) rec.description = String(body.description ?? "");
          if ("hidden" in body) rec.hidden = !!body.hidden;
          applyMember(rec, cfg);
        });
      } catch (err) {
        if (isNew) n.members.delete(memberId);
        if (err instanceof ControllerInputError) return centralError(400, "internal", "JSON error");
        throw err;
      }
      return { status: 200, body: renderCentralMember(rec) };
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

  /**
   * OneService.cpp takes the token from `X-ZT1-Auth`, `Authorization: Bearer <t>` or the `auth`
   * query parameter (`?auth=<t>`).
   */
  function controllerAuthorised(req: http.IncomingMessage, url: URL): boolean {
    const h = req.headers["x-zt1-auth"];
    if (h === opts.token) return true;
    if (url.searchParams.get("auth") === opts.token) return true;
    const m = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    return !!m && m[1] === opts.token;
  }

  /** The controller's answer to input its JSON handling throws on. */
  function controllerFailure(description: string): Reply {
    return { status: 500, body: { error: 500, description } };
  }

  /** A 404 from the controller has an empty body (the route matched nothing it knows). */
  const NOT_FOUND: Reply = { status: 404 };

  function createControllerNetwork(body: Json): Reply {
    let id: string;
    do id = controllerAddress + crypto.randomBytes(3).toString("hex");
    while (networks.has(id));
    const n = newNetwork(id);
    saveNetwork(n, true, () => applyNetwork(n, body));
    networks.set(id, n);
    return { status: 200, body: renderControllerNetwork(n) };
  }

  function handleController(method: string, parts: string[], raw: string): Reply {
    // parts: ["controller", "network", nwid, "member", memberId]
    let body: Json = {};
    if (method === "POST" || method === "PUT") {
      // An empty body is read as {} (our callers send none on some upserts); anything else must be
      // a JSON object, or the controller's parser throws and it answers 500.
      const b = parseBody(raw);
      if (!b) return controllerFailure("JSON parse error: body is not a JSON object");
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
    if (parts[1] !== "network") return NOT_FOUND;
    if (parts.length === 2) {
      if (method === "GET") return { status: 200, body: [...networks.keys()].sort() };
      // POST /controller/network (no id): a new network with a random id under this controller.
      if (method === "POST") return createControllerNetwork(body);
      return { status: 405, body: {} };
    }
    const nwidPart = parts[2];
    if (parts.length === 3 && /^[0-9a-fA-F]{10}______$/.test(nwidPart) && method === "POST") {
      // Only this controller's own address may prefix its networks (else 400, like the real one).
      if (nwidPart.slice(0, 10).toLowerCase() !== controllerAddress) return { status: 400, body: {} };
      return createControllerNetwork(body);
    }
    if (!HEX16.test(nwidPart)) return NOT_FOUND;
    const nwid = nwidPart.toLowerCase();
    let n = networks.get(nwid);
    if (parts.length === 3) {
      if (method === "POST") {
        const isNew = !n;
        if (!n) networks.set(nwid, (n = newNetwork(nwid)));
        const rec = n;
        saveNetwork(rec, isNew, () => applyNetwork(rec, body));
        return { status: 200, body: renderControllerNetwork(rec) };
      }
      if (!n) return NOT_FOUND;
      if (method === "GET") return { status: 200, body: renderControllerNetwork(n) };
      if (method === "DELETE") {
        networks.delete(nwid);
        return { status: 200, body: renderControllerNetwork(n) };
      }
      return { status: 405, body: {} };
    }
    if (!n || parts[3] !== "member") return NOT_FOUND;
    if (parts.length === 4) {
      if (method !== "GET") return { status: 405, body: {} };
      const list: Json = {};
      for (const m of n.members.values()) list[m.id] = m.revision;
      return { status: 200, body: list };
    }
    if (parts.length !== 5 || !HEX10.test(parts[4])) return NOT_FOUND;
    const memberId = parts[4].toLowerCase();
    let m = n.members.get(memberId);
    if (method === "POST") {
      const isNew = !m;
      if (!m) n.members.set(memberId, (m = newMember(n.id, memberId)));
      const rec = m;
      try {
        saveMember(rec, isNew, () => {
          if ("name" in body) rec.name = String(body.name ?? "");
          applyMember(rec, body);
        });
      } catch (err) {
        if (isNew) n.members.delete(memberId);
        if (err instanceof ControllerInputError) return controllerFailure(err.message);
        throw err;
      }
      return { status: 200, body: renderControllerMember(rec) };
    }
    if (!m) return NOT_FOUND;
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
    const nwid = String(b?.nwid ?? "").toLowerCase();
    const nodeId = String(b?.nodeId ?? "").toLowerCase();
    if (!HEX16.test(nwid) || !HEX10.test(nodeId))
      return { status: 400, body: { message: "nwid and nodeId required" } };
    const n = networks.get(nwid);
    if (!n) return { status: 404, body: { status: "NOT_FOUND" } };
    let m = n.members.get(nodeId);
    if (!m) {
      n.members.set(nodeId, (m = newMember(nwid, nodeId)));
      m.revision = 1; // a new record is saved once (see saveMember)
    }
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
        "x-ratelimit-reset":
          opts.rateLimitResetFormat === "unix-seconds"
            ? String(second + 1)
            : new Date((second + 1) * 1000).toUTCString(),
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
      if (fault.status === 429 && fault.retryAfterS !== undefined)
        headers["retry-after"] = String(fault.retryAfterS);
      const body = isCentral ? { type: "injected", message: `injected fault ${fault.status}` } : {};
      return { status: fault.status, body, headers };
    }
    if (isCentral) {
      const r = handleCentral(method, path.split("/").slice(3), req, raw);
      return { ...r, headers: { ...extra, ...(r.headers ?? {}) } };
    }
    if (!controllerAuthorised(req, url)) return { status: 401, body: {} };
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
    const arrivedAt = Date.now();
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
        requestLog.push({ method: req.method ?? "GET", path, status: reply.status, at: arrivedAt });
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
    setCentralNulls: (mode) => (centralNulls = mode),
    requestLog,
    writeCount: () => requestLog.filter((r) => r.method !== "GET").length,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
