/**
 * `AuthorizedKeys`: the SSH key group plus the deploy key, as a managed block in a user's
 * `~/.ssh/authorized_keys` on a host. Keys outside the block are never touched. A no-op `up` makes
 * no remote call at all; an update writes only when the file's content would change.
 *
 * On the resource kit (providers/shared/resource-kit.ts): type token host:AuthorizedKeys, and the
 * state fields of the hand-written provider it replaced (test/unit/state-compat-host.test.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { InputError, resourceLabel } from "../shared/errors";
import { containsUnknown, plainOutputs } from "../shared/dynamic";
import { shellQuote, type SshSession } from "../shared/ssh";
import { collectFailures, nonEmptyString, sshPublicKey } from "../shared/validate";
import {
  declareResource,
  optional,
  required,
  type KitInputs,
  type RuleFailure,
} from "../shared/resource-kit";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import { readManagedBlock, setManagedBlock } from "./authorized-keys-block";
import { connectionFailures, connectionFix, onHost, readOnHost, type HostConnection } from "./connection";

/** Trimmed, first occurrence kept: the form written to the host and kept in state. */
function normalizeKeys(keys: string[]): string[] {
  const out: string[] = [];
  for (const k of keys.map((x) => x.trim())) if (!out.includes(k)) out.push(k);
  return out;
}

const fields = {
  /**
   * How to reach the host: ordered addresses x ordered keys, pinned host key. Required; secret in
   * state (carries private keys). A change updates in place.
   */
  connection: required<HostConnection>({ secret: true, fix: connectionFix("connection") }),
  /** Whose `~/.ssh/authorized_keys` to manage (must exist on the host). Default "root". */
  user: optional<string>({ validate: nonEmptyString }),
  /**
   * Name of the managed block, e.g. "build-1": several stacks share a host with distinct names.
   * Required, non-empty; a new name replaces the resource (the old block is removed).
   */
  block: required<string>({ validate: nonEmptyString, change: "replace" }),
  /**
   * OpenSSH public key lines for the block, in order; trimmed and de-duplicated. Required, at
   * least one.
   */
  keys: required<string[]>({
    validate: (v) => (Array.isArray(v) ? undefined : "must be a list of OpenSSH public key lines"),
    fix: 'set keys to a list of OpenSSH public key lines, e.g. ["ssh-ed25519 AAAA... alice@laptop"]',
  }),
};

/** The connection's and each key's checks (the kit reported missing or non-list values). */
function authorizedKeysRules(news: Record<string, unknown>): RuleFailure[] {
  const failures: RuleFailure[] = [];
  if (news.connection !== undefined && news.connection !== null)
    failures.push(...connectionFailures("connection", news.connection));
  const keys = news.keys;
  if (Array.isArray(keys) && !containsUnknown(keys)) {
    if (keys.length === 0)
      failures.push({
        property: "keys",
        reason: "is empty: nobody could log in",
        fix: "add the group's keys or the deploy key to keys",
      });
    keys.forEach((k: unknown, i: number) => {
      failures.push(...collectFailures([{ path: `keys[${i}]`, value: k, check: sshPublicKey }]));
    });
  }
  return failures;
}

/** The AuthorizedKeys declaration: type token host:AuthorizedKeys (unchanged); keys normalised. */
export const authorizedKeysKit = declareResource({
  kind: "AuthorizedKeys",
  module: "host",
  type: "AuthorizedKeys",
  fields,
  outputs: ["path"],
  labelField: "block",
  rules: authorizedKeysRules,
  normalise: (i) => ({ ...i, keys: normalizeKeys(i.keys as string[]) }),
});

export type AuthorizedKeysInputs = KitInputs<typeof fields>;

export interface AuthorizedKeysOutputs extends AuthorizedKeysInputs {
  /** The file that was written. */
  path: string;
}

const KIND = authorizedKeysKit.decl.kind;

/** Resolves the user's authorized_keys path and reads it (empty when absent). */
async function load(s: SshSession, user: string): Promise<{ path: string; content: string }> {
  const home = (
    await s.exec(`getent passwd ${shellQuote(user)} | cut -d: -f6`, { step: `find home of ${user}` })
  ).stdout.trim();
  if (!home)
    throw new InputError(
      resourceLabel(KIND, user),
      "user",
      `no user "${user}" on ${s.target.host}`,
      "create the user or set `user`",
    );
  const path = `${home}/.ssh/authorized_keys`;
  return { path, content: (await s.readFile(path)) ?? "" };
}

async function apply(name: string, inputs: AuthorizedKeysInputs): Promise<AuthorizedKeysOutputs> {
  const user = inputs.user ?? "root";
  const keys = normalizeKeys(inputs.keys);
  return onHost(inputs.connection, resourceLabel(KIND, name), async (s) => {
    const { path, content } = await load(s, user);
    const next = setManagedBlock(content, inputs.block, keys);
    if (next !== content) {
      const dir = path.replace(/\/authorized_keys$/, "");
      await s.exec(`install -d -m 0700 -o ${shellQuote(user)} ${shellQuote(dir)}`, {
        write: true,
        step: `create ${dir}`,
      });
      await s.writeFile(path, next, "0600", { step: `write ${path}` });
      await s.exec(`chown ${shellQuote(user)} ${shellQuote(path)}`, { write: true, step: `chown ${path}` });
    }
    return plainOutputs({ ...inputs, keys, path });
  });
}

export const authorizedKeysProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return authorizedKeysKit.check(news);
  },

  // Keys, user and connection change in place; a new block name is a different block: replace
  // (the old one is removed). The kit's check normalised the keys, as the stored outputs hold them.
  async diff(_id, olds, news) {
    const d = authorizedKeysKit.diff(olds, news);
    return { changes: d.changes, replaces: d.replaces, deleteBeforeReplace: false };
  },

  async create(inputs) {
    const outs = await apply(inputs.block, inputs as AuthorizedKeysInputs);
    return { id: `${outs.path}#${outs.block}`, outs };
  },

  async update(_id, _olds, news) {
    return { outs: await apply(news.block, news as AuthorizedKeysInputs) };
  },

  async read(id, props) {
    const p = props as AuthorizedKeysOutputs;
    return readOnHost(p.connection, resourceLabel(KIND, p.block), { id, props }, async (s) => {
      const { content } = await load(s, p.user ?? "root");
      const keys = readManagedBlock(content, p.block);
      // Block gone: report the resource as gone so the next `up` writes it again.
      if (keys === undefined) return { id: "", props: {} };
      return { id, props: { ...p, keys } };
    });
  },

  async delete(_id, props) {
    const p = props as AuthorizedKeysOutputs;
    await onHost(p.connection, resourceLabel(KIND, p.block), async (s) => {
      const { path, content } = await load(s, p.user ?? "root");
      const next = setManagedBlock(content, p.block, []);
      if (next !== content) await s.writeFile(path, next, "0600", { step: `write ${path}` });
    });
  },
};

/** AuthorizedKeys' arguments, derived from the fields (each property's doc is its field's). */
export type AuthorizedKeysArgs = KitArgs<typeof fields>;

/** The g8os-managed block of a user's authorized_keys on one host. */
export class AuthorizedKeys extends KitResource {
  declare readonly keys: pulumi.Output<string[]>;
  declare readonly path: pulumi.Output<string>;

  constructor(name: string, args: AuthorizedKeysArgs, opts?: pulumi.CustomResourceOptions) {
    super(authorizedKeysKit, authorizedKeysProvider, name, { ...args }, opts);
  }
}
