/**
 * The two remote key sources: an ItsYou.online-compatible API and `<baseUrl>/<user>.keys`.
 * Split out of client.ts (same behaviour); client.ts's header describes what each returns.
 *
 * Plain module: no Pulumi imports (dynamic providers inline it).
 */
import { OperationError } from "../shared/errors";
import { type FetchKeyGroupOptions, type KeySourceSpec, type MissingGrant, type RawKey } from "./client";
import { type KeySourceHttp, accessError, joinUrl, mapLimited, showUrl } from "./http";

/** The generic scope named when the server does not list the missing ones. */
const ANY_PUBLICKEY_SCOPE = "user:publickey:<label>";

export async function fetchItsYouOnline(
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

export async function fetchKeysUrl(
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
