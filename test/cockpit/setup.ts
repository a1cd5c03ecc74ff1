/**
 * Test code: a cockpit on 127.0.0.1 (port 0) over a temporary project and data dir, with a
 * passphrase file (mode 0600), an issuer stand-in and an HTTP helper. The engine is the test's
 * (a `FakeEngine`, or the real Automation API engine over the CLI stand-in).
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { checkConfig, type CockpitConfig } from "../../cockpit/config";
import type { StackEngine } from "../../cockpit/runs/engine";
import type { RobotTimings } from "../../cockpit/robot/robot";
import { startCockpit, type Cockpit } from "../../cockpit/service";
import type { Issuer } from "./issuer";

/** A passphrase the tests grep for in every response and log. */
export const PASSPHRASE = "correct-horse-battery-staple-7f3a";

export interface Dirs {
  root: string;
  projectDir: string;
  dataDir: string;
  passphraseFile: string;
  pulumiRoot: string;
}

/** A temporary layout: project with stacks `dev` and `build`, data dir, passphrase file, a CLI root. */
export function makeDirs(stacks: string[] = ["dev", "build"]): Dirs {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-cockpit-"));
  const projectDir = path.join(root, "project");
  fs.mkdirSync(projectDir);
  fs.writeFileSync(path.join(projectDir, "Pulumi.yaml"), "name: g8os\nruntime: nodejs\n");
  for (const s of stacks) fs.writeFileSync(path.join(projectDir, `Pulumi.${s}.yaml`), "config: {}\n");
  const passphraseFile = path.join(root, "passphrase");
  fs.writeFileSync(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  const pulumiRoot = path.join(root, "pulumi");
  fs.mkdirSync(path.join(pulumiRoot, "bin"), { recursive: true });
  fs.writeFileSync(path.join(pulumiRoot, "bin", "pulumi"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  return { root, projectDir, dataDir: path.join(root, "data"), passphraseFile, pulumiRoot };
}

/** The config of a test cockpit: ItsYou.online mode, organisations `build` (viewers) and `build.ops`. */
export function testConfig(d: Dirs, issuer: Issuer, extra: Record<string, unknown> = {}): CockpitConfig {
  return checkConfig(
    {
      listen: { host: "127.0.0.1", port: 0 },
      projectDir: d.projectDir,
      dataDir: d.dataDir,
      maxBodyBytes: 4096,
      pulumi: { root: d.pulumiRoot, passphraseFile: d.passphraseFile },
      auth: {
        mode: "itsyouonline",
        jwksUrl: issuer.jwksUrl,
        organization: "build",
        operatorOrganization: "build.ops",
      },
      ...extra,
    },
    path.join(d.root, "cockpit.yaml"),
  );
}

export interface TestCockpit extends Cockpit {
  /** Every service log line. */
  logLines: string[];
}

export async function start(
  cfg: CockpitConfig,
  engine: StackEngine,
  sseKeepaliveMs?: number,
  robot?: RobotTimings,
): Promise<TestCockpit> {
  const logLines: string[] = [];
  const c = await startCockpit(cfg, {
    engine,
    log: (l) => logLines.push(l),
    ...(sseKeepaliveMs ? { sseKeepaliveMs } : {}),
    ...(robot ? { robot } : {}),
  });
  return Object.assign(c, { logLines });
}

/** Claims of an ItsYou.online user in `orgs`, valid for an hour. */
export function iyoClaims(user: string, orgs: string[], aud = "build"): Record<string, unknown> {
  return {
    iss: "itsyouonline",
    aud: [aud],
    username: user,
    scope: orgs.map((o) => `user:memberof:${o}`).join(","),
    exp: Math.floor(Date.now() / 1000) + 3600,
  };
}

export interface Reply {
  status: number;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: http.IncomingHttpHeaders;
}

/** Every response body the tests saw (they are grepped for secrets at the end). */
export const seenResponses: string[] = [];

/** One HTTP call to the cockpit. */
export function call(
  base: string,
  method: string,
  p: string,
  o: { token?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (payload !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
    if (payload !== undefined) headers["content-length"] = String(Buffer.byteLength(payload));
    const req = http.request(`${base}${p}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        seenResponses.push(text);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json, headers: res.headers });
      });
    });
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface SseEvent {
  event: string;
  data: string;
}

/** Reads a server-sent event stream to its end; `onEvent` sees each event as it arrives. */
export function readSse(
  base: string,
  p: string,
  token: string,
  onEvent: (e: SseEvent) => void = () => {},
): Promise<{ status: number; events: SseEvent[]; comments: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${p}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      const events: SseEvent[] = [];
      let comments = 0;
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith(":")) {
            comments++;
            continue;
          }
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          const e = { event, data: data.join("\n") };
          seenResponses.push(e.data);
          events.push(e);
          onEvent(e);
        }
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, events, comments }));
    });
    req.on("error", reject);
  });
}

/** Polls `f` until it returns a truthy value (deadline `ms`). */
export async function until<T>(f: () => Promise<T> | T, what: string, ms = 10000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
