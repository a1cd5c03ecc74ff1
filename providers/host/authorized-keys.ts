/**
 * `AuthorizedKeys`: the SSH key group plus the deploy key, as a managed block in a user's
 * `~/.ssh/authorized_keys` on a host. Keys outside the block are never touched. A no-op `up` makes
 * no remote call at all; an update writes only when the file's content would change.
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, resourceLabel } from "../shared/errors";
import { containsUnknown, diffFields, plainOutputs } from "../shared/dynamic";
import { shellQuote, type SshSession } from "../shared/ssh";
import { collectFailures, nonEmptyString, sshPublicKey } from "../shared/validate";
import { readManagedBlock, setManagedBlock } from "./authorized-keys-block";
import { connectionFailures, onHost, readOnHost, type HostConnection } from "./connection";

export interface AuthorizedKeysInputs {
  /** How to reach the host (secret: carries private keys). */
  connection: HostConnection;
  /** Whose authorized_keys to manage. Default "root". */
  user?: string;
  /** Name of the managed block, e.g. "build-1" (several stacks can share a host). */
  block: string;
  /** OpenSSH public key lines; de-duplicated and kept in the given order. */
  keys: string[];
}

export interface AuthorizedKeysOutputs extends AuthorizedKeysInputs {
  /** The file that was written. */
  path: string;
}

const KIND = "AuthorizedKeys";

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

/** Trimmed, first occurrence kept: the form written to the host and kept in state. */
function normalizeKeys(keys: string[]): string[] {
  const out: string[] = [];
  for (const k of keys.map((x) => x.trim())) if (!out.includes(k)) out.push(k);
  return out;
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
    const failures = [
      ...connectionFailures("connection", news.connection),
      ...collectFailures([
        { path: "block", value: news.block, check: nonEmptyString },
        { path: "user", value: news.user, check: nonEmptyString, optional: true },
      ]),
    ];
    if (Array.isArray(news.keys)) {
      if (news.keys.length === 0)
        failures.push({
          property: "keys",
          reason: "is empty: nobody could log in; add the group or deploy key",
        });
      news.keys.forEach((k: unknown, i: number) => {
        failures.push(...collectFailures([{ path: `keys[${i}]`, value: k, check: sshPublicKey }]));
      });
    } else if (!containsUnknown(news.keys)) {
      failures.push({ property: "keys", reason: "must be a list of OpenSSH public key lines" });
    }
    return { inputs: news, failures };
  },

  async diff(_id, olds, news) {
    // Keys and user change in place; a new block name is a different block: replace (old one removed).
    const wanted = Array.isArray(news.keys) ? { ...news, keys: normalizeKeys(news.keys) } : news;
    const d = diffFields(olds, wanted, { updateOn: ["keys", "user", "connection"], replaceOn: ["block"] });
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

export interface AuthorizedKeysArgs {
  /** How to reach the host: ordered addresses x ordered keys, pinned host key. Required; secret in state. */
  connection: pulumi.Input<HostConnection>;
  /** Whose `~/.ssh/authorized_keys` to manage (must exist on the host). Default "root". */
  user?: pulumi.Input<string>;
  /** Name of the managed block, e.g. "build-1": several stacks share a host with distinct names. Required, non-empty; a new name replaces the resource (the old block is removed). */
  block: pulumi.Input<string>;
  /** OpenSSH public key lines for the block, in order; trimmed and de-duplicated. Required, at least one. */
  keys: pulumi.Input<pulumi.Input<string>[]>;
}

/** The g8os-managed block of a user's authorized_keys on one host. */
export class AuthorizedKeys extends pulumi.dynamic.Resource {
  declare readonly keys: pulumi.Output<string[]>;
  declare readonly path: pulumi.Output<string>;

  constructor(name: string, args: AuthorizedKeysArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      authorizedKeysProvider,
      name,
      { ...args, connection: pulumi.secret(args.connection), path: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
      "host",
      "AuthorizedKeys",
    );
  }
}
