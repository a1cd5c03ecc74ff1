/**
 * Remote pinning: keeps a CID pinned somewhere other than the node it was added to.
 *
 * - IPFS Pinning Service API (`/pins`, Bearer token): POST a Pin -> 202 + PinStatus
 *   (`queued|pinning|pinned|failed`); we poll `GET /pins/{requestid}` until pinned, with a deadline.
 * - IPFS Cluster REST API: `POST /pins/{cid}?replication-min=&replication-max=&name=`, then poll
 *   `GET /pins/{cid}` until at least replication-min peers report "pinned".
 *
 * The token is a secret: it is never put in a message (redacted), only in the Authorization header.
 *
 * Plain module: no Pulumi imports (inlined into the IpfsPin provider).
 */
import { errorMessage, OperationError, redact } from "../shared/errors";
import { pollUntil } from "../shared/retry";
import { trace } from "../shared/trace";

export type RemotePinKind = "pinning-service" | "cluster";

/** Where and how to pin remotely. The token travels separately (secret input). */
export interface RemotePinSpec {
  kind: RemotePinKind;
  /** Pinning service API base (e.g. https://api.pinata.cloud/psa) or Cluster REST URL (http://host:9094). */
  endpoint: string;
  /** Cluster only: minimum peers that must pin (default 1) and maximum (default = min). */
  replicationMin?: number;
  replicationMax?: number;
  /** Addresses of the node that holds the content (multiaddrs), given to the service as `origins`. */
  origins?: string[];
  /** How long to wait for "pinned". Default 120 s. */
  timeoutMs?: number;
}

/** What a remote pin looks like once done; stored in state to find and remove it later. */
export interface RemotePinState {
  kind: RemotePinKind;
  /** Pinning service request id; the CID for a cluster. */
  requestId: string;
  status: string;
  /** Cluster: peers that report the CID pinned. */
  pinnedPeers: string[];
}

interface HttpAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** One JSON call; errors name the endpoint and the operation, never the token. */
async function call(
  label: string,
  method: string,
  url: string,
  token: string | undefined,
  step: string,
  json?: unknown,
): Promise<HttpAnswer> {
  trace({ system: "ipfs-remote-pin", op: step.split(" ")[0], write: method !== "GET", target: url });
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new OperationError(
      label,
      `${step} at ${redact(url, [token])}`,
      redact(errorMessage(err), [token]),
      "that the remote pinning endpoint is reachable from here",
    );
  }
  const text = await res.text();
  return { status: res.status, body: safeJson(text), text };
}

function httpFailure(
  label: string,
  step: string,
  url: string,
  a: HttpAnswer,
  token?: string,
): OperationError {
  const b = a.body as { error?: { reason?: string; details?: string }; message?: string } | undefined;
  const reason = b?.error
    ? `${b.error.reason ?? ""}${b.error.details ? `: ${b.error.details}` : ""}`
    : (b?.message ?? a.text.slice(0, 300));
  const hint =
    a.status === 401 || a.status === 403
      ? "the access token (missing, expired or without rights)"
      : a.status === 404
        ? "the endpoint URL"
        : undefined;
  return new OperationError(
    label,
    `${step} at ${url}`,
    redact(`HTTP ${a.status}: ${reason || "(no body)"}`, [token]),
    hint,
  );
}

/** Pins `cid` remotely and waits until the service says it is pinned; fails clearly otherwise. */
export async function remotePin(
  label: string,
  spec: RemotePinSpec,
  token: string | undefined,
  cid: string,
  name: string,
): Promise<RemotePinState> {
  const base = spec.endpoint.replace(/\/+$/, "");
  const timeoutMs = spec.timeoutMs ?? 120_000;
  if (spec.kind === "pinning-service") {
    const answer = await call(label, "POST", `${base}/pins`, token, `remote pin ${cid}`, {
      cid,
      name,
      origins: spec.origins ?? [],
    });
    if (answer.status !== 202 && answer.status !== 200) {
      throw httpFailure(label, `remote pin ${cid}`, `${base}/pins`, answer, token);
    }
    const first = answer.body as { requestid?: string; status?: string };
    if (!first?.requestid) {
      throw new OperationError(
        label,
        `remote pin ${cid} at ${base}/pins`,
        `no requestid in the answer: ${answer.text.slice(0, 200)}`,
      );
    }
    const requestId = first.requestid;
    const final = await pollUntil<{ status: string }>(
      async () => {
        const a = await call(label, "GET", `${base}/pins/${requestId}`, token, `remote pin status ${cid}`);
        if (a.status !== 200)
          throw httpFailure(label, `remote pin status ${cid}`, `${base}/pins/${requestId}`, a, token);
        const st = (a.body as { status?: string })?.status ?? "unknown";
        if (st === "pinned") return { status: st };
        if (st === "failed") {
          const info = JSON.stringify((a.body as { info?: unknown })?.info ?? {});
          throw new OperationError(
            label,
            `remote pin ${cid} at ${base}`,
            `the pinning service reports status "failed" (request ${requestId}, info ${info})`,
            "that the content is reachable by the service (origins, a public node holding it), then run up again",
          );
        }
        return { pending: `status ${st}` };
      },
      { timeoutMs, intervalMs: 500, what: `remote pin of ${cid} at ${base} to reach "pinned"` },
    );
    return { kind: spec.kind, requestId, status: final.status, pinnedPeers: [] };
  }
  // IPFS Cluster.
  const min = spec.replicationMin ?? 1;
  const max = spec.replicationMax ?? min;
  const q = new URLSearchParams({ "replication-min": String(min), "replication-max": String(max), name });
  const postUrl = `${base}/pins/${cid}?${q}`;
  const posted = await call(label, "POST", postUrl, token, `cluster pin ${cid}`);
  if (posted.status < 200 || posted.status >= 300) {
    throw httpFailure(label, `cluster pin ${cid}`, `${base}/pins/${cid}`, posted, token);
  }
  const peers = await pollUntil<string[]>(
    async () => {
      const a = await call(label, "GET", `${base}/pins/${cid}`, token, `cluster pin status ${cid}`);
      if (a.status !== 200)
        throw httpFailure(label, `cluster pin status ${cid}`, `${base}/pins/${cid}`, a, token);
      const peerMap =
        (a.body as { peer_map?: Record<string, { status?: string; error?: string }> })?.peer_map ?? {};
      const entries = Object.entries(peerMap);
      const errors = entries.filter(([, p]) => p.status === "pin_error");
      // A peer error means fewer than the wanted peers can hold it: fail now, not at the deadline.
      if (errors.length > 0 && entries.length - errors.length < min) {
        throw new OperationError(
          label,
          `cluster pin ${cid} at ${base}`,
          `peers report pin_error: ${errors.map(([id, p]) => `${id}: ${p.error ?? "no detail"}`).join("; ")}`,
          "the cluster peers' logs and that the content is reachable by them",
        );
      }
      const pinned = entries.filter(([, p]) => p.status === "pinned").map(([id]) => id);
      if (pinned.length >= min) return pinned.sort();
      return {
        pending: `${pinned.length} of at least ${min} peers pinned (${entries.map(([id, p]) => `${id}:${p.status}`).join(", ")})`,
      };
    },
    { timeoutMs, intervalMs: 500, what: `cluster pin of ${cid} at ${base} on ${min} peers` },
  );
  return { kind: "cluster", requestId: cid, status: "pinned", pinnedPeers: peers };
}

/** True when the remote pin still exists and is pinned (for refresh). */
export async function remotePinAlive(
  label: string,
  spec: RemotePinSpec,
  token: string | undefined,
  state: RemotePinState,
): Promise<boolean> {
  const base = spec.endpoint.replace(/\/+$/, "");
  const url = `${base}/pins/${state.requestId}`;
  const a = await call(label, "GET", url, token, `remote pin status ${state.requestId}`);
  if (a.status === 404) return false;
  if (a.status !== 200) throw httpFailure(label, `remote pin status ${state.requestId}`, url, a, token);
  if (spec.kind === "pinning-service") return (a.body as { status?: string })?.status === "pinned";
  const peerMap = (a.body as { peer_map?: Record<string, { status?: string }> })?.peer_map ?? {};
  const pinned = Object.values(peerMap).filter((p) => p.status === "pinned").length;
  return pinned >= (spec.replicationMin ?? 1);
}

/** Removes the remote pin; one that is already gone is fine. */
export async function remoteUnpin(
  label: string,
  spec: RemotePinSpec,
  token: string | undefined,
  state: RemotePinState,
): Promise<void> {
  const base = spec.endpoint.replace(/\/+$/, "");
  const url = `${base}/pins/${state.requestId}`;
  const a = await call(label, "DELETE", url, token, `remote unpin ${state.requestId}`);
  if (a.status === 404 || (a.status >= 200 && a.status < 300)) return;
  throw httpFailure(label, `remote unpin ${state.requestId}`, url, a, token);
}

function safeJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
