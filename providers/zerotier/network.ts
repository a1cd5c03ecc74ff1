/**
 * ZerotierNetwork: one ZeroTier network on Central or on a self-hosted controller.
 *
 * - check: routes are CIDRs naming a network address, pools lie inside a route without `via` (the
 *   controller assigns no address outside one), start <= end, DNS servers are IPv4s; `flowRules` with
 *   the controller backend is a FAILURE (the controller ignores rulesSource, so the rules would
 *   silently not apply). Inputs come back normalised (defaults, sorted routes/pools) so the API's own
 *   normalisation never shows up as a perpetual diff.
 * - read: a network deleted outside Pulumi. With a self-hosted controller it is marked `deleted` and
 *   the next up re-creates it WITH THE SAME ID (the controller's POST is an upsert), so hosts that
 *   only accept SSH over this network get back in without anyone touching them. Central assigns ids
 *   itself: there read returns an empty id (refresh drops it, up creates a new network).
 * - a change of `token` or `apiUrl` alone is an update that writes nothing.
 * - the controller stores no description: it is kept from the inputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckFailure, InputError, OperationError, resourceLabel } from "../shared/errors";
import { cidr, hostname, ipv4, isBool, isString, nonEmptyString, parseIPv4 } from "../shared/validate";
import { containsUnknown, partialCreateError, plainOutputs } from "../shared/dynamic";
import { declareResource, optional, required, type KitInputs } from "../shared/resource-kit";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import type { IpPool, Network, NetworkConfig, ZtDns, ZtRoute } from "./model";
import { cidrContains, netmask, parseCidr } from "./ipv4";
import { normaliseNetworkConfig } from "./network-config";
import {
  type ZerotierConnectionInputs,
  clientFor,
  connectionFields,
  onlyConnectionChanged,
  realError,
  withRealErrors,
} from "./common";

const fields = {
  ...connectionFields,
  /** Network name. Default: the resource name. */
  name: required<string>({ validate: nonEmptyString }),
  /** Free text. Default "" (the controller stores none: kept from the inputs). */
  description: optional<string>({ validate: isString }),
  /** Members must be authorised. Default true. */
  private: optional<boolean>({ validate: isBool }),
  /** Members get an address from the pools when they ask for their config. Default true. */
  v4AutoAssign: optional<boolean>({ validate: isBool }),
  /** Flow rules source, Central only (a check failure with the controller). Unset = not managed. */
  flowRules: optional<string>({
    validate: (v) => (typeof v === "string" ? undefined : 'must be rules source text like "accept;"'),
  }),
  /** Managed routes: a CIDR network address each, `via` a gateway IPv4 or unset. Sorted by check. */
  routes: optional<{ target: string; via?: string | null }[]>(),
  /** Auto-assign pools {start, end}, each inside a route without `via`. Sorted by check. */
  ipAssignmentPools: optional<IpPool[]>(),
  /** DNS pushed to members: a domain and IPv4 servers (at least one when a domain is set). */
  dns: optional<{ domain?: string; servers?: string[] }>(),
};

/** Output names that are not inputs. */
const MANAGED = [
  "name",
  "description",
  "private",
  "ipAssignmentPools",
  "routes",
  "v4AutoAssign",
  "dns",
  "flowRules",
];

/** Routes, pools, DNS and the backend/flowRules rule (the fields' own checks ran first). */
function networkRules(raw: Record<string, unknown>): CheckFailure[] {
  const n = raw as Partial<ZerotierNetworkInputs>;
  const failures: CheckFailure[] = [];
  const routes = n.routes;
  if (routes !== undefined && !containsUnknown(routes)) {
    if (!Array.isArray(routes))
      failures.push({ property: "routes", reason: "must be a list of {target, via?}" });
    else
      routes.forEach((r, i) => {
        const bad = cidr(r?.target);
        if (bad) failures.push({ property: `routes[${i}].target`, reason: bad });
        else {
          const c = parseCidr(r.target)!;
          if ((c.addr & netmask(c.bits)) >>> 0 !== c.addr) {
            failures.push({
              property: `routes[${i}].target`,
              reason: `has host bits set; use the network address (${formatNet(c.addr, c.bits)})`,
            });
          }
        }
        if (r?.via !== undefined && r?.via !== null && ipv4(r.via))
          failures.push({
            property: `routes[${i}].via`,
            reason: `${ipv4(r.via)}, or leave it out for a route the network itself serves`,
          });
      });
  }
  const pools = n.ipAssignmentPools;
  if (pools !== undefined && !containsUnknown(pools)) {
    if (!Array.isArray(pools))
      failures.push({ property: "ipAssignmentPools", reason: "must be a list of {start, end}" });
    else
      pools.forEach((p, i) => {
        const sBad = ipv4(p?.start);
        const eBad = ipv4(p?.end);
        if (sBad) failures.push({ property: `ipAssignmentPools[${i}].start`, reason: sBad });
        if (eBad) failures.push({ property: `ipAssignmentPools[${i}].end`, reason: eBad });
        if (sBad || eBad) return;
        if (parseIPv4(p.start)! > parseIPv4(p.end)!) {
          failures.push({
            property: `ipAssignmentPools[${i}]`,
            reason: `start ${p.start} is after end ${p.end}; swap them`,
          });
          return;
        }
        if (Array.isArray(routes) && !containsUnknown(routes)) {
          const served = routes.filter((r) => !r?.via && !cidr(r?.target));
          if (!served.some((r) => cidrContains(r.target, p.start) && cidrContains(r.target, p.end))) {
            failures.push({
              property: `ipAssignmentPools[${i}]`,
              reason:
                `${p.start}-${p.end} is not inside any route without "via"; ZeroTier assigns no address outside ` +
                `a managed route: add a route whose target contains the pool (e.g. ${formatNet(parseIPv4(p.start)!, 24)})`,
            });
          }
        }
      });
  }
  const dns = n.dns;
  if (dns !== undefined && !containsUnknown(dns)) {
    if (dns.domain !== undefined && dns.domain !== "" && hostname(dns.domain))
      failures.push({ property: "dns.domain", reason: "must be a DNS domain like zt.example.com, or empty" });
    (dns.servers ?? []).forEach((s, i) => {
      if (ipv4(s)) failures.push({ property: `dns.servers[${i}]`, reason: ipv4(s)! });
    });
    if (dns.domain && !(dns.servers ?? []).length)
      failures.push({
        property: "dns.servers",
        reason: "must list at least one server when dns.domain is set",
      });
  }
  if (n.backend === "controller" && n.flowRules !== undefined) {
    failures.push({
      property: "flowRules",
      reason:
        "the self-hosted controller ignores rulesSource (it only takes compiled rules), so these rules would not " +
        'apply: remove flowRules, or use backend "central"',
    });
  }
  return failures;
}

/** The ZerotierNetwork declaration: type token zerotier:Network. */
export const zerotierNetworkKit = declareResource({
  kind: "ZerotierNetwork",
  module: "zerotier",
  type: "Network",
  fields,
  outputs: ["networkId", ...MANAGED],
  rules: networkRules,
  // Defaults and the API's own normalisation (sorted routes/pools), so they never show as a diff.
  normalise: (i) => {
    const d = desiredConfig(i as unknown as ZerotierNetworkInputs);
    return {
      ...i,
      description: d.description,
      private: d.private,
      ipAssignmentPools: d.ipAssignmentPools,
      routes: d.routes,
      v4AutoAssign: d.v4AutoAssign,
      dns: d.dns,
    };
  },
});

export type ZerotierNetworkInputs = KitInputs<typeof fields>;

export interface ZerotierNetworkOutputs extends ZerotierConnectionInputs {
  networkId: string;
  name: string;
  description: string;
  private: boolean;
  ipAssignmentPools: IpPool[];
  routes: ZtRoute[];
  v4AutoAssign: boolean;
  dns: ZtDns;
  flowRules?: string;
}

const label = (i: object): string => zerotierNetworkKit.label(i);

/** Every failure of the network inputs, connection fields included. */
export function checkNetworkInputs(n: Partial<ZerotierNetworkInputs>): CheckFailure[] {
  return zerotierNetworkKit.check(n).failures;
}

function formatNet(addr: number, bits: number): string {
  const a = (addr & netmask(bits)) >>> 0;
  return `${[a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join(".")}/${bits}`;
}

/** The spec the API should hold, from checked inputs. */
function desiredConfig(i: ZerotierNetworkInputs): NetworkConfig {
  return normaliseNetworkConfig({
    name: i.name,
    description: i.description ?? "",
    private: i.private ?? true,
    ipAssignmentPools: i.ipAssignmentPools ?? [],
    routes: (i.routes ?? []).map((r) => ({ target: r.target, via: r.via ?? null })),
    v4AutoAssign: i.v4AutoAssign ?? true,
    dns: { domain: i.dns?.domain ?? "", servers: i.dns?.servers ?? [] },
    rulesSource: i.backend === "central" ? i.flowRules : undefined,
  });
}

/** Outputs from the API's view; fields the backend does not store come from the inputs. */
function networkOutputs(i: ZerotierNetworkInputs, n: Network): ZerotierNetworkOutputs {
  return plainOutputs<Record<string, unknown>>({
    backend: i.backend,
    apiUrl: i.apiUrl,
    token: i.token,
    networkId: n.id,
    name: n.name,
    description: n.description ?? i.description ?? "",
    private: n.private,
    ipAssignmentPools: n.ipAssignmentPools,
    routes: n.routes,
    v4AutoAssign: n.v4AutoAssign,
    dns: n.dns,
    flowRules: i.flowRules === undefined ? undefined : (n.rulesSource ?? i.flowRules),
  }) as unknown as ZerotierNetworkOutputs;
}

/** Fields whose remote value differs from the desired one (DNS lost on create, TF#43 and friends). */
function mismatches(want: NetworkConfig, got: Network): string[] {
  const g = got as unknown as Record<string, unknown>;
  const w = want as unknown as Record<string, unknown>;
  return Object.keys(w).filter((k) => g[k] !== undefined && JSON.stringify(g[k]) !== JSON.stringify(w[k]));
}

export const zerotierNetworkProvider: pulumi.dynamic.ResourceProvider = withRealErrors({
  async check(_olds: ZerotierNetworkInputs, news: ZerotierNetworkInputs) {
    return zerotierNetworkKit.check(news);
  },

  async diff(_id: string, olds: ZerotierNetworkOutputs, news: ZerotierNetworkInputs) {
    const d = zerotierNetworkKit.diff(olds, news);
    const gone = (olds as unknown as { deleted?: boolean }).deleted === true;
    return { changes: d.changes || gone, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },

  async create(inputs: ZerotierNetworkInputs) {
    const lbl = label(inputs);
    const client = clientFor(inputs, lbl);
    const want = desiredConfig(inputs);
    let net = await client.createNetwork(want);
    try {
      // Some API versions drop fields on create: set them again once, then insist.
      if (mismatches(want, net).length) net = await client.updateNetwork(net.id, want);
      const still = mismatches(want, net);
      if (still.length) {
        throw new OperationError(
          lbl,
          "create network",
          `the API did not keep ${still.join(", ")}`,
          "the values of those fields",
        );
      }
    } catch (err) {
      throw partialCreateError(
        realError(err),
        net.id,
        networkOutputs(inputs, net) as unknown as Record<string, unknown>,
      );
    }
    return { id: net.id, outs: networkOutputs(inputs, net) };
  },

  async read(id: string, props: ZerotierNetworkOutputs) {
    const net = await clientFor(props, label(props)).getNetwork(id);
    if (!net) return props.backend === "controller" ? { id, props: { ...props, deleted: true } } : {};
    return { id, props: networkOutputs(props, net) };
  },

  async update(id: string, olds: ZerotierNetworkOutputs, news: ZerotierNetworkInputs) {
    const lbl = label(news);
    const client = clientFor(news, lbl);
    const { changed } = zerotierNetworkKit.diff(olds, news);
    let net: Network | undefined;
    const exists = (await client.getNetwork(id)) !== undefined;
    if (!exists && news.backend === "controller") {
      // Deleted outside: the controller's POST is an upsert, so re-create it under the same id.
      net = await client.updateNetwork(id, desiredConfig(news));
    } else if (!exists) {
      net = undefined;
    } else if (onlyConnectionChanged(changed)) {
      net = await client.getNetwork(id);
    } else {
      net = await client.updateNetwork(id, desiredConfig(news));
    }
    if (!net) {
      throw new OperationError(
        lbl,
        "update network",
        `network ${id} no longer exists`,
        "run `pulumi refresh`, then `pulumi up` re-creates it",
      );
    }
    return { outs: networkOutputs(news, net) };
  },

  async delete(id: string, props: ZerotierNetworkOutputs) {
    await clientFor(props, label(props)).deleteNetwork(id);
  },
});

/** ZerotierNetwork's arguments, from its fields (`name` optional: the resource name). */
export type ZerotierNetworkArgs = Omit<KitArgs<typeof fields>, "name"> & {
  /** Network name. Default: the resource name. */
  name?: pulumi.Input<string>;
};

export class ZerotierNetwork extends KitResource {
  declare readonly networkId: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  declare readonly private: pulumi.Output<boolean>;
  declare readonly ipAssignmentPools: pulumi.Output<IpPool[]>;
  declare readonly routes: pulumi.Output<ZtRoute[]>;
  declare readonly v4AutoAssign: pulumi.Output<boolean>;
  declare readonly dns: pulumi.Output<ZtDns>;
  declare readonly flowRules: pulumi.Output<string | undefined>;

  constructor(name: string, args: ZerotierNetworkArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.token)
      throw new InputError(
        resourceLabel(zerotierNetworkKit.decl.kind, name),
        "token",
        "is missing",
        "pass the API token (a secret config value)",
      );
    super(zerotierNetworkKit, zerotierNetworkProvider, name, { ...args, name: args.name ?? name }, opts);
  }
}
