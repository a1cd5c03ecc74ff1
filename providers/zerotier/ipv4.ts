/**
 * IPv4 and CIDR arithmetic for ZeroTier routes, pools and assignments.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value (docs/ARCHITECTURE.md).
 */
import { parseIPv4 } from "../shared/validate";

/** Formats a 32-bit number as dotted IPv4. */
export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Rewrites an IPv4 address in canonical form ("010.1.1.1" -> "10.1.1.1"); other text unchanged. */
export function canonicalIPv4(s: string): string {
  const n = parseIPv4(s);
  return n === undefined ? s : formatIPv4(n);
}

/** Parses `a.b.c.d/n` into network number and prefix length, or undefined. */
export function parseCidr(s: string): { addr: number; bits: number } | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const addr = parseIPv4(m[1]);
  const bits = Number(m[2]);
  if (addr === undefined || bits > 32) return undefined;
  return { addr, bits };
}

/** Netmask of a prefix length as an unsigned 32-bit number. */
export function netmask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** True when `ip` lies inside `cidr`. */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const a = parseIPv4(ip);
  if (!c || a === undefined) return false;
  const m = netmask(c.bits);
  return (c.addr & m) >>> 0 === (a & m) >>> 0;
}
