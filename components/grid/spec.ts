/**
 * The grid file: the desired state of a G8OS grid (REPO_G8OS_GRID_X), like an AYS blueprint.
 * YAML, validated up front; every problem names the file, the field and the fix.
 *
 * ```yaml
 * network: 8056c2e21c000001        # the G8OS management ZeroTier network id (16 hex)
 * nodes:
 *   - name: node1
 *     address: 10.147.17.3         # the node's ZeroTier IP
 *     port: 6379                   # optional, default 6379
 * apps:
 *   - name: redis
 *     node: node1
 *     plist: http://127.0.0.1:8080/ipfs/<templates root>/redis/plist   # or file:///... on the node
 *     memoryMb: 256                # optional: checked against the node
 *     cpu: 1                       # optional
 *     ports: { "6379": 6379 }      # optional: host port -> container port
 *     env: { KEY: value }          # optional
 *     processes:                   # started in the container, in order; services stay running
 *       - { name: /usr/bin/redis-server, args: ["--port", "6379"] }
 *       - { name: /bin/sh, args: ["-c", "setup"], oneshot: true }   # runs to completion
 * ```
 */
import * as fs from "fs";
import { hexId, hostname, httpUrl, intInRange } from "../../providers/shared/validate";

export interface GridNodeSpec {
  name: string;
  address: string;
  port: number;
}

export interface GridProcessSpec {
  name: string;
  args?: string[];
  dir?: string;
  env?: Record<string, string>;
  /** A command that runs to completion (setup) rather than a service left running. Default false. */
  oneshot?: boolean;
}

export interface GridAppSpec {
  name: string;
  node: string;
  plist: string;
  memoryMb?: number;
  cpu?: number;
  ports?: Record<string, number>;
  env?: Record<string, string>;
  processes: GridProcessSpec[];
}

export interface GridSpec {
  network: string;
  nodes: GridNodeSpec[];
  apps: GridAppSpec[];
}

/** Every problem found in a grid file, one per line: `file: field: problem. Fix: ...`. */
export class GridSpecError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `grid file has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "GridSpecError";
  }
}

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Validates a parsed grid document; `file` is only used in messages. */
export function parseGridSpec(doc: unknown, file: string): GridSpec {
  const problems: string[] = [];
  const bad = (field: string, problem: string, fix: string) =>
    problems.push(`${file}: ${field}: ${problem}. Fix: ${fix}`);
  const d = (doc ?? {}) as Record<string, unknown>;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    bad("(top)", "is not a mapping", "write `network:`, `nodes:` and `apps:` keys");

  const network = String(d.network ?? "");
  if (hexId(16)(network))
    bad(
      "network",
      `"${network}" is not a ZeroTier network id`,
      "use the 16-hex id of the management network",
    );

  const nodes: GridNodeSpec[] = [];
  if (!Array.isArray(d.nodes) || d.nodes.length === 0)
    bad("nodes", "is missing or empty", "list at least one node: `- {name: node1, address: 10.147.17.3}`");
  else {
    d.nodes.forEach((n: Record<string, unknown>, i: number) => {
      const f = `nodes[${i}]`;
      const name = String(n?.name ?? "");
      if (!NAME.test(name))
        bad(`${f}.name`, `"${name}" is not a valid name`, "lowercase letters, digits and dashes");
      if (nodes.some((x) => x.name === name))
        bad(`${f}.name`, `"${name}" is used twice`, "give every node its own name");
      const address = String(n?.address ?? "");
      if (hostname(address)) bad(`${f}.address`, `"${address}" is not an address`, "the node's ZeroTier IP");
      const port = n?.port === undefined ? 6379 : Number(n.port);
      if (intInRange(1, 65535)(port))
        bad(`${f}.port`, `"${String(n.port)}" is not a port`, "1 to 65535, default 6379");
      nodes.push({ name, address, port });
    });
  }

  const apps: GridAppSpec[] = [];
  const list = d.apps === undefined ? [] : d.apps;
  if (!Array.isArray(list))
    bad("apps", "is not a list", "list apps as `- {name: redis, node: node1, plist: ..., processes: [...]}`");
  else {
    list.forEach((a: Record<string, unknown>, i: number) => {
      const f = `apps[${i}]`;
      const name = String(a?.name ?? "");
      if (!NAME.test(name))
        bad(`${f}.name`, `"${name}" is not a valid name`, "lowercase letters, digits and dashes");
      if (apps.some((x) => x.name === name))
        bad(`${f}.name`, `"${name}" is used twice`, "give every app its own name");
      const node = String(a?.node ?? "");
      if (!nodes.some((n) => n.name === node))
        bad(
          `${f}.node`,
          `"${node}" is not a node of this grid`,
          `use one of: ${nodes.map((n) => n.name).join(", ") || "(no nodes)"}`,
        );
      const plist = String(a?.plist ?? "");
      if (!/^file:\/\/\//.test(plist) && httpUrl(plist))
        bad(
          `${f}.plist`,
          `"${plist}" is not a plist URL`,
          "an http(s) URL (e.g. an IPFS gateway path) or file:///path on the node",
        );
      for (const k of ["memoryMb", "cpu"] as const) {
        if (a?.[k] !== undefined && intInRange(0, 1 << 20)(a[k]))
          bad(`${f}.${k}`, `"${String(a[k])}" is not a whole number`, "e.g. 256");
      }
      const procs = a?.processes;
      if (!Array.isArray(procs) || procs.length === 0)
        bad(
          `${f}.processes`,
          "is missing or empty",
          "list the processes to start: `- {name: /usr/bin/app, args: [...]}`",
        );
      const processes = (Array.isArray(procs) ? procs : []).map((p: Record<string, unknown>, j: number) => {
        if (typeof p?.name !== "string" || !p.name)
          bad(`${f}.processes[${j}].name`, "is missing", "the program to run, e.g. /usr/bin/redis-server");
        if (p?.args !== undefined && (!Array.isArray(p.args) || p.args.some((x) => typeof x !== "string")))
          bad(`${f}.processes[${j}].args`, "must be a list of strings", 'e.g. ["--port", "6379"]');
        return {
          name: String(p?.name ?? ""),
          args: p?.args as string[] | undefined,
          dir: p?.dir as string | undefined,
          env: p?.env as Record<string, string> | undefined,
          oneshot: p?.oneshot === true,
        };
      });
      apps.push({
        name,
        node,
        plist,
        memoryMb: a?.memoryMb as number | undefined,
        cpu: a?.cpu as number | undefined,
        ports: a?.ports as Record<string, number> | undefined,
        env: a?.env as Record<string, string> | undefined,
        processes,
      });
    });
  }
  if (problems.length > 0) throw new GridSpecError(problems);
  return { network, nodes, apps };
}

/** Reads and validates a grid file (YAML or JSON). */
export function loadGridSpec(file: string): GridSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new GridSpecError([
      `${file}: cannot be read. Fix: set g8os:gridFile to the path of your grid file (relative to the project)`,
    ]);
  }
  let doc: unknown;
  try {
    doc = (require("js-yaml") as typeof import("js-yaml")).load(text);
  } catch (err) {
    throw new GridSpecError([
      `${file}: is not valid YAML (${(err as Error).message.split("\n")[0]}). Fix: correct the syntax`,
    ]);
  }
  return parseGridSpec(doc, file);
}
