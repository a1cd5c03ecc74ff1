/**
 * ZerotierMember: one node's membership of a network (authorisation, name, fixed or auto IPs).
 *
 * - create is an upsert, so a node can be authorised before it ever joined (pre-authorisation).
 * - `ipAssignments` given (non-empty) = fixed addresses, auto-assignment off for this member;
 *   left out = auto-assign from the network's pools once the node asks for its config.
 *   `assignedIps` (output) is what the member has now, either way.
 * - read reports deletion (empty id: the next up re-creates it) and DEauthorisation done outside
 *   (authorized=false in state: the next up re-authorises instead of failing).
 * - `waitForIp: {timeoutMs}` polls until the member has an address; the error names the network,
 *   the member and what to check. A timeout on create still records the member (partial create).
 * - the controller stores no description/hidden: they are kept from the inputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckFailure, OperationError } from "../shared/errors";
import { collectFailures, hexId, intInRange, ipv4, isBool, isString } from "../shared/validate";
import { containsUnknown, partialCreateError, plainOutputs } from "../shared/dynamic";
import { PollTimeoutError, pollUntil } from "../shared/retry";
import { declareResource, optional, required, type KitInputs } from "../shared/resource-kit";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import type { ZerotierClient } from "./client";
import type { Member, MemberConfig } from "./model";
import { canonicalIPv4 } from "./ipv4";
import {
  type ZerotierConnectionInputs,
  clientFor,
  connectionFields,
  onlyConnectionChanged,
  realError,
  withRealErrors,
} from "./common";

function withFix(v: (x: unknown) => string | undefined, fix: string): (x: unknown) => string | undefined {
  return (x) => {
    const r = v(x);
    return r ? `${r}; ${fix}` : undefined;
  };
}

const fields = {
  ...connectionFields,
  /** The network (16 hex), e.g. a ZerotierNetwork's networkId output. Replaces. */
  networkId: required<string>({
    validate: withFix(hexId(16), "use the networkId output of a ZerotierNetwork, e.g. 8056c2e21c000001"),
    change: "replace",
  }),
  /** The node id (10 hex) `zerotier-cli info` prints on the node. Replaces. */
  memberId: required<string>({
    validate: withFix(
      hexId(10),
      "use the node id `zerotier-cli info` prints on the node (or identity.public's first field)",
    ),
    change: "replace",
  }),
  /** Member name shown by the API. Default "". */
  name: optional<string>({ validate: isString }),
  /** Free text (the controller stores none: kept from the inputs). Default "". */
  description: optional<string>({ validate: isString }),
  /** Authorised on the network. Default true. */
  authorized: optional<boolean>({ validate: isBool }),
  /** Hidden in Central's member list; Central only (a check failure with the controller). Default false. */
  hidden: optional<boolean>({ validate: isBool }),
  /** Wait (on create/update) until the member has an IP, up to timeoutMs (1000 to 3600000). */
  waitForIp: optional<{ timeoutMs: number }>(),
  /** Fixed IPv4 addresses (no prefix length); unset or empty = auto-assign from the network's pools. */
  ipAssignments: optional<string[]>(),
};

/** waitForIp's timeout, fixed IPs, and the controller's lack of a hidden flag. */
function memberRules(raw: Record<string, unknown>): CheckFailure[] {
  const m = raw as Partial<ZerotierMemberInputs>;
  const failures = collectFailures([
    {
      path: "waitForIp.timeoutMs",
      value: m.waitForIp?.timeoutMs,
      check: intInRange(1000, 3_600_000),
      optional: m.waitForIp === undefined,
    },
  ]);
  const ips = m.ipAssignments;
  if (ips !== undefined && !containsUnknown(ips)) {
    if (!Array.isArray(ips))
      failures.push({ property: "ipAssignments", reason: "must be a list of IPv4 addresses" });
    else
      ips.forEach((ip, i) => {
        const bad = ipv4(ip);
        if (bad)
          failures.push({
            property: `ipAssignments[${i}]`,
            reason: `${bad} (no prefix length: the network's routes give it)`,
          });
      });
  }
  if (m.backend === "controller" && m.hidden === true) {
    failures.push({
      property: "hidden",
      reason: 'the self-hosted controller has no hidden flag: remove it, or use backend "central"',
    });
  }
  return failures;
}

/** The ZerotierMember declaration: type token zerotier:Member, labelled `<networkId>/<memberId>`. */
export const zerotierMemberKit = declareResource({
  kind: "ZerotierMember",
  module: "zerotier",
  type: "Member",
  fields,
  outputs: ["name", "authorized", "assignedIps"],
  labelOf: (i) => `${String(i.networkId ?? "?")}/${String(i.memberId ?? "?")}`,
  rules: memberRules,
  normalise: (i) => {
    const ips = i.ipAssignments as string[] | undefined;
    return {
      ...i,
      name: i.name ?? "",
      description: i.description ?? "",
      authorized: i.authorized ?? true,
      hidden: i.hidden ?? false,
      ipAssignments: ips?.length ? ips.map(canonicalIPv4) : undefined,
    };
  },
});

export type ZerotierMemberInputs = KitInputs<typeof fields>;

export interface ZerotierMemberOutputs extends ZerotierConnectionInputs {
  networkId: string;
  memberId: string;
  name: string;
  description: string;
  authorized: boolean;
  hidden: boolean;
  /** Present only when fixed addresses are managed. */
  ipAssignments?: string[];
  /** Every address the member has now (fixed or auto-assigned). */
  assignedIps: string[];
  waitForIp?: { timeoutMs: number };
}

const label = (i: object): string => zerotierMemberKit.label(i);

/** Every failure of the member inputs, connection fields included. */
export function checkMemberInputs(m: Partial<ZerotierMemberInputs>): CheckFailure[] {
  return zerotierMemberKit.check(m).failures;
}

function fixedIps(i: ZerotierMemberInputs): string[] | undefined {
  return i.ipAssignments && i.ipAssignments.length ? i.ipAssignments : undefined;
}

/** What to send: every managed field, so an upsert repairs whatever changed outside. */
function desiredMember(i: ZerotierMemberInputs, wasFixed: boolean): Partial<MemberConfig> {
  const fixed = fixedIps(i);
  const spec: Partial<MemberConfig> = {
    name: i.name ?? "",
    description: i.description ?? "",
    hidden: i.hidden ?? false,
    authorized: i.authorized ?? true,
    noAutoAssignIps: !!fixed,
  };
  // Switching from fixed to auto clears the fixed addresses; auto mode otherwise leaves them alone.
  if (fixed) spec.ipAssignments = fixed;
  else if (wasFixed) spec.ipAssignments = [];
  return spec;
}

function memberOutputs(i: ZerotierMemberInputs, m: Member): ZerotierMemberOutputs {
  return plainOutputs<Record<string, unknown>>({
    backend: i.backend,
    apiUrl: i.apiUrl,
    token: i.token,
    networkId: m.networkId,
    memberId: m.memberId,
    name: m.name ?? i.name ?? "",
    description: m.description ?? i.description ?? "",
    hidden: m.hidden ?? i.hidden ?? false,
    authorized: m.authorized,
    ipAssignments: fixedIps(i) ? m.ipAssignments : undefined,
    assignedIps: m.ipAssignments,
    waitForIp: i.waitForIp,
  }) as unknown as ZerotierMemberOutputs;
}

/** Polls until the member has an address (waitForIp); the error says what to check. */
async function waitForIp(client: ZerotierClient, i: ZerotierMemberInputs, m: Member): Promise<Member> {
  if (!i.waitForIp || m.ipAssignments.length) return m;
  try {
    return await pollUntil(
      async () => {
        const cur = await client.getMember(i.networkId, i.memberId);
        if (!cur) return { pending: "member does not exist" };
        if (cur.ipAssignments.length) return cur;
        return {
          pending: `authorized=${cur.authorized}, lastSeen=${cur.lastSeen ? new Date(cur.lastSeen).toISOString() : "never"}`,
        };
      },
      {
        timeoutMs: i.waitForIp.timeoutMs,
        intervalMs: 2000,
        what: `an IP for member ${i.memberId} on network ${i.networkId}`,
      },
    );
  } catch (err) {
    if (!(err instanceof PollTimeoutError)) throw err;
    // Built from fields: a serialised Error subclass carries no message (see realError).
    const seen = err.lastObservation ? ` (last seen: ${err.lastObservation})` : "";
    throw new OperationError(
      label(i),
      "wait for IP",
      `no IP after ${Math.round(i.waitForIp.timeoutMs / 1000)} s${seen}`,
      `that node ${i.memberId} has joined network ${i.networkId} (\`zerotier-cli listnetworks\` on the node shows it), ` +
        "that the network has v4AutoAssign and an ipAssignmentPool inside a route with free addresses, " +
        "or give ipAssignments; raise waitForIp.timeoutMs for slow nodes",
    );
  }
}

export const zerotierMemberProvider: pulumi.dynamic.ResourceProvider = withRealErrors({
  async check(_olds: ZerotierMemberInputs, news: ZerotierMemberInputs) {
    return zerotierMemberKit.check(news);
  },

  async diff(_id: string, olds: ZerotierMemberOutputs, news: ZerotierMemberInputs) {
    const d = zerotierMemberKit.diff(olds, news);
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
  },

  async create(inputs: ZerotierMemberInputs) {
    const client = clientFor(inputs, label(inputs));
    const id = `${inputs.networkId}-${inputs.memberId}`;
    let m = await client.upsertMember(inputs.networkId, inputs.memberId, desiredMember(inputs, false));
    try {
      m = await waitForIp(client, inputs, m);
    } catch (err) {
      throw partialCreateError(
        realError(err),
        id,
        memberOutputs(inputs, m) as unknown as Record<string, unknown>,
      );
    }
    return { id, outs: memberOutputs(inputs, m) };
  },

  async read(id: string, props: ZerotierMemberOutputs) {
    const m = await clientFor(props, label(props)).getMember(props.networkId, props.memberId);
    if (!m) return {};
    return { id, props: memberOutputs(props, m) };
  },

  async update(_id: string, olds: ZerotierMemberOutputs, news: ZerotierMemberInputs) {
    const client = clientFor(news, label(news));
    const { changed } = zerotierMemberKit.diff(olds, news);
    let m: Member | undefined;
    if (onlyConnectionChanged(changed) || (changed.length === 1 && changed[0] === "waitForIp")) {
      m = await client.getMember(news.networkId, news.memberId);
    }
    // Upsert: also brings back a member deleted outside since the last refresh.
    m ??= await client.upsertMember(
      news.networkId,
      news.memberId,
      desiredMember(news, olds.ipAssignments !== undefined),
    );
    m = await waitForIp(client, news, m);
    return { outs: memberOutputs(news, m) };
  },

  async delete(_id: string, props: ZerotierMemberOutputs) {
    await clientFor(props, label(props)).deleteMember(props.networkId, props.memberId);
  },
});

/** ZerotierMember's arguments, from its fields. */
export type ZerotierMemberArgs = KitArgs<typeof fields>;

export class ZerotierMember extends KitResource {
  declare readonly networkId: pulumi.Output<string>;
  declare readonly memberId: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly authorized: pulumi.Output<boolean>;
  declare readonly assignedIps: pulumi.Output<string[]>;

  constructor(name: string, args: ZerotierMemberArgs, opts?: pulumi.CustomResourceOptions) {
    super(zerotierMemberKit, zerotierMemberProvider, name, { ...args }, opts);
  }
}
