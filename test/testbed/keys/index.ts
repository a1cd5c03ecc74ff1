/**
 * HTTP stand-ins for the SSH key sources, on loopback ephemeral ports, mutable while a test runs:
 * - `startItsYouOnlineStandIn`: the ItsYou.online API subset the key group uses (client-credentials
 *   token, organization members, user public keys), with ItsYou.online's answer shapes and errors
 *   (401 bad credentials or token, 404 unknown organization or user);
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

export interface ItsYouOnlineStandInOptions {
  clientId: string;
  clientSecret: string;
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
  const tokens = new Set<string>();
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
        users: members.map((username) => ({ username, role: "member", missingscopes: [] })),
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
      const keys = users.get(decodeURIComponent(m[1]));
      if (!keys) return send(404, { error: "user not found" });
      return send(200, keys);
    }
    return send(404, { error: "not found" });
  });
  const url = await listen(server);
  return {
    url,
    requests,
    setUsers: (organization, members) => void orgs.set(organization, [...members]),
    setKeys: (user, keys) => void (keys ? users.set(user, [...keys]) : users.delete(user)),
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
