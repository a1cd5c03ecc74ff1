/**
 * The canonical form of a network's managed settings (inputs and API answers alike).
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value (docs/ARCHITECTURE.md).
 */
import { parseIPv4 } from "../shared/validate";
import { canonicalIPv4 } from "./ipv4";
import type { NetworkConfig } from "./model";

/**
 * Canonical form of a network's managed settings, the same for inputs and API answers, so
 * that a no-op `up` compares equal: routes sorted by target, pools by start, IPs canonical,
 * `via` null when absent, DNS servers never null.
 */
export function normaliseNetworkConfig(c: NetworkConfig): NetworkConfig {
  const routes = (c.routes ?? [])
    .map((r) => ({ target: canonicalCidr(r.target), via: r.via ? canonicalIPv4(r.via) : null }))
    .sort((a, b) => cmp(a.target, b.target) || cmp(a.via ?? "", b.via ?? ""));
  const ipAssignmentPools = (c.ipAssignmentPools ?? [])
    .map((p) => ({ start: canonicalIPv4(p.start), end: canonicalIPv4(p.end) }))
    .sort((a, b) => ipOrder(a.start, b.start) || ipOrder(a.end, b.end));
  const out: NetworkConfig = {
    name: c.name ?? "",
    private: c.private ?? true,
    ipAssignmentPools,
    routes,
    v4AutoAssign: c.v4AutoAssign ?? true,
    dns: {
      domain: c.dns?.domain ?? "",
      servers: (c.dns?.servers ?? []).map(canonicalIPv4),
    },
  };
  if (c.description !== undefined) out.description = c.description;
  if (c.rulesSource !== undefined) out.rulesSource = c.rulesSource;
  return out;
}

function canonicalCidr(s: string): string {
  const [ip, bits] = s.split("/");
  return bits === undefined ? canonicalIPv4(ip) : `${canonicalIPv4(ip)}/${Number(bits)}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function ipOrder(a: string, b: string): number {
  const x = parseIPv4(a);
  const y = parseIPv4(b);
  return x !== undefined && y !== undefined ? x - y : cmp(a, b);
}
