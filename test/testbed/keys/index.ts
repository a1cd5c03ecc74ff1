/**
 * HTTP stand-ins for the SSH key sources, on loopback ephemeral ports, mutable while a test runs:
 * - `startItsYouOnlineStandIn`: the ItsYou.online API subset the key group uses (client-credentials
 *   token, organization members, a user's public keys), with ItsYou.online's answer shapes and
 *   errors (401 bad credentials or token, 403 missing scope, 404 unknown organization or user) and
 *   its access rules (itsyouonline/identityserver `specifications/api/itsyouonline.raml`; written
 *   down in docs/protocols/itsyouonline.md):
 *   - the token of an organization's API key (client credentials) acts for that organization;
 *   - `GET /api/users/{u}/publickeys` needs `user:admin`, which only the user's own tokens carry:
 *     403 for an organization's token;
 *   - `GET /api/users/{u}/info` answers a `userview` limited to what the user authorized the
 *     organization to see: `publicKeys` holds only the keys shared through `user:publickey:<label>`
 *     grants (labelled with the requested label), and is absent when none is shared; a user who
 *     authorized nothing for the organization answers 403;
 *   - `GET /api/organizations/{id}/users` lists, per member, the organization's required scopes the
 *     member has not shared yet (`missingscopes`);
 * - `startKeysEndpointStandIn`: GitHub/GitLab-style `/<user>.keys` (text, one key per line, 404 for
 *   an unknown user).
 */
import * as crypto from "crypto";
import * as http from "http";
import type { AddressInfo } from "net";

export interface PublicKeyEntry {
  label: string;
  publickey: string;
}

/** One shared key: the label the organization asked for -> the label of the user's real key. */
export interface PublicKeyGrant {
  requestedlabel: string;
  reallabel: string;
}

export interface ItsYouOnlineStandInOptions {
  clientId: string;
  clientSecret: string;
  /**
   * User name -> the `user:publickey:<label>` grants the user gave the organization that owns the
   * API key (`clientId`; one organization per stand-in); `null` = the user authorized nothing for it. A user missing here shares every key under its own label (so
   * tests that do not care about grants see every key).
   */
  grants?: Record<string, PublicKeyGrant[] | null>;
  /** Organization -> the scopes members must share with it (e.g. `user:publickey:ssh`). Default none. */
  requiredScopes?: Record<string, string[]>;
  /** Organization globalid -> member user names. */
  organizations: Record<string, string[]>;
  /** User name -> their public keys. A member missing here answers 404 (no such user). */
  users: Record<string, PublicKeyEntry[]>;
  /** Emulate a server without `GET /api/organizations/{id}/users` (404), only the organization object. */
  withoutUsersListing?: boolean;
}

export interface RecordedHttpRequest {
  method: string;
  /** Path without the query (the token call's query holds the client secret). */
  path: string;
  status: number;
}

export interface ItsYouOnlineStandIn {
  url: string;
  requests: RecordedHttpRequest[];
  /** Replaces an organization's members. */
  setUsers(organization: string, members: string[]): void;
  /** Replaces a user's keys (creating the user); `undefined` deletes the user. */
  setKeys(user: string, keys: PublicKeyEntry[] | undefined): void;
  /** Replaces a user's grants to the client's organization (`null`: none; `undefined`: share all). */
  setGrants(user: string, grants: PublicKeyGrant[] | null | undefined): void;
  /** Answers the next `n` requests with this 5xx status. */
  failNext(n: number, status?: number): void;
  stop(): Promise<void>;
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startItsYouOnlineStandIn(
  opts: ItsYouOnlineStandInOptions,
): Promise<ItsYouOnlineStandIn> {
  const orgs = new Map(Object.entries(opts.organizations).map(([k, v]) => [k, [...v]]));
  const users = new Map(Object.entries(opts.users).map(([k, v]) => [k, [...v]]));
  const grants = new Map(Object.entries(opts.grants ?? {}));
  const tokens = new Set<string>();

  /** The grants of `user`, defaulting to every key shared under its own label. */
  function grantsOf(user: string): PublicKeyGrant[] | null {
    const g = grants.get(user);
    if (g !== undefined) return g;
    return (users.get(user) ?? []).map((k) => ({ requestedlabel: k.label, reallabel: k.label }));
  }

  /** Required scopes of `org` that `user` has not shared (only `user:publickey[:label]` is modelled). */
  function missingScopes(org: string, user: string): string[] {
    const g = grantsOf(user) ?? [];
    return (opts.requiredScopes?.[org] ?? []).filter((scope) => {
      const m = /^user:publickey(?::(.+))?$/.exec(scope);
      if (!m) return false;
      return m[1] === undefined ? g.length === 0 : !g.some((x) => x.requestedlabel === m[1]);
    });
  }
  const requests: RecordedHttpRequest[] = [];
  let failures: { n: number; status: number } = { n: 0, status: 500 };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://stand-in");
    const record: RecordedHttpRequest = { method: req.method ?? "", path: u.pathname, status: 0 };
    requests.push(record);
    const send = (status: number, body: unknown): void => {
      record.status = status;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (failures.n > 0) {
      failures.n--;
      return send(failures.status, { error: "internal_error" });
    }
    if (u.pathname === "/v1/oauth/access_token") {
      if (req.method !== "POST") return send(405, { error: "method not allowed" });
      const p = u.searchParams;
      if (p.get("grant_type") !== "client_credentials") return send(400, { error: "unsupported_grant_type" });
      if (p.get("client_id") !== opts.clientId || p.get("client_secret") !== opts.clientSecret) {
        return send(401, { error: "invalid_client" });
      }
      const token = crypto.randomBytes(16).toString("hex");
      tokens.add(token);
      return send(200, { access_token: token, token_type: "bearer", expires_in: 86400, scope: "", info: {} });
    }
    const auth = /^token (\S+)$/.exec(req.headers.authorization ?? "");
    if (!auth || !tokens.has(auth[1])) return send(401, { error: "unauthorized" });
    if (req.method !== "GET") return send(405, { error: "method not allowed" });

    let m = /^\/api\/organizations\/([^/]+)\/users$/.exec(u.pathname);
    if (m) {
      const members = orgs.get(decodeURIComponent(m[1]));
      if (opts.withoutUsersListing || !members) return send(404, { error: "organization not found" });
      return send(200, {
        haseditpermissions: false,
        users: members.map((username) => ({
          username,
          role: "member",
          missingscopes: missingScopes(decodeURIComponent(m![1]), username),
        })),
      });
    }
    m = /^\/api\/organizations\/([^/]+)$/.exec(u.pathname);
    if (m) {
      const globalid = decodeURIComponent(m[1]);
      const members = orgs.get(globalid);
      if (!members) return send(404, { error: "organization not found" });
      // The organization object splits people into owners and members; the first member is the owner here.
      return send(200, { globalid, owners: members.slice(0, 1), members: members.slice(1), orgowners: [] });
    }
    m = /^\/api\/users\/([^/]+)\/publickeys$/.exec(u.pathname);
    if (m) {
      // securedBy user:admin: an organization's client-credentials token never has it.
      return send(403, { error: "Forbidden" });
    }
    m = /^\/api\/users\/([^/]+)\/info$/.exec(u.pathname);
    if (m) {
      const username = decodeURIComponent(m[1]);
      const keys = users.get(username);
      if (!keys) return send(404, { error: "user not found" });
      const g = grantsOf(username);
      if (g === null) return send(403, { error: "Forbidden" });
      const view: Record<string, unknown> = {
        username,
        firstname: "",
        lastname: "",
        emailaddresses: [],
        validatedemailaddresses: [],
        phonenumbers: [],
        validatedphonenumbers: [],
        addresses: [],
        bankaccounts: [],
        digitalwallet: [],
        organizations: [],
        avatar: [],
        ownerof: { emailaddresses: [] },
      };
      const shared = g
        .map((x) => ({ label: x.requestedlabel, key: keys.find((k) => k.label === x.reallabel) }))
        .filter((x) => x.key !== undefined)
        .map((x) => ({ label: x.label, publickey: x.key!.publickey }));
      if (shared.length > 0) view.publicKeys = shared;
      return send(200, view);
    }
    return send(404, { error: "not found" });
  });
  const url = await listen(server);
  return {
    url,
    requests,
    setUsers: (organization, members) => void orgs.set(organization, [...members]),
    setKeys: (user, keys) => void (keys ? users.set(user, [...keys]) : users.delete(user)),
    setGrants: (user, g) => void (g === undefined ? grants.delete(user) : grants.set(user, g && [...g])),
    failNext: (n, status = 500) => (failures = { n, status }),
    stop: () => close(server),
  };
}

export interface KeysEndpointStandIn {
  url: string;
  requests: RecordedHttpRequest[];
  /** Replaces every user's key lines; users not listed answer 404. */
  setUsers(users: Record<string, string[]>): void;
  stop(): Promise<void>;
}

/** `/<user>.keys` like GitHub: `text/plain`, one key per line, trailing newline. */
export async function startKeysEndpointStandIn(opts: {
  users: Record<string, string[]>;
}): Promise<KeysEndpointStandIn> {
  let users = new Map(Object.entries(opts.users));
  const requests: RecordedHttpRequest[] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://stand-in");
    const record: RecordedHttpRequest = { method: req.method ?? "", path: u.pathname, status: 0 };
    requests.push(record);
    const m = /^\/([^/]+)\.keys$/.exec(u.pathname);
    const lines = m ? users.get(decodeURIComponent(m[1])) : undefined;
    record.status = lines ? 200 : 404;
    res.writeHead(record.status, { "content-type": "text/plain; charset=utf-8" });
    res.end(lines ? lines.map((l) => l + "\n").join("") : "Not Found");
  });
  const url = await listen(server);
  return {
    url,
    requests,
    setUsers: (next) => void (users = new Map(Object.entries(next))),
    stop: () => close(server),
  };
}

/** A valid OpenSSH ed25519 public key line from a fresh key pair, for tests. */
export function makeTestKey(comment: string): string {
  const { publicKey } = crypto.generateKeyPairSync("ed25519");
  const der = publicKey.export({ type: "spki", format: "der" });
  const raw = der.subarray(der.length - 32);
  const type = Buffer.from("ssh-ed25519");
  const blob = Buffer.concat([u32(type.length), type, u32(raw.length), raw]);
  return `ssh-ed25519 ${blob.toString("base64")} ${comment}`;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
