/**
 * Remote pinning stand-ins on loopback ephemeral ports, plain http, shaped after the specs:
 *
 * - `startPinningService`: the IPFS Pinning Service API (`/pins`, Bearer token). POST answers 202 with a
 *   PinStatus `queued`; each later GET moves it on (`queued` -> `pinning` -> `pinned`), pinning the
 *   CID into a backing IPFS node when one is given (content it cannot find within 10 s = `failed`).
 *   `failCids` end `failed` on purpose. Errors as the spec: `{error: {reason, details}}`, 401/400/404.
 * - `startClusterFake`: the IPFS Cluster REST API (`POST/GET/DELETE /pins/{cid}`) with N peers:
 *   allocates `replication-max` peers (at least `replication-min`, else 400 like Cluster), each peer
 *   `pinning` then `pinned` on the next GET; `errorPeers` report `pin_error`. `{code, message}` errors.
 *
 * Both record every request for assertions, and accept only `Authorization: Bearer <token>`.
 */
import * as http from "http";
import type { AddressInfo } from "net";
import { randomUUID } from "crypto";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorized: boolean;
}

export interface PinningStandIn {
  /** Base URL to give the client, e.g. http://127.0.0.1:40123 */
  endpoint: string;
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

export interface PinningServiceStandIn extends PinningStandIn {
  /** Current pins: requestid -> status and cid. */
  pins(): { requestid: string; cid: string; name: string; status: string }[];
}

export interface ClusterStandIn extends PinningStandIn {
  /** cid -> peer -> status. */
  peerMap(cid: string): Record<string, string> | undefined;
  peers: string[];
}

const CID_RE = /^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{50,}|z[1-9A-HJ-NP-Za-km-z]{40,})$/;

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size <= 1 << 20) parts.push(d);
    });
    req.on("end", () => {
      const text = Buffer.concat(parts).toString();
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch {
        resolve(text);
      }
    });
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

async function listen(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
): Promise<{ server: http.Server; endpoint: string }> {
  const server = http.createServer((req, res) => {
    handler(req, res).catch((err) => send(res, 500, { message: String(err) }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}` };
}

function stopper(server: http.Server): () => Promise<void> {
  return () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
}

async function record(
  req: http.IncomingMessage,
  token: string,
  requests: RecordedRequest[],
): Promise<RecordedRequest> {
  const url = new URL(req.url ?? "/", "http://x");
  const r: RecordedRequest = {
    method: req.method ?? "GET",
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    body: await readBody(req),
    authorized: req.headers.authorization === `Bearer ${token}`,
  };
  requests.push(r);
  return r;
}

/** Pins into a backing IPFS node through its RPC API; true when done within 10 s. */
async function pinInto(apiUrl: string, cid: string): Promise<boolean> {
  try {
    const res = await fetch(`${apiUrl}/api/v0/pin/add?arg=${cid}&recursive=true`, {
      method: "POST",
      signal: AbortSignal.timeout(10_000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

export async function startPinningService(
  opts: { token: string; backingApiUrl?: string; failCids?: string[] } = { token: "" },
): Promise<PinningServiceStandIn> {
  const requests: RecordedRequest[] = [];
  const pins = new Map<
    string,
    { requestid: string; cid: string; name: string; status: string; created: string; meta: unknown }
  >();
  const statusOf = (p: {
    requestid: string;
    cid: string;
    name: string;
    status: string;
    created: string;
  }) => ({
    requestid: p.requestid,
    status: p.status,
    created: p.created,
    pin: { cid: p.cid, name: p.name },
    delegates: ["/ip4/127.0.0.1/tcp/4001/p2p/QmStandInDelegate"],
    info: p.status === "failed" ? { status_details: "content not found by the service" } : {},
  });
  const { server, endpoint } = await listen(async (req, res) => {
    const r = await record(req, opts.token, requests);
    const err = (status: number, reason: string, details: string) =>
      send(res, status, { error: { reason, details } });
    if (!r.authorized) return err(401, "UNAUTHORIZED", "Access token is missing or invalid");
    const m = /^\/pins(?:\/([^/]+))?$/.exec(r.path);
    if (!m) return err(404, "NOT_FOUND", `no route ${r.path}`);
    const id = m[1];
    if (!id && r.method === "GET") {
      const list = [...pins.values()].filter(
        (p) =>
          (!r.query.cid || r.query.cid.split(",").includes(p.cid)) &&
          (!r.query.status || r.query.status.split(",").includes(p.status)),
      );
      return send(res, 200, { count: list.length, results: list.map(statusOf) });
    }
    if (!id && r.method === "POST") {
      const b = r.body as { cid?: string; name?: string; meta?: unknown } | undefined;
      if (!b?.cid || !CID_RE.test(b.cid)) return err(400, "BAD_REQUEST", "cid is missing or not a valid CID");
      const p = {
        requestid: randomUUID(),
        cid: b.cid,
        name: b.name ?? "",
        status: "queued",
        created: new Date().toISOString(),
        meta: b.meta,
      };
      pins.set(p.requestid, p);
      return send(res, 202, statusOf(p));
    }
    const p = id ? pins.get(id) : undefined;
    if (!p) return err(404, "NOT_FOUND", `no pin request ${id}`);
    if (r.method === "GET") {
      if (p.status === "queued") p.status = "pinning";
      else if (p.status === "pinning") {
        const fail = (opts.failCids ?? []).includes(p.cid);
        const ok = !fail && (!opts.backingApiUrl || (await pinInto(opts.backingApiUrl, p.cid)));
        p.status = ok ? "pinned" : "failed";
      }
      return send(res, 200, statusOf(p));
    }
    if (r.method === "DELETE") {
      pins.delete(p.requestid);
      res.writeHead(202);
      return void res.end();
    }
    return err(405, "METHOD_NOT_ALLOWED", `${r.method} not supported`);
  });
  return {
    endpoint,
    requests,
    pins: () =>
      [...pins.values()].map(({ requestid, cid, name, status }) => ({ requestid, cid, name, status })),
    stop: stopper(server),
  };
}

export async function startClusterFake(
  opts: { token: string; peers?: number; errorPeers?: string[] } = { token: "" },
): Promise<ClusterStandIn> {
  const requests: RecordedRequest[] = [];
  const peers = Array.from({ length: opts.peers ?? 3 }, (_, i) => `12D3KooWStandInPeer${i + 1}`);
  const state = new Map<
    string,
    { name: string; min: number; max: number; peerMap: Record<string, string> }
  >();
  const { server, endpoint } = await listen(async (req, res) => {
    const r = await record(req, opts.token, requests);
    const err = (code: number, message: string) => send(res, code, { code, message });
    if (!r.authorized) return err(401, "Unauthorized");
    const m = /^\/pins\/([^/]+)$/.exec(r.path);
    if (!m) return err(404, `no route ${r.path}`);
    const cid = m[1];
    if (!CID_RE.test(cid)) return err(400, `error decoding Cid: invalid cid ${cid}`);
    const globalPinInfo = (c: string) => {
      const s = state.get(c)!;
      return {
        cid: c,
        name: s.name,
        allocations: Object.keys(s.peerMap),
        peer_map: Object.fromEntries(
          Object.entries(s.peerMap).map(([peer, status]) => [
            peer,
            {
              peername: peer.slice(-5),
              status,
              timestamp: new Date().toISOString(),
              error: status === "pin_error" ? "context deadline exceeded" : "",
            },
          ]),
        ),
      };
    };
    if (r.method === "POST") {
      const min = Number(r.query["replication-min"] ?? "-1");
      const max = Number(r.query["replication-max"] ?? "-1");
      const wantMin = min === -1 ? peers.length : min;
      const wantMax = max === -1 ? peers.length : max;
      if (wantMin > peers.length) {
        return err(
          500,
          `not enough peers to allocate CID. Needed at least: ${wantMin}. Wanted at most: ${wantMax}. Available candidates: ${peers.length}`,
        );
      }
      const chosen = peers.slice(0, Math.min(wantMax, peers.length));
      state.set(cid, {
        name: r.query.name ?? "",
        min: wantMin,
        max: wantMax,
        peerMap: Object.fromEntries(chosen.map((p) => [p, "pinning"])),
      });
      return send(res, 200, {
        cid,
        name: r.query.name ?? "",
        allocations: chosen,
        replication_factor_min: wantMin,
        replication_factor_max: wantMax,
      });
    }
    const s = state.get(cid);
    if (!s) return err(404, "cid is not part of the global state");
    if (r.method === "GET") {
      for (const peer of Object.keys(s.peerMap)) {
        if (s.peerMap[peer] === "pinning")
          s.peerMap[peer] = (opts.errorPeers ?? []).includes(peer) ? "pin_error" : "pinned";
      }
      return send(res, 200, globalPinInfo(cid));
    }
    if (r.method === "DELETE") {
      state.delete(cid);
      return send(res, 200, { cid });
    }
    return err(405, `${r.method} not supported`);
  });
  return {
    endpoint,
    requests,
    peers,
    peerMap: (cid) => (state.has(cid) ? { ...state.get(cid)!.peerMap } : undefined),
    stop: stopper(server),
  };
}
