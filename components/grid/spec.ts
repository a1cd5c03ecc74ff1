/**
 * The grid file: the desired state of a G8OS grid (REPO_G8OS_GRID_X), like an AYS blueprint.
 * YAML, validated up front; every problem names the file, the field and the fix.
 *
 * ```yaml
 * network: 8056c2e21c000001        # the G8OS management ZeroTier network id (16 hex)
 * routes: [10.147.17.0/24]         # optional: the network's routes; node addresses must be inside
 * health:                          # optional check levels, percent (these are the defaults)
 *   cpu: { warn: 80, error: 95 }
 *   memory: { warn: 80, error: 95 }
 *   disk: { warn: 90, error: 95 }   # v0.9.0 reports no disk use: the disk check stays unknown
 * alerts: { telegramChatId: "-1001234567890" }  # optional; bot token: config g8os:telegramBotToken
 * nodes:
 *   - name: node1
 *     address: 10.147.17.3         # the node's ZeroTier IP
 *     port: 6379                   # optional, default 6379
 *     memoryMb: 4096               # optional: caps what the node reports (info.mem total, MiB)
 *     cpu: 4                       # optional: caps the CPUs the node reports (info.cpu)
 *     labels: [ssd]                # optional: what apps may ask for
 * apps:
 *   - name: redis
 *     plist: http://127.0.0.1:8080/ipfs/<templates root>/redis/plist   # or file:///... on the node
 *     memoryMb: 256                # what it needs, MiB (default 0): the scheduler places by it
 *     cpu: 1                       # CPUs it needs (default 0)
 *     labels: [ssd]                # optional: only nodes with all these labels
 *     antiAffinity: [redis-replica] # optional: apps it must not share a node with
 *     node: node1                  # optional: pin it by hand instead of letting the grid place it
 *     restartLimit: 3              # optional: refreshes restart an ended service at most 3 times (default 3)
 *     failover: true               # optional: when its node does not answer at `up`, place it elsewhere
 *     ports: { "6379": 6379 }      # optional: host port -> container port
 *     mounts: { /var/data/redis: /data }  # optional: host dir (absolute, on the node) or plist URL -> container path
 *     env: { KEY: value }          # optional
 *     processes:                   # started in the container, in order; services stay running
 *       - { name: /usr/bin/redis-server, args: ["--port", "6379"] }
 *       - { name: /bin/sh, args: ["-c", "setup"], oneshot: true }   # runs to completion
 * ```
 *
 * Unknown keys are errors (with the nearest known key), so a typo never silently drops a setting.
 * Where each app goes: components/grid/placement.ts (the stack output `placement` says why).
 */
import * as fs from "fs";
import { DEFAULT_THRESHOLDS, type HealthThresholds } from "./health";
import {
  cidr,
  didYouMean,
  hexId,
  hostname,
  httpUrl,
  intInRange,
  parseIPv4,
} from "../../providers/shared/validate";
import { GridSpecError, type GridAppSpec, type GridNodeSpec, type GridSpec } from "./spec-model";

export * from "./spec-model";

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const TOP_KEYS = ["network", "routes", "health", "alerts", "nodes", "apps"];
const NODE_KEYS = ["name", "address", "port", "memoryMb", "cpu", "labels"];
const APP_KEYS = [
  "name",
  "node",
  "plist",
  "memoryMb",
  "cpu",
  "labels",
  "antiAffinity",
  "restartLimit",
  "failover",
  "mounts",
  "ports",
  "env",
  "processes",
];
const LABEL = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const PROCESS_KEYS = ["name", "args", "dir", "env", "oneshot"];

/** True for a YAML mapping (not a list, not a scalar). */
function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True when `n` (numeric IPv4) is inside the CIDR `c` (already validated). */
function inCidr(n: number, c: string): boolean {
  const [ip, bits] = c.split("/");
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (n & mask) >>> 0 === (parseIPv4(ip)! & mask) >>> 0;
}

/** Validates a parsed grid document; `file` is only used in messages. */
export function parseGridSpec(doc: unknown, file: string): GridSpec {
  const problems: string[] = [];
  const bad = (field: string, problem: string, fix: string) =>
    problems.push(`${file}: ${field}: ${problem}. Fix: ${fix}`);
  const d = (isMap(doc) ? doc : {}) as Record<string, unknown>;
  if (!isMap(doc)) bad("(top)", "is not a mapping", "write `network:`, `nodes:` and `apps:` keys");
  const unknownKeys = (o: unknown, field: string, known: string[]) => {
    if (!isMap(o)) return;
    for (const k of Object.keys(o)) {
      if (known.includes(k)) continue;
      const near = didYouMean(k, known);
      bad(
        field ? `${field}.${k}` : k,
        `is not a known field${near ? ` (did you mean ${near}?)` : ""}`,
        near ? `rename it to ${near}` : `use only ${known.join(", ")}`,
      );
    }
  };
  unknownKeys(doc, "", TOP_KEYS);
  const whole = (field: string, v: unknown, min: number, max: number, example: string) => {
    if (v === undefined) return undefined;
    if (typeof v === "number" && !intInRange(min, max)(v)) return v;
    bad(field, `${JSON.stringify(v)} is not a whole number from ${min} to ${max}`, `e.g. ${example}`);
    return undefined;
  };

  const names = (field: string, v: unknown, re: RegExp, what: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || !re.test(x))) {
      bad(
        field,
        `${JSON.stringify(v)} is not a list of ${what}`,
        `write e.g. \`${field.split(".").pop()}: [ssd]\` (lowercase letters, digits, . _ -)`,
      );
      return [];
    }
    return [...new Set(v as string[])];
  };

  let routes: string[] | undefined;
  if (d.routes !== undefined) {
    if (!Array.isArray(d.routes) || d.routes.length === 0)
      bad("routes", "must be a non-empty list of CIDRs", "write e.g. `routes: [10.147.17.0/24]`");
    else {
      routes = [];
      d.routes.forEach((c: unknown, i: number) => {
        const why = cidr(c);
        if (why) bad(`routes[${i}]`, `${JSON.stringify(c)} ${why}`, "write e.g. 10.147.17.0/24");
        else routes!.push(c as string);
      });
    }
  }

  const health: HealthThresholds = JSON.parse(JSON.stringify(DEFAULT_THRESHOLDS));
  if (d.health !== undefined) {
    if (!isMap(d.health))
      bad("health", "is not a mapping", "write e.g. `health: { cpu: { warn: 80, error: 95 } }`");
    else {
      unknownKeys(d.health, "health", ["cpu", "memory", "disk"]);
      for (const k of ["cpu", "memory", "disk"] as const) {
        const t = d.health[k];
        if (t === undefined) continue;
        if (!isMap(t)) {
          bad(`health.${k}`, "is not a mapping", `write e.g. \`${k}: { warn: 80, error: 95 }\``);
          continue;
        }
        unknownKeys(t, `health.${k}`, ["warn", "error"]);
        const warn = whole(`health.${k}.warn`, t.warn, 0, 100, "80 (percent)") ?? health[k].warn;
        const error = whole(`health.${k}.error`, t.error, 0, 100, "95 (percent)") ?? health[k].error;
        if (warn > error)
          bad(`health.${k}.warn`, `${warn} is above error (${error})`, "make warn at most error");
        health[k] = { warn, error };
      }
    }
  }
  let alerts: { telegramChatId: string } | undefined;
  if (d.alerts !== undefined) {
    if (!isMap(d.alerts))
      bad("alerts", "is not a mapping", 'write `alerts: { telegramChatId: "-1001234567890" }`');
    else {
      unknownKeys(d.alerts, "alerts", ["telegramChatId"]);
      const chat = String(d.alerts.telegramChatId ?? "");
      if (!/^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$/.test(chat))
        bad(
          "alerts.telegramChatId",
          `"${chat}" is not a Telegram chat id`,
          "the chat's numeric id (-100... for a group) or @channelname, quoted",
        );
      else alerts = { telegramChatId: chat };
    }
  }

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
      if (!isMap(n)) {
        bad(f, "is not a mapping", "write `- {name: node1, address: 10.147.17.3}`");
        return;
      }
      unknownKeys(n, f, NODE_KEYS);
      const name = String(n?.name ?? "");
      if (!NAME.test(name))
        bad(`${f}.name`, `"${name}" is not a valid name`, "lowercase letters, digits and dashes");
      if (nodes.some((x) => x.name === name))
        bad(`${f}.name`, `"${name}" is used twice`, "give every node its own name");
      const address = String(n?.address ?? "");
      if (hostname(address)) bad(`${f}.address`, `"${address}" is not an address`, "the node's ZeroTier IP");
      else if (routes && routes.length > 0) {
        const ip = parseIPv4(address);
        if (ip === undefined)
          bad(
            `${f}.address`,
            `"${address}" is not an IPv4 address`,
            `the node's ZeroTier IP, inside ${routes.join(", ")}`,
          );
        else if (!routes.some((c) => inCidr(ip, c)))
          bad(
            `${f}.address`,
            `${address} is outside the management network (routes: ${routes.join(", ")})`,
            "use the node's ZeroTier IP on the management network, or add its route to `routes`",
          );
      }
      const port = n?.port === undefined ? 6379 : Number(n.port);
      if (intInRange(1, 65535)(port))
        bad(`${f}.port`, `"${String(n.port)}" is not a port`, "1 to 65535, default 6379");
      const memoryMb = whole(`${f}.memoryMb`, n.memoryMb, 1, 1 << 30, "4096 (MiB the node offers to apps)");
      const cpu = whole(`${f}.cpu`, n.cpu, 1, 4096, "4 (CPUs the node offers to apps)");
      const labels = names(`${f}.labels`, n.labels, LABEL, "labels");
      nodes.push({
        name,
        address,
        port,
        labels,
        ...(memoryMb !== undefined ? { memoryMb } : {}),
        ...(cpu !== undefined ? { cpu } : {}),
      });
    });
  }

  const apps: GridAppSpec[] = [];
  const list = d.apps === undefined ? [] : d.apps;
  if (!Array.isArray(list))
    bad("apps", "is not a list", "list apps as `- {name: redis, node: node1, plist: ..., processes: [...]}`");
  else {
    list.forEach((a: Record<string, unknown>, i: number) => {
      const f = `apps[${i}]`;
      if (!isMap(a)) {
        bad(f, "is not a mapping", "write `- {name: redis, node: node1, plist: ..., processes: [...]}`");
        return;
      }
      unknownKeys(a, f, APP_KEYS);
      const name = String(a?.name ?? "");
      if (!NAME.test(name))
        bad(`${f}.name`, `"${name}" is not a valid name`, "lowercase letters, digits and dashes");
      if (apps.some((x) => x.name === name))
        bad(`${f}.name`, `"${name}" is used twice`, "give every app its own name");
      const node = a?.node === undefined ? undefined : String(a.node);
      if (node !== undefined && !nodes.some((n) => n.name === node))
        bad(
          `${f}.node`,
          `"${node}" is not a node of this grid`,
          `use one of: ${nodes.map((n) => n.name).join(", ") || "(no nodes)"}, or leave node out to let the grid place the app`,
        );
      const labels = names(`${f}.labels`, a.labels, LABEL, "labels");
      const antiAffinity = names(`${f}.antiAffinity`, a.antiAffinity, NAME, "app names");
      const plist = String(a?.plist ?? "");
      if (!/^file:\/\/\//.test(plist) && httpUrl(plist))
        bad(
          `${f}.plist`,
          `"${plist}" is not a plist URL`,
          "an http(s) URL (e.g. an IPFS gateway path) or file:///path on the node",
        );
      const need = {
        memoryMb: whole(`${f}.memoryMb`, a.memoryMb, 0, 1 << 30, "256"),
        cpu: whole(`${f}.cpu`, a.cpu, 0, 4096, "1"),
      };
      if (a.failover !== undefined && typeof a.failover !== "boolean")
        bad(`${f}.failover`, `${JSON.stringify(a.failover)} is not true or false`, "write failover: true");
      const failover = a.failover === true;
      if (failover && node !== undefined)
        bad(`${f}.failover`, "cannot move an app pinned with node", "remove node, or failover");
      const restartLimit =
        whole(`${f}.restartLimit`, a.restartLimit, 0, 1000, "3 (restarts per service)") ?? 3;
      const ports = a.ports;
      if (ports !== undefined) {
        if (!isMap(ports)) bad(`${f}.ports`, "is not a mapping", 'write e.g. `ports: { "6379": 6379 }`');
        else
          for (const [hp, cp] of Object.entries(ports)) {
            if (intInRange(1, 65535)(Number(hp)) || intInRange(1, 65535)(cp))
              bad(
                `${f}.ports.${hp}`,
                `"${hp}: ${String(cp)}" is not host port: container port`,
                'both 1 to 65535, e.g. "8080": 80',
              );
          }
      }
      // A pin against the file's own caps: refused here, before any resource (the scheduler
      // checks it again against what the node reports).
      const host = node === undefined ? undefined : nodes.find((n) => n.name === node);
      for (const k of ["memoryMb", "cpu"] as const) {
        const cap = host?.[k];
        const want = need[k];
        if (cap === undefined || want === undefined) continue;
        // What the apps pinned there before this one already take.
        const taken = apps.filter((x) => x.node === node).reduce((t, x) => t + (x[k] ?? 0), 0);
        if (want > cap)
          bad(
            `${f}.${k}`,
            `needs ${want} but node ${node} has ${cap} (nodes[${nodes.indexOf(host!)}].${k})`,
            `lower ${k}, or pin the app to a node with more (or leave node out to let the grid place it)`,
          );
        else if (taken + want > cap)
          bad(
            `${f}.${k}`,
            `needs ${want} but node ${node} has ${cap - taken} of ${cap} left after the apps pinned there before it`,
            `lower ${k}, or pin the app to another node (or leave node out to let the grid place it)`,
          );
      }
      const mounts = a.mounts;
      if (mounts !== undefined) {
        if (!isMap(mounts))
          bad(`${f}.mounts`, "is not a mapping", "write e.g. `mounts: { /var/data/app: /data }`");
        else
          for (const [src, dst] of Object.entries(mounts)) {
            if (!src.startsWith("/") && !/^(file:\/\/\/|https?:\/\/)/.test(src))
              bad(
                `${f}.mounts.${src}`,
                "source is not an absolute host path or a plist URL",
                "e.g. /var/data/app (it must exist on the node)",
              );
            if (typeof dst !== "string" || !dst.startsWith("/"))
              bad(
                `${f}.mounts.${src}`,
                `target ${JSON.stringify(dst)} is not an absolute path`,
                "e.g. /data",
              );
          }
      }
      const stringMap = (field: string, v: unknown) => {
        if (v !== undefined && (!isMap(v) || Object.values(v).some((x) => typeof x !== "string")))
          bad(field, "must be a mapping of strings", 'quote values, e.g. `env: { PORT: "80" }`');
      };
      stringMap(`${f}.env`, a.env);
      const procs = a?.processes;
      if (!Array.isArray(procs) || procs.length === 0)
        bad(
          `${f}.processes`,
          "is missing or empty",
          "list the processes to start: `- {name: /usr/bin/app, args: [...]}`",
        );
      const processes = (Array.isArray(procs) ? procs : []).map((p: Record<string, unknown>, j: number) => {
        unknownKeys(p, `${f}.processes[${j}]`, PROCESS_KEYS);
        stringMap(`${f}.processes[${j}].env`, p?.env);
        if (p?.dir !== undefined && (typeof p.dir !== "string" || !p.dir.startsWith("/")))
          bad(`${f}.processes[${j}].dir`, "must be an absolute path", "e.g. dir: /opt/app");
        if (p?.oneshot !== undefined && typeof p.oneshot !== "boolean")
          bad(
            `${f}.processes[${j}].oneshot`,
            `${JSON.stringify(p.oneshot)} is not true or false`,
            "write oneshot: true",
          );
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
        ...(node !== undefined ? { node } : {}),
        labels,
        antiAffinity,
        restartLimit,
        failover,
        plist,
        memoryMb: need.memoryMb,
        cpu: need.cpu,
        ports: a?.ports as Record<string, number> | undefined,
        ...(isMap(a.mounts) ? { mounts: a.mounts as Record<string, string> } : {}),
        env: a?.env as Record<string, string> | undefined,
        processes,
      });
    });
  }
  // Anti-affinity names apps of this file (checked once every app is known).
  if (Array.isArray(list))
    apps.forEach((a, i) =>
      a.antiAffinity.forEach((o, j) => {
        if (o === a.name)
          bad(`apps[${i}].antiAffinity[${j}]`, `names the app itself`, "list other apps only");
        else if (!apps.some((x) => x.name === o))
          bad(
            `apps[${i}].antiAffinity[${j}]`,
            `"${o}" is not an app of this grid`,
            `use one of: ${
              apps
                .filter((x) => x !== a)
                .map((x) => x.name)
                .join(", ") || "(no other apps)"
            }`,
          );
      }),
    );
  if (problems.length > 0) throw new GridSpecError(problems);
  return { network, ...(routes ? { routes } : {}), health, ...(alerts ? { alerts } : {}), nodes, apps };
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
