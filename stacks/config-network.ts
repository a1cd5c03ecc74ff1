/**
 * ZeroTier address rules of the build config: auto-assign pools and fixed member addresses, each
 * inside a managed route; fixed addresses outside every pool.
 */
import { cidr, parseIPv4 } from "../providers/shared/validate";
import type { ConfigReader } from "./config-reader";
import type { ZerotierSettings } from "./config-types";

/** Checks one fixed ZeroTier address: IPv4, inside a route, outside every auto-assign pool. */
export function checkFixedAddress(
  r: ConfigReader,
  key: string,
  ip: string,
  zerotier: ZerotierSettings,
): number | undefined {
  const n = parseIPv4(ip);
  if (n === undefined) {
    r.add(key, `"${ip}" is not an IPv4 address`, `set a fixed address like 10.147.17.5`);
    return undefined;
  }
  if (zerotier.routes.some((c) => !cidr(c)) && !inAnyRoute(n, n, zerotier.routes))
    r.add(
      key,
      `${ip} is not inside any of zerotierRoutes (${zerotier.routes.join(", ")})`,
      "pick an address inside a route, or add a route that contains it",
    );
  zerotier.pools.forEach((p, i) => {
    if (n >= parseIPv4(p.start)! && n <= parseIPv4(p.end)!)
      r.add(
        key,
        `${ip} is inside zerotierPools[${i}] (${p.start}-${p.end})`,
        "pick a fixed address outside the auto-assign pools",
      );
  });
  return n;
}

/** Dotted-quad text of a numeric IPv4 address. */
export function ipv4FromNumber(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** True when the range a..b (numeric IPv4) lies inside one of the CIDRs. */
function inAnyRoute(a: number, b: number, routes: string[]): boolean {
  return routes.some((c) => {
    if (cidr(c)) return false;
    const [ip, bits] = c.split("/");
    const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
    const net = (parseIPv4(ip)! & mask) >>> 0;
    return (a & mask) >>> 0 === net && (b & mask) >>> 0 === net;
  });
}

/** Parses `start-end` pools and checks each lies inside a route and overlaps no other pool. */
export function parsePools(
  r: ConfigReader,
  pools: string[],
  routes: string[],
): { start: string; end: string }[] {
  const out: { start: string; end: string; i: number; a: number; b: number }[] = [];
  pools.forEach((p, i) => {
    const key = `zerotierPools[${i}]`;
    const [start, end, extra] = p.split("-").map((s) => s.trim());
    const a = start ? parseIPv4(start) : undefined;
    const b = end ? parseIPv4(end) : undefined;
    if (extra !== undefined || a === undefined || b === undefined) {
      r.add(key, `"${p}" is not a pool`, 'use "<first IP>-<last IP>", e.g. "10.147.17.10-10.147.17.250"');
      return;
    }
    if (a > b) {
      r.add(key, `"${p}" starts after it ends`, "swap the two addresses");
      return;
    }
    if (routes.length > 0 && !inAnyRoute(a, b, routes))
      r.add(
        key,
        `"${p}" is not inside any of zerotierRoutes (${routes.join(", ")})`,
        "add a route that contains it, or move the pool inside a route",
      );
    const other = out.find((o) => a <= o.b && o.a <= b);
    if (other)
      r.add(
        key,
        `"${p}" overlaps zerotierPools[${other.i}] (${other.start}-${other.end})`,
        "make the pools disjoint (or merge them into one)",
      );
    out.push({ start, end, i, a, b });
  });
  return out.map(({ start, end }) => ({ start, end }));
}

/** One machine the stack authorises on the build network (g8os:buildNetworkMembers). */
export interface NetworkMemberSettings {
  /** Its ZeroTier node id: 10 hex characters (`zerotier-cli info`), lowercase. */
  nodeId: string;
  /** A short name: [a-z0-9-], part of its resource name and shown in the network's member list. */
  name: string;
}

const MEMBER_EXAMPLE = ["89e92ceee5 alice-laptop"];

/**
 * g8os:buildNetworkMembers: `<node id> <name>` entries, no node id or name twice. A ZeroTier
 * address never starts with ff (reserved for multicast, ZeroTierOne node/Address.hpp).
 */
export function readNetworkMembers(r: ConfigReader): NetworkMemberSettings[] {
  const entries = r.list("buildNetworkMembers", { example: MEMBER_EXAMPLE }) ?? [];
  const out: NetworkMemberSettings[] = [];
  /** For each member in `out`, its index in the config list (an entry refused above has none). */
  const at: number[] = [];
  entries.forEach((entry, i) => {
    const key = `buildNetworkMembers[${i}]`;
    const m = /^([0-9A-Fa-f]{10}) ([a-z0-9][a-z0-9-]{0,39})$/.exec(entry);
    if (!m) {
      r.add(
        key,
        `${JSON.stringify(entry)} is not "<node id> <name>" (node id: the 10 hex characters \`zerotier-cli info\` prints; name: lowercase letters, digits and '-', at most 40)`,
        `write it like ${JSON.stringify(MEMBER_EXAMPLE[0])}`,
      );
      return;
    }
    const nodeId = m[1].toLowerCase();
    if (nodeId.startsWith("ff")) {
      r.add(
        key,
        `node id ${nodeId} starts with ff, which ZeroTier reserves`,
        "copy the id from `zerotier-cli info`",
      );
      return;
    }
    const sameId = out.findIndex((o) => o.nodeId === nodeId);
    const sameName = out.findIndex((o) => o.name === m[2]);
    if (sameId >= 0)
      r.add(key, `node id ${nodeId} is also buildNetworkMembers[${at[sameId]}]`, "list each machine once");
    else if (sameName >= 0)
      r.add(
        key,
        `name ${m[2]} is also buildNetworkMembers[${at[sameName]}]`,
        "give each machine its own name",
      );
    else {
      out.push({ nodeId, name: m[2] });
      at.push(i);
    }
  });
  return out;
}
