/**
 * The environment's status without running Pulumi: the nodes, the last build run (apps, build
 * ids, test results) and the templates (root CID and commit per branch) from the status stack's
 * state file (state.ts), plus live checks: each node's ZeroTier member (online, last seen) through
 * the project's ZeroTier client, and a core0 ping (redis, with the password) of each core0 node
 * through the project's core0 client. Answers are cached `cacheSeconds`, and callers during a
 * check share it, so many clients of `GET /api/status` cost one round of checks.
 */
import { withCore0 } from "../../providers/core0/client";
import { errorMessage, redact } from "../../providers/shared/errors";
import { ZerotierClient } from "../../providers/zerotier/client";
import type { RunManager } from "../runs/manager";
import type { StatusSettings } from "./settings";
import { readStackState } from "./state";

/** One machine of the environment. */
export interface NodeStatus {
  /** Host name. */
  name: string;
  /** `host` (the physical build host) or the VM's role (`build-node`, `core0`, `cockpit`). */
  kind: string;
  /** ZeroTier IP. */
  address: string;
  /** `online`: seen recently on ZeroTier or answered the core0 ping; `offline`: not; `unknown`: nothing to tell. */
  state: "online" | "offline" | "unknown";
  /** The ZeroTier member's last contact (ISO), or null. */
  lastSeen: string | null;
  /** What the checks said, e.g. `core0 ping ok`. */
  detail: string;
}

/** The last build run, from the stack's `buildRun` output. */
export interface BuildStatus {
  /** The cockpit's last succeeded `up` of the stack, or null (e.g. run from the bootstrap machine). */
  runId: string | null;
  /** When the state was written. */
  at: string | null;
  /** One per tested app. */
  apps: Array<{ name: string; buildId: string; tests: "passed" | "failed"; node: string }>;
  /** The templates repo per branch after the release: head commit and IPFS root CID of the tree. */
  templates: Array<{ branch: string; commit: string; rootCid: string }>;
}

/** `GET /api/status`'s `environment`. */
export interface EnvironmentStatus {
  /** The stack it describes. */
  stack: string;
  /** When the live checks ran (ISO). */
  checkedAt: string;
  /** The machines. */
  nodes: NodeStatus[];
  /** The last build run, or null when the state has none. */
  build: BuildStatus | null;
  /** What could not be checked, one line each (redacted). */
  problems: string[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

export interface EnvironmentSourceOptions {
  /** The state backend (only `file://` is read). */
  backendUrl: string;
  /** `name` of the project's Pulumi.yaml. */
  project: string;
  /** The runs (for the last build run's id). */
  manager: RunManager;
  /** The cockpit's redaction. */
  redact: (text: string) => string;
}

export class EnvironmentSource {
  private cached?: { at: number; value: EnvironmentStatus };
  private inflight?: Promise<EnvironmentStatus>;

  constructor(
    private readonly s: StatusSettings,
    private readonly o: EnvironmentSourceOptions,
  ) {}

  /** The status, at most `cacheSeconds` old. */
  async get(): Promise<EnvironmentStatus> {
    if (this.cached && Date.now() - this.cached.at < this.s.cacheSeconds * 1000) return this.cached.value;
    this.inflight ??= this.check().finally(() => (this.inflight = undefined));
    const value = await this.inflight;
    this.cached = { at: Date.now(), value };
    return value;
  }

  private clean(text: string): string {
    return redact(this.o.redact(text), [this.s.zerotier?.token, this.s.core0?.password]);
  }

  private async check(): Promise<EnvironmentStatus> {
    const problems: string[] = [];
    const stack = this.s.stack;
    let outputs: Obj = {};
    let time: string | null = null;
    try {
      const st = readStackState(this.o.backendUrl, this.o.project, stack);
      if (st) ({ outputs, time } = st);
      else problems.push(`state: no state of stack "${stack}" in ${this.o.backendUrl}`);
    } catch (err) {
      problems.push(`state: ${this.clean(errorMessage(err))}`);
    }
    const nodes: NodeStatus[] = [];
    const host = obj(outputs.buildHost);
    if (str(host.zerotierIp)) nodes.push(node(str(host.name) || "build host", "host", str(host.zerotierIp)));
    for (const n of arr(obj(outputs.vms).nodes).map(obj))
      if (str(n.zerotierIp)) nodes.push(node(str(n.hostname), str(n.role), str(n.zerotierIp)));

    // The ping comes second: a node that answers core0 is online whatever ZeroTier last heard.
    await this.members(nodes, str(outputs.buildNetworkId), problems);
    await this.pings(nodes);

    const run = obj(outputs.buildRun);
    const build: BuildStatus | null =
      outputs.buildRun === undefined
        ? null
        : {
            runId:
              this.o.manager.list({ stack, state: "succeeded", limit: 500 }).find((r) => r.kind === "up")
                ?.id ?? null,
            at: time,
            apps: arr(run.testResults)
              .map(obj)
              .map((t) => ({
                name: str(t.app),
                buildId: str(t.buildId),
                tests: t.passed === true ? ("passed" as const) : ("failed" as const),
                node: str(t.node),
              })),
            templates: arr(run.released)
              .map(obj)
              .map((r) => ({ branch: str(r.branch), commit: str(r.commit), rootCid: str(r.rootCid) })),
          };
    return { stack, checkedAt: new Date().toISOString(), nodes, build, problems };
  }

  /** ZeroTier: each node's member (matched by IP), online when seen within `onlineWithinSeconds`. */
  private async members(nodes: NodeStatus[], outputNetwork: string, problems: string[]): Promise<void> {
    const z = this.s.zerotier;
    if (!z) return;
    const networkId = z.networkId ?? outputNetwork;
    if (!networkId) {
      problems.push(
        "zerotier: no network id (status.zerotier.networkId, or the stack's buildNetworkId output)",
      );
      return;
    }
    try {
      const client = new ZerotierClient({
        backend: z.backend,
        apiUrl: z.apiUrl,
        token: z.token,
        label: "cockpit status",
        attempts: 2,
        requestTimeoutMs: 10_000,
      });
      const ids = await client.listMembers(networkId);
      const members = await Promise.all(ids.map((id) => client.getMember(networkId, id)));
      for (const n of nodes) {
        const m = members.find((x) => x?.ipAssignments.includes(n.address));
        if (!m) {
          n.state = "offline";
          n.detail = join(n.detail, `no ZeroTier member of ${networkId} has ${n.address}`);
          continue;
        }
        if (m.lastSeen > 0) {
          n.lastSeen = new Date(m.lastSeen).toISOString();
          const recent = Date.now() - m.lastSeen <= this.s.onlineWithinSeconds * 1000;
          n.state = recent ? "online" : "offline";
        }
        n.detail = join(
          n.detail,
          `member ${m.memberId}${m.authorized ? "" : " (not authorized)"}${m.lastSeen > 0 ? "" : ", never seen"}`,
        );
      }
    } catch (err) {
      problems.push(`zerotier: ${this.clean(errorMessage(err))}`);
    }
  }

  /** core0: `core.ping` over the node's redis, with the password. */
  private async pings(nodes: NodeStatus[]): Promise<void> {
    const c = this.s.core0;
    if (!c) return;
    await Promise.all(
      nodes
        .filter((n) => n.kind === "core0")
        .map(async (n) => {
          try {
            await withCore0(
              {
                host: n.address,
                port: c.port,
                password: c.password,
                timeoutMs: 5000,
                connectTimeoutMs: 3000,
              },
              (client) => client.ping({ timeoutMs: 5000 }),
            );
            n.state = "online";
            n.detail = join(n.detail, "core0 ping ok");
          } catch (err) {
            n.state = "offline";
            n.detail = join(n.detail, `core0 ping failed: ${this.clean(errorMessage(err))}`);
          }
        }),
    );
  }
}

function node(name: string, kind: string, address: string): NodeStatus {
  return { name, kind, address, state: "unknown", lastSeen: null, detail: "" };
}

function join(a: string, b: string): string {
  return a ? `${a}; ${b}` : b;
}
