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
import { collectFailures, cidr, ipv4, nonEmptyString, parseIPv4, hostname } from "../shared/validate";
import { containsUnknown, diffFields, partialCreateError, plainOutputs } from "../shared/dynamic";
import {
  type IpPool,
  type Network,
  type NetworkConfig,
  type ZtDns,
  type ZtRoute,
  cidrContains,
  netmask,
  normaliseNetworkConfig,
  parseCidr,
} from "./client";
import {
  type ZerotierConnectionInputs,
  clientFor,
  connectionRules,
  onlyConnectionChanged,
  realError,
  withRealErrors,
} from "./common";

export interface ZerotierNetworkInputs extends ZerotierConnectionInputs {
  name: string;
  description?: string;
  private?: boolean;
  ipAssignmentPools?: IpPool[];
  routes?: { target: string; via?: string | null }[];
  v4AutoAssign?: boolean;
  dns?: { domain?: string; servers?: string[] };
  /** Flow rules source (Central only). Unset = not managed. */
  flowRules?: string;
}

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

const KIND = "ZerotierNetwork";
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

function label(i: { name?: unknown }): string {
  return resourceLabel(KIND, typeof i.name === "string" ? i.name : "?");
}

/** Failures for the network settings (connection rules are checked separately). */
export function checkNetworkInputs(n: Partial<ZerotierNetworkInputs>): CheckFailure[] {
  const failures = collectFailures([
    ...connectionRules(n),
    { path: "name", value: n.name, check: nonEmptyString },
    {
      path: "description",
      value: n.description,
      check: (v) => (typeof v === "string" ? undefined : "must be a string"),
      optional: true,
    },
    { path: "private", value: n.private, check: isBool, optional: true },
    { path: "v4AutoAssign", value: n.v4AutoAssign, check: isBool, optional: true },
    {
      path: "flowRules",
      value: n.flowRules,
      check: (v) => (typeof v === "string" ? undefined : 'must be rules source text like "accept;"'),
      optional: true,
    },
  ]);
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

function isBool(v: unknown): string | undefined {
  return typeof v === "boolean" ? undefined : "must be true or false";
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
    const failures = checkNetworkInputs(news);
    if (failures.length || containsUnknown(news)) return { inputs: news, failures };
    const d = desiredConfig(news);
    const inputs: ZerotierNetworkInputs = {
      ...news,
      description: d.description,
      private: d.private,
      ipAssignmentPools: d.ipAssignmentPools,
      routes: d.routes,
      v4AutoAssign: d.v4AutoAssign,
      dns: d.dns,
    };
    return { inputs: plainOutputs(inputs as unknown as Record<string, unknown>), failures: [] };
  },

  async diff(_id: string, olds: ZerotierNetworkOutputs, news: ZerotierNetworkInputs) {
    const d = diffFields(
      olds as unknown as Record<string, unknown>,
      news as unknown as Record<string, unknown>,
      {
        replaceOn: ["backend"],
        updateOn: [...MANAGED, "apiUrl", "token"],
      },
    );
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
    const { changed } = diffFields(
      olds as unknown as Record<string, unknown>,
      news as unknown as Record<string, unknown>,
      {
        updateOn: [...MANAGED, "apiUrl", "token"],
      },
    );
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

export interface ZerotierNetworkArgs {
  backend: pulumi.Input<"central" | "controller">;
  apiUrl: pulumi.Input<string>;
  /** Stored encrypted: always wrapped as a secret. */
  token: pulumi.Input<string>;
  /** Default: the resource name. */
  name?: pulumi.Input<string>;
  description?: pulumi.Input<string>;
  /** Default true (members must be authorised). */
  private?: pulumi.Input<boolean>;
  ipAssignmentPools?: pulumi.Input<pulumi.Input<IpPool>[]>;
  routes?: pulumi.Input<pulumi.Input<{ target: pulumi.Input<string>; via?: pulumi.Input<string> }>[]>;
  /** Default true: members get an address from the pools when they ask for their config. */
  v4AutoAssign?: pulumi.Input<boolean>;
  dns?: pulumi.Input<{ domain?: pulumi.Input<string>; servers?: pulumi.Input<pulumi.Input<string>[]> }>;
  /** Central only (a check failure with the controller). */
  flowRules?: pulumi.Input<string>;
}

export class ZerotierNetwork extends pulumi.dynamic.Resource {
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
        resourceLabel(KIND, name),
        "token",
        "is missing",
        "pass the API token (a secret config value)",
      );
    super(
      zerotierNetworkProvider,
      name,
      // Every declared output is seeded, or it would not exist on the resource when not given.
      {
        description: undefined,
        private: undefined,
        ipAssignmentPools: undefined,
        routes: undefined,
        v4AutoAssign: undefined,
        dns: undefined,
        flowRules: undefined,
        ...args,
        name: args.name ?? name,
        token: pulumi.secret(args.token),
        networkId: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "token"] },
      "zerotier",
      "Network",
    );
  }
}
