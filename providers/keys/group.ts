/**
 * SshKeyGroup: the "ssh pub key group" the hosts authorize, as a resource whose `keys` output follows
 * the source.
 *
 * - diff fetches the source every time (preview and up): a key added or removed there, or a member
 *   joining or leaving, shows as an update of this group, and the hosts that consume `keys` show an
 *   update in the same preview. So a preview with an unreachable source fails here, naming the URL:
 *   stale keys are never silently kept.
 * - read (refresh) fetches too; it needs the client secret, so the secret is kept in the outputs,
 *   encrypted (additionalSecretOutputs).
 * - A group with no valid key at all is an error (nobody could log in); invalid keys, members
 *   without keys and members who have not granted the organization their keys (`missingGrants`,
 *   naming user and scope) are reported in outputs, not errors (one member must not block the build).
 * - delete does nothing remote: the source is not ours.
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckFailure, InputError, resourceLabel } from "../shared/errors";
import { containsUnknown, plainOutputs } from "../shared/dynamic";
import { collectFailures, type FieldRule, httpUrl, nonEmptyString, sshPublicKey } from "../shared/validate";
import { declareResource, optional, required, type KitInputs } from "../shared/resource-kit";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import {
  fetchKeyGroup,
  type InvalidKey,
  type KeyGroup,
  type KeySourceSpec,
  type MissingGrant,
} from "./client";

const fields = {
  /** Resource name, for messages. Set by the constructor. */
  name: required<string>({ change: "none" }),
  /** Where the keys come from (see providers/keys/client.ts); checked per kind by `sourceRules`. */
  source: required<KeySourceSpec>({
    fix: 'set source to { kind: "itsyouonline", baseUrl, organization, clientId }, { kind: "keys-url", baseUrl, users } or { kind: "inline", keys }',
  }),
  /** ItsYou.online client secret: required for source `itsyouonline`; stored encrypted. */
  clientSecret: optional<string>({ secret: true }),
};

/** Outputs that mirror the source: any change there is an update. */
const FETCHED = ["keys", "members", "membersWithoutKeys", "invalidKeys", "missingGrants"];

const userName = (v: unknown): string | undefined =>
  typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)
    ? undefined
    : "must be a user name (letters, digits, . _ -), as on the key site";

function listRules(
  path: string,
  v: unknown,
  each: (x: unknown) => string | undefined,
  min: number,
): FieldRule[] {
  if (v === undefined && min === 0) return [];
  if (!Array.isArray(v)) {
    return [{ path, value: v, check: () => "must be a list" }];
  }
  const rules: FieldRule[] = v.map((x, i) => ({ path: `${path}[${i}]`, value: x, check: each }));
  if (v.length < min) rules.push({ path, value: v, check: () => `must list at least ${min}` });
  return rules;
}

/** The source's fields, per kind (the kit already reported a missing source). */
function sourceRules(i: Record<string, unknown>): CheckFailure[] {
  const s = i.source as Record<string, unknown> | undefined;
  if (s === undefined || s === null || containsUnknown(s)) return [];
  const rules: FieldRule[] = [];
  if (s.kind === "itsyouonline") {
    rules.push(
      { path: "source.baseUrl", value: s.baseUrl, check: httpUrl },
      { path: "source.organization", value: s.organization, check: nonEmptyString },
      { path: "source.clientId", value: s.clientId, check: nonEmptyString },
      // The reason never quotes the value: it is a secret.
      {
        path: "clientSecret",
        value: i.clientSecret,
        check: (v) =>
          nonEmptyString(v)
            ? "must be the ItsYou.online client secret (g8os:itsyouonlineClientSecret)"
            : undefined,
      },
      ...listRules("source.extraKeys", s.extraKeys, sshPublicKey, 0),
    );
  } else if (s.kind === "keys-url") {
    rules.push(
      { path: "source.baseUrl", value: s.baseUrl, check: httpUrl },
      ...listRules("source.users", s.users, userName, 1),
      ...listRules("source.extraKeys", s.extraKeys, sshPublicKey, 0),
    );
  } else if (s.kind === "inline") {
    // Keys written by hand in config are checked up front, unlike keys fetched from people's profiles.
    rules.push(...listRules("source.keys", s.keys, sshPublicKey, 1));
  } else {
    rules.push({
      path: "source.kind",
      value: s.kind ?? null,
      check: () => 'must be "itsyouonline", "keys-url" or "inline"',
    });
  }
  return collectFailures(rules);
}

/** The SshKeyGroup declaration: type token keys:SshKeyGroup; the source checked by `sourceRules`. */
export const sshKeyGroupKit = declareResource({
  kind: "SshKeyGroup",
  module: "keys",
  type: "SshKeyGroup",
  fields,
  outputs: [
    "keys",
    "fingerprints",
    "owners",
    "members",
    "membersWithoutKeys",
    "invalidKeys",
    "missingGrants",
  ],
  rules: sourceRules,
});

export type SshKeyGroupInputs = KitInputs<typeof fields>;

export interface SshKeyGroupOutputs extends KeyGroup {
  name: string;
  source: KeySourceSpec;
  clientSecret?: string;
}

const label = (i: object): string => sshKeyGroupKit.label(i);

/** Every failure of the inputs. */
export function checkGroupInputs(i: Partial<SshKeyGroupInputs>): CheckFailure[] {
  return sshKeyGroupKit.check(i).failures;
}

async function fetchFor(i: SshKeyGroupInputs): Promise<SshKeyGroupOutputs> {
  const group = await fetchKeyGroup(i.source, { clientSecret: i.clientSecret, label: label(i) });
  const outs: SshKeyGroupOutputs = {
    name: i.name,
    source: i.source,
    clientSecret: i.clientSecret,
    ...group,
  };
  return plainOutputs(outs as unknown as Record<string, unknown>) as unknown as SshKeyGroupOutputs;
}

export const sshKeyGroupProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: SshKeyGroupInputs, news: SshKeyGroupInputs) {
    return sshKeyGroupKit.check(news);
  },

  async diff(_id: string, olds: SshKeyGroupOutputs, news: SshKeyGroupInputs) {
    if (containsUnknown(news)) {
      return { changes: true, replaces: [], deleteBeforeReplace: false };
    }
    // The source is the truth: ask it now, so a change there shows in this preview.
    const current = await fetchFor(news);
    const d = sshKeyGroupKit.diff(olds, current, { update: FETCHED });
    return { changes: d.changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: SshKeyGroupInputs) {
    const crypto = require("crypto") as typeof import("crypto");
    return { id: crypto.randomUUID(), outs: await fetchFor(inputs) };
  },

  async read(id: string, props: SshKeyGroupOutputs) {
    return { id, props: await fetchFor(props) };
  },

  async update(_id: string, _olds: SshKeyGroupOutputs, news: SshKeyGroupInputs) {
    return { outs: await fetchFor(news) };
  },

  async delete() {
    // The keys live at the source, which is not ours to change.
  },
};

export type SshKeyGroupSource =
  | {
      kind: "itsyouonline";
      baseUrl: pulumi.Input<string>;
      organization: pulumi.Input<string>;
      clientId: pulumi.Input<string>;
      extraKeys?: pulumi.Input<pulumi.Input<string>[]>;
    }
  | {
      kind: "keys-url";
      baseUrl: pulumi.Input<string>;
      users: pulumi.Input<pulumi.Input<string>[]>;
      extraKeys?: pulumi.Input<pulumi.Input<string>[]>;
    }
  | { kind: "inline"; keys: pulumi.Input<pulumi.Input<string>[]> };

/** SshKeyGroup's arguments: `source` with Pulumi inputs inside, `clientSecret` (no `name`). */
export type SshKeyGroupArgs = Omit<KitArgs<typeof fields>, "name" | "source"> & {
  /** Where the keys come from (see providers/keys/client.ts). */
  source: pulumi.Input<SshKeyGroupSource>;
};

/** The public SSH keys of the build group; hosts authorize `keys`. */
export class SshKeyGroup extends KitResource {
  /** Sorted, de-duplicated OpenSSH public key lines. */
  declare readonly keys: pulumi.Output<string[]>;
  /** `SHA256:...` per key, same order as `keys`. */
  declare readonly fingerprints: pulumi.Output<string[]>;
  /** Owner (user name or `inline`) per key, same order as `keys`. */
  declare readonly owners: pulumi.Output<string[]>;
  declare readonly members: pulumi.Output<string[]>;
  declare readonly membersWithoutKeys: pulumi.Output<string[]>;
  declare readonly invalidKeys: pulumi.Output<InvalidKey[]>;
  /** ItsYou.online members who have not shared their keys with the organization, and the scopes. */
  declare readonly missingGrants: pulumi.Output<MissingGrant[]>;

  constructor(name: string, args: SshKeyGroupArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.source) {
      throw new InputError(
        resourceLabel(sshKeyGroupKit.decl.kind, name),
        "source",
        "is missing",
        "pass a key source",
      );
    }
    super(
      sshKeyGroupKit,
      sshKeyGroupProvider,
      name,
      { name, source: args.source, clientSecret: args.clientSecret },
      opts,
    );
  }
}
