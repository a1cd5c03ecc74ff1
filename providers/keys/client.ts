/**
 * The "ssh pub key group": the public SSH keys of the people who may log in to the build hosts,
 * fetched from one source:
 * - `itsyouonline`: an ItsYou.online-compatible API (client-credentials token, organization members,
 *   each member's public keys as that member shared them with the organization: `GET
 *   /api/users/{u}/info`, whose `publicKeys` hold only keys granted through `user:publickey:<label>`;
 *   `/api/users/{u}/publickeys` needs `user:admin`, which an organization's key never has). Members
 *   who have not granted access are reported by name with the missing scope (`missingGrants`);
 * - `keys-url`: GitHub/GitLab-style `<baseUrl>/<user>.keys` (one key per line) for a list of users;
 * - `inline`: keys written in the stack config.
 * `extraKeys` (inline keys) can be added to either remote source, e.g. a break-glass key.
 *
 * Every key is validated (invalid ones are left out and reported with user and label), keys are
 * de-duplicated by type+body (the first comment wins) and sorted, so the same source content always
 * gives the same list. Members without any key are reported too.
 *
 * The HTTP layer is in http.ts, the two remote sources in sources.ts.
 *
 * Plain module: no Pulumi imports (dynamic providers inline it). HTTP is Node's global fetch.
 */
import { OperationError } from "../shared/errors";
import { sshFingerprint } from "../shared/ssh";
import { KeySourceHttp } from "./http";
import { fetchItsYouOnline, fetchKeysUrl } from "./sources";
import { sshPublicKey } from "../shared/validate";

export type KeySourceSpec =
  | {
      kind: "itsyouonline";
      /** API root, e.g. `https://itsyou.online`. */
      baseUrl: string;
      /** Organization globalid, e.g. `gig_build`. */
      organization: string;
      /** API key id of the organization (client credentials); the secret is passed separately. */
      clientId: string;
      extraKeys?: string[];
    }
  | {
      kind: "keys-url";
      /** Site root: keys are at `<baseUrl>/<user>.keys`, e.g. `https://github.com`. */
      baseUrl: string;
      users: string[];
      extraKeys?: string[];
    }
  | { kind: "inline"; keys: string[] };

/** A key that was left out, and why. Never holds the key text (it may be a pasted private key). */
export interface InvalidKey {
  user: string;
  label: string;
  reason: string;
}

/** A member whose keys the organization may not (fully) read, and what the member has to share. */
export interface MissingGrant {
  user: string;
  /**
   * The scopes the member has not shared with the organization, e.g. `user:publickey:ssh`; when the
   * server does not say which, `user:publickey:<label>` (any label the organization asks for).
   */
  scopes: string[];
}

export interface KeyGroup {
  /** Sorted, de-duplicated OpenSSH lines (`type base64 comment`), ready for authorized_keys. */
  keys: string[];
  /** `SHA256:...` fingerprint of each key, same order as `keys`. */
  fingerprints: string[];
  /** Who each key belongs to (user name, or `inline`), same order as `keys`. */
  owners: string[];
  /** Everyone the source lists, sorted. */
  members: string[];
  /** Members with no valid key, sorted. */
  membersWithoutKeys: string[];
  invalidKeys: InvalidKey[];
  /**
   * ItsYou.online members who have not shared (all) the `user:publickey` scopes the organization
   * needs, sorted by user; `[]` for other sources. The API cannot tell "has no key" from "did not
   * share one": both are listed. Their keys are missing from `keys` until they share a key with
   * the organization on ItsYou.online.
   */
  missingGrants: MissingGrant[];
}

/** One sentence naming each member and the scope to share, for messages. */
export function describeMissingGrants(organization: string, missing: MissingGrant[]): string {
  return missing
    .map(
      (m) =>
        `member "${m.user}" has not shared an SSH public key with organization "${organization}" ` +
        `(scope ${m.scopes.join(", ")})`,
    )
    .join("; ");
}

export interface FetchKeyGroupOptions {
  /** The ItsYou.online client secret (source `itsyouonline`). */
  clientSecret?: string;
  /** Label for errors: `SshKeyGroup "build"`. */
  label?: string;
  /** Per-request timeout. Default 15 s. */
  timeoutMs?: number;
  /** Attempts per request on network errors and 5xx. Default 3. */
  attempts?: number;
  /** First retry delay. Default 500 ms. */
  retryDelayMs?: number;
  /** Members fetched at once. Default 4. */
  concurrency?: number;
}

/** One key as a source gave it, before validation. */
export interface RawKey {
  user: string;
  label: string;
  text: string;
}

/** Fetches, validates, de-duplicates and sorts the group's keys. Throws OperationError naming URL and fix. */
export async function fetchKeyGroup(
  source: KeySourceSpec,
  opts: FetchKeyGroupOptions = {},
): Promise<KeyGroup> {
  const label = opts.label ?? "SshKeyGroup";
  const http = new KeySourceHttp(label, opts);
  let members: string[] = [];
  let raw: RawKey[] = [];
  let extra: string[] = [];
  let missingGrants: MissingGrant[] = [];
  if (source.kind === "itsyouonline") {
    ({ members, raw, missingGrants } = await fetchItsYouOnline(source, http, opts));
    extra = source.extraKeys ?? [];
  } else if (source.kind === "keys-url") {
    ({ members, raw } = await fetchKeysUrl(source, http, opts));
    extra = source.extraKeys ?? [];
  } else if (source.kind === "inline") {
    extra = source.keys;
  } else {
    throw new OperationError(
      label,
      "read key source",
      `unknown source kind`,
      `source.kind: itsyouonline, keys-url or inline`,
    );
  }
  raw = raw.concat(extra.map((text, i) => ({ user: "inline", label: `extraKeys[${i}]`, text })));
  if (source.kind === "inline") raw.forEach((k, i) => (k.label = `keys[${i}]`));
  const group = { ...buildGroup(members, raw), missingGrants };
  if (group.keys.length === 0) {
    const invalid = group.invalidKeys.length ? `; ${group.invalidKeys.length} key(s) were invalid` : "";
    const grants =
      missingGrants.length && source.kind === "itsyouonline"
        ? `; ${describeMissingGrants(source.organization, missingGrants)}`
        : "";
    throw new OperationError(
      label,
      "collect SSH keys",
      `${describeSource(source)} gave no valid public key (members: ${group.members.length}${invalid}${grants}), ` +
        "so nobody could log in to the hosts",
      source.kind === "inline"
        ? "g8os:keyInline (OpenSSH public key lines)"
        : missingGrants.length
          ? "that the members accept the organization's request to share their SSH public key on ItsYou.online (the user:publickey scope), or add g8os:keyInline keys"
          : "that the members have uploaded public keys, or add g8os:keyInline keys",
    );
  }
  return group;
}

/** Names a source for messages, without secrets. */
export function describeSource(source: KeySourceSpec): string {
  switch (source.kind) {
    case "itsyouonline":
      return `ItsYou.online organization "${source.organization}" at ${source.baseUrl}`;
    case "keys-url":
      return `${source.baseUrl}/<user>.keys for ${source.users.length} user(s)`;
    case "inline":
      return "the inline key list";
    default:
      return "the key source";
  }
}

/** Validates, de-duplicates and sorts raw keys; pure, exported for tests. */
export function buildGroup(members: string[], raw: RawKey[]): Omit<KeyGroup, "missingGrants"> {
  const invalidKeys: InvalidKey[] = [];
  const byBody = new Map<string, { line: string; owner: string; blob: Buffer }>();
  for (const k of raw) {
    const reason = sshPublicKey(k.text);
    if (reason) {
      invalidKeys.push({ user: k.user, label: k.label, reason });
      continue;
    }
    const [type, body, ...comment] = k.text.trim().split(/\s+/);
    const id = `${type} ${body}`;
    if (byBody.has(id)) continue; // same key twice (two labels, or two people sharing one): keep the first
    // Splitting on whitespace and rejoining keeps a comment on one line: it cannot inject an
    // authorized_keys option line. A key without comment gets its owner's name, for whoever reads the file.
    const text = comment.length > 0 ? comment.join(" ") : k.user === "inline" ? "" : k.user;
    byBody.set(id, { line: text ? `${id} ${text}` : id, owner: k.user, blob: Buffer.from(body, "base64") });
  }
  const entries = [...byBody.values()].sort((a, b) => (a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
  const withKeys = new Set(entries.map((e) => e.owner));
  const sortedMembers = [...new Set(members)].sort();
  return {
    keys: entries.map((e) => e.line),
    fingerprints: entries.map((e) => sshFingerprint(e.blob)),
    owners: entries.map((e) => e.owner),
    members: sortedMembers,
    membersWithoutKeys: sortedMembers.filter((m) => !withKeys.has(m)),
    invalidKeys,
  };
}
