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
 * Plain module: no Pulumi imports (dynamic providers inline it). HTTP is Node's global fetch.
 */
import { OperationError, redact } from "../shared/errors";
import { retry } from "../shared/retry";
import { sshFingerprint } from "../shared/ssh";
import { trace } from "../shared/trace";
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

/** The generic scope named when the server does not list the missing ones. */
const ANY_PUBLICKEY_SCOPE = "user:publickey:<label>";

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
interface RawKey {
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

/** Answer of one GET/POST, or the status when the caller wants to handle it. */
interface HttpAnswer {
  status: number;
  text: string;
}

/** Bounded, traced HTTP with errors that name the URL (never its query, which may hold a secret). */
class KeySourceHttp {
  constructor(
    private readonly label: string,
    private readonly opts: FetchKeyGroupOptions,
  ) {}

  private get secrets(): string[] {
    return [this.opts.clientSecret ?? ""];
  }

  async request(
    method: "GET" | "POST",
    url: string,
    step: string,
    headers: Record<string, string> = {},
    extraSecrets: string[] = [],
  ): Promise<HttpAnswer> {
    const shown = showUrl(url);
    const secrets = [...this.secrets, ...extraSecrets];
    let host = "invalid-url";
    try {
      host = new URL(url).host;
    } catch {
      throw new OperationError(this.label, step, `invalid URL ${redact(shown, secrets)}`, "source.baseUrl");
    }
    try {
      return await retry(
        async () => {
          trace({ system: "keys", op: step, write: false, target: host });
          const res = await fetch(url, {
            method,
            headers: { accept: "application/json, text/plain", ...headers },
            signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000),
            redirect: "follow",
          });
          const text = await res.text();
          if (res.status >= 500) throw new ServerError(res.status, text.slice(0, 200));
          return { status: res.status, text };
        },
        {
          attempts: this.opts.attempts ?? 3,
          minDelayMs: this.opts.retryDelayMs ?? 500,
          maxDelayMs: 5_000,
        },
      );
    } catch (err) {
      const detail =
        err instanceof ServerError
          ? `${shown} answered HTTP ${err.status}${err.body ? `: ${err.body.trim()}` : ""}`
          : `cannot reach ${shown}: ${describeFetchError(err)}`;
      throw new OperationError(
        this.label,
        step,
        redact(detail, secrets),
        "that the key source URL (source.baseUrl) is right and the service is up; the next pulumi up tries again",
      );
    }
  }

  /** GET that must answer 200 with JSON. */
  async json<T>(
    url: string,
    step: string,
    headers: Record<string, string>,
    secrets: string[],
  ): Promise<HttpAnswer & { body?: T }> {
    const ans = await this.request("GET", url, step, headers, secrets);
    if (ans.status !== 200) return ans;
    try {
      return { ...ans, body: JSON.parse(ans.text) as T };
    } catch {
      throw new OperationError(
        this.label,
        step,
        `${showUrl(url)} did not answer JSON`,
        "that source.baseUrl is the API root of an ItsYou.online-compatible service",
      );
    }
  }
}

class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}`);
  }
}

/** A URL without its query string (which, for the token call, holds the client secret). */
function showUrl(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = cause && typeof cause === "object" ? (cause as { code?: string }).code : undefined;
  if (err.name === "TimeoutError") return "timed out";
  return code ? `${err.message} (${code})` : err.message;
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}

async function fetchItsYouOnline(
  source: Extract<KeySourceSpec, { kind: "itsyouonline" }>,
  http: KeySourceHttp,
  opts: FetchKeyGroupOptions,
): Promise<{ members: string[]; raw: RawKey[]; missingGrants: MissingGrant[] }> {
  const label = opts.label ?? "SshKeyGroup";
  const secret = opts.clientSecret;
  if (!secret) {
    throw new OperationError(
      label,
      "get ItsYou.online token",
      "no client secret given",
      "set g8os:itsyouonlineClientSecret (pulumi config set --secret)",
    );
  }
  const q = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: source.clientId,
    client_secret: secret,
  });
  const tokenUrl = joinUrl(source.baseUrl, `/v1/oauth/access_token?${q}`);
  const tok = await http.request("POST", tokenUrl, "get ItsYou.online token");
  if (tok.status !== 200) {
    throw new OperationError(
      label,
      "get ItsYou.online token",
      `${showUrl(tokenUrl)} refused client id "${source.clientId}" (HTTP ${tok.status})`,
      "g8os:itsyouonlineClientId and g8os:itsyouonlineClientSecret (an API key of the organization)",
    );
  }
  let accessToken: string | undefined;
  try {
    accessToken = (JSON.parse(tok.text) as { access_token?: string }).access_token;
  } catch {
    accessToken = undefined;
  }
  if (!accessToken) {
    throw new OperationError(
      label,
      "get ItsYou.online token",
      `${showUrl(tokenUrl)} answered without an access_token`,
      "that source.baseUrl is an ItsYou.online-compatible API",
    );
  }
  const auth = { authorization: `token ${accessToken}` };
  const tokenSecrets = [accessToken];
  const org = encodeURIComponent(source.organization);

  // The /users listing is the documented one; older servers only have the organization object.
  let members: string[];
  // What the /users listing says each member has not shared yet (`missingscopes`), when it says.
  const missingListed = new Map<string, string[]>();
  const usersUrl = joinUrl(source.baseUrl, `/api/organizations/${org}/users`);
  const listed = await http.json<{ users?: Array<{ username?: string; missingscopes?: unknown }> }>(
    usersUrl,
    "list organization members",
    auth,
    tokenSecrets,
  );
  if (listed.status === 200 && Array.isArray(listed.body?.users)) {
    members = [];
    for (const u of listed.body.users) {
      if (typeof u?.username !== "string" || u.username === "") continue;
      members.push(u.username);
      const scopes = (Array.isArray(u.missingscopes) ? u.missingscopes : []).filter(
        (x): x is string => typeof x === "string" && /^user:publickey(:|$)/.test(x),
      );
      if (scopes.length) missingListed.set(u.username, scopes);
    }
  } else if (listed.status === 404) {
    const orgUrl = joinUrl(source.baseUrl, `/api/organizations/${org}`);
    const o = await http.json<{ members?: string[]; owners?: string[] }>(
      orgUrl,
      "read organization",
      auth,
      tokenSecrets,
    );
    if (o.status === 404) {
      throw new OperationError(
        label,
        "list organization members",
        `organization "${source.organization}" not found at ${source.baseUrl}`,
        "g8os:keyOrganization (the organization's globalid, e.g. gig_build)",
      );
    }
    if (o.status !== 200 || !o.body) throw accessError(label, orgUrl, o.status);
    members = [...(o.body.members ?? []), ...(o.body.owners ?? [])].filter(
      (u) => typeof u === "string" && u !== "",
    );
  } else {
    throw accessError(label, usersUrl, listed.status);
  }
  members = [...new Set(members)];

  const raw: RawKey[] = [];
  const missing = new Map<string, string[]>(missingListed);
  const perUser = await mapLimited(members, opts.concurrency ?? 4, async (user) => {
    // A third party reads keys only as the user shared them: `info` is limited to the user's grants.
    const url = joinUrl(source.baseUrl, `/api/users/${encodeURIComponent(user)}/info`);
    const ans = await http.json<{ publicKeys?: Array<{ label?: string; publickey?: string }> }>(
      url,
      `read keys of ${user}`,
      auth,
      tokenSecrets,
    );
    if (ans.status === 404) return [] as RawKey[]; // a member without an account any more: reported as keyless
    // 401/403: the user authorized nothing for this organization. 200 without publicKeys: the
    // user authorized it, but shared no key.
    const granted = ans.status === 200 && Array.isArray(ans.body?.publicKeys);
    if (ans.status === 401 || ans.status === 403 || (ans.status === 200 && !granted)) {
      if (!missing.has(user)) missing.set(user, [ANY_PUBLICKEY_SCOPE]);
      return [] as RawKey[];
    }
    if (ans.status !== 200 || !ans.body || typeof ans.body !== "object")
      throw accessError(label, url, ans.status);
    return ans.body.publicKeys!.map((k, i) => ({
      user,
      label: k?.label || `#${i}`,
      text: String(k?.publickey ?? ""),
    }));
  });
  for (const keys of perUser) raw.push(...keys);
  const missingGrants = [...missing.entries()]
    .filter(([user]) => members.includes(user))
    .map(([user, scopes]) => ({ user, scopes: [...new Set(scopes)].sort() }))
    .sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  return { members, raw, missingGrants };
}

function accessError(label: string, url: string, status: number): OperationError {
  return new OperationError(
    label,
    "read key source",
    `${url} answered HTTP ${status}`,
    status === 401 || status === 403
      ? "that the organization's API key (g8os:itsyouonlineClientId) may list the organization's members"
      : "that source.baseUrl is an ItsYou.online-compatible API",
  );
}

async function fetchKeysUrl(
  source: Extract<KeySourceSpec, { kind: "keys-url" }>,
  http: KeySourceHttp,
  opts: FetchKeyGroupOptions,
): Promise<{ members: string[]; raw: RawKey[] }> {
  const label = opts.label ?? "SshKeyGroup";
  const members = [...new Set(source.users)];
  const perUser = await mapLimited(members, opts.concurrency ?? 4, async (user) => {
    const url = joinUrl(source.baseUrl, `/${encodeURIComponent(user)}.keys`);
    const ans = await http.request("GET", url, `read keys of ${user}`);
    if (ans.status === 404) {
      throw new OperationError(
        label,
        `read keys of ${user}`,
        `${url} answered 404: no such user`,
        `g8os:keyUsers (user names exactly as on ${source.baseUrl})`,
      );
    }
    if (ans.status !== 200) {
      throw new OperationError(
        label,
        `read keys of ${user}`,
        `${url} answered HTTP ${ans.status}`,
        "g8os:keySourceUrl",
      );
    }
    return ans.text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((text, i) => ({ user, label: `line ${i + 1}`, text }));
  });
  return { members, raw: perUser.flat() };
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
