/**
 * The cockpit service (issue #15, Bench line) on 127.0.0.1, no testbed: the cockpit of
 * test/cockpit/setup.ts (temp project and data dir, the ItsYou.online stand-in issuing JWTs) with
 * an in-process engine that streams log lines for a while per operation (the run manager, the
 * REST API, the log streaming and the robot are the product's; the Automation API + CLI path is
 * not benched here, runs-cli.test.ts covers it). Per repetition:
 * - `/api/status` latency p50/p99 with STATUS_CLIENTS concurrent clients (Node's fetch) while an
 *   `up` streams its log to an attached SSE reader, and with no run; baseline: 1 client, no run;
 *   requests that failed are counted (a figure, not a check);
 * - UPS simultaneous `POST /api/runs` `up`s on one stack: wall time to all finished vs 1 `up`;
 *   checked from the run records (startedAt/finishedAt, state) and the replies' positions:
 *   overlapping runs, lost runs, runs started out of order. Each check is a figure that must be 0;
 *   a violation makes it NaN, so the repetition fails (the runner's FAILED entry) and the detail
 *   goes to stderr;
 * - a 429 storm from the Bot API (test/testbed/telegram `startTelegramFaultFake` answering every
 *   request 429 with `retry_after` 2 s, then normally), 8 s and 60 s long
 *   (`G8OS_BENCH_COCKPIT_STORM_MS`, `G8OS_BENCH_COCKPIT_LONG_STORM_MS`): (a) the robot's group
 *   posts of runs (successes batched as routine digest lines, failures urgent) and (b) a build report sent
 *   the way AppTest sends it (workflows/app-test/report.ts: TelegramNotifier + TelegramDigest with
 *   flushIntervalMs 0, a digest line per app, an urgent alert per failed app, close() at the end).
 *   From the stand-in's request log: messages delivered / expected (a run id or app name missing
 *   from every delivered text is lost), the most messages delivered to the group in any 60 s
 *   window (and attempts, 429s included), time from the storm's end to the last delivery. A lost
 *   message or more than 20 in a minute makes its check figure NaN.
 *
 * Run: `npx ts-node bench/index.ts cockpit` (or `npx ts-node bench/cockpit.ts` for one repetition).
 */
import * as fs from "fs";
import * as path from "path";
import type {
  EngineOp,
  EngineResult,
  EngineRunOptions,
  StackEngine,
  StateResource,
} from "../cockpit/runs/engine";
import type { RunRecord } from "../cockpit/runs/types";
import { TelegramDigest, TelegramNotifier } from "../providers/telegram/client";
import { startIssuer } from "../test/cockpit/issuer";
import { iyoClaims, makeDirs, readSse, start, testConfig, type TestCockpit } from "../test/cockpit/setup";
import { startTelegramFaultFake, type TelegramFaultFake } from "../test/testbed/telegram";
import type { BenchResult } from "./index";
import { percentile, withScope, type Scope } from "./lib/setup";

const STATUS_CLIENTS = 50;
const UPS = 10;
const TELEGRAM_LIMIT = 20;
const NOISE = "measured while another test suite ran";
const TOKEN = "123456:bench-cockpit-token";
const GROUP = -1001234567890;

/** An engine whose operations write a log line every `lineMs` for `durationMs` (or until `release()`). */
class StreamingEngine implements StackEngine {
  /** Start and end (ms since the epoch) of every operation, as the engine saw them. */
  readonly ops: { stack: string; op: EngineOp; start: number; end?: number }[] = [];
  private releases: Array<() => void> = [];

  constructor(
    public durationMs: number | "until-released",
    private readonly lineMs: number,
    /** Whether the n-th operation (0-based) fails. */
    public fails: (n: number) => boolean = () => false,
  ) {}

  /** Ends every operation that waits for release. */
  release(): void {
    this.releases.splice(0).forEach((r) => r());
  }

  run(stack: string, op: EngineOp, opts: EngineRunOptions): Promise<EngineResult> {
    const n = this.ops.length;
    const rec: { stack: string; op: EngineOp; start: number; end?: number } = {
      stack,
      op,
      start: Date.now(),
    };
    this.ops.push(rec);
    return new Promise((resolve, reject) => {
      let line = 0;
      const timer = setInterval(
        () => opts.onOutput(`${op} ${stack}: step ${++line} of the bench engine, some output to stream\n`),
        this.lineMs,
      );
      const finish = (err?: Error): void => {
        clearInterval(timer);
        rec.end = Date.now();
        if (err) reject(err);
        else resolve({ changes: { update: 1 } });
      };
      opts.signal.addEventListener("abort", () => finish(new Error("stopped by SIGINT")));
      const done = (): void =>
        finish(this.fails(n) ? new Error(`bench failure of operation ${n}`) : undefined);
      if (this.durationMs === "until-released") this.releases.push(done);
      else setTimeout(done, this.durationMs);
    });
  }

  async resources(stack: string): Promise<StateResource[]> {
    return [
      {
        urn: `urn:pulumi:${stack}::g8os::pulumi:pulumi:Stack::g8os-${stack}`,
        type: "pulumi:pulumi:Stack",
        id: "",
        parent: "",
      },
    ];
  }
}

interface Env {
  s: Scope;
  op: string;
  viewer: string;
  /** A cockpit with `engine` (and `extra` config), stopped with the scope. */
  cockpit(engine: StackEngine, extra?: Record<string, unknown>, flushMs?: number): Promise<TestCockpit>;
}

async function env(s: Scope): Promise<Env> {
  const issuer = await s.add(startIssuer(), (i) => i.stop());
  return {
    s,
    op: issuer.sign(iyoClaims("otto", ["build.ops"])),
    viewer: issuer.sign(iyoClaims("vera", ["build"])),
    async cockpit(engine, extra = {}, flushMs) {
      const dirs = makeDirs(["dev"]);
      s.defer(() => fs.rmSync(dirs.root, { recursive: true, force: true }));
      const robot = extra.robot as Record<string, unknown> | undefined;
      let full = extra;
      if (robot) {
        // The robot reads its token from a file of mode 0600, as in production.
        const tokenFile = path.join(dirs.root, "telegram-token");
        fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
        full = { ...extra, robot: { tokenFile, ...robot } };
      }
      const timings = flushMs ? { idleMs: 200, flushIntervalMs: flushMs } : undefined;
      return s.add(start(testConfig(dirs, issuer, full), engine, undefined, timings), (c) => c.close());
    },
  };
}

/** `POST /api/runs`; `json` is the 202 answer's shape (an error body otherwise, checked by status). */
async function post(
  base: string,
  token: string,
  body: unknown,
): Promise<{ status: number; json: { run: RunRecord; position: number } }> {
  const r = await fetch(`${base}/api/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as { run: RunRecord; position: number } };
}

async function runs(base: string, token: string): Promise<RunRecord[]> {
  const r = await fetch(`${base}/api/runs?stack=dev&limit=500`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (r.status !== 200) throw new Error(`cockpit bench: GET /api/runs answered ${r.status}`);
  return ((await r.json()) as { runs: RunRecord[] }).runs;
}

/**
 * `clients` concurrent loops of `perClient` sequential `GET /api/status`: the latencies (ms,
 * sorted) of the answered ones and how many failed (a reset connection, or not 200).
 */
async function statusLoad(
  base: string,
  token: string,
  clients: number,
  perClient: number,
): Promise<{ ms: number[]; failed: number }> {
  const ms: number[] = [];
  let failed = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < perClient; i++) {
        const t0 = performance.now();
        try {
          const r = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${token}` } });
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`answered ${r.status}`);
          ms.push(performance.now() - t0);
        } catch (err) {
          failed++;
          process.stderr.write(`cockpit bench: GET /api/status failed: ${(err as Error).message}\n`);
        }
      }
    }),
  );
  if (ms.length === 0) throw new Error("cockpit bench: every GET /api/status failed");
  return { ms: ms.sort((a, b) => a - b), failed };
}

async function statusLatency(e: Env): Promise<BenchResult[]> {
  const perClient = Number(process.env.G8OS_BENCH_COCKPIT_REQUESTS ?? 20);
  const engine = new StreamingEngine("until-released", 5);
  const c = await e.cockpit(engine);
  await statusLoad(c.url, e.viewer, 1, 10); // warm-up: connections, JIT
  const base = (await statusLoad(c.url, e.viewer, 1, perClient * 5)).ms;
  // The same load without a run: tells the streaming run's share from the clients' own.
  await statusLoad(c.url, e.viewer, STATUS_CLIENTS, 1);
  const idleLoad = await statusLoad(c.url, e.viewer, STATUS_CLIENTS, perClient);
  const idle = idleLoad.ms;
  const { json } = await post(c.url, e.op, { stack: "dev", kind: "up" });
  const id = json.run.id;
  let logEvents = 0;
  const sse = readSse(c.url, `/api/runs/${id}/log`, e.viewer, (ev) => {
    if (ev.event === "log") logEvents++;
  });
  while (logEvents === 0) await new Promise((r) => setTimeout(r, 10));
  // Every client's connection opened before measuring: the figure is the steady state.
  await statusLoad(c.url, e.viewer, STATUS_CLIENTS, 1);
  const before = logEvents;
  const streamLoad = await statusLoad(c.url, e.viewer, STATUS_CLIENTS, perClient);
  const load = streamLoad.ms;
  const during = logEvents - before;
  engine.release();
  const end = await sse;
  // The log must have streamed while the clients ran, and the stream must have ended normally.
  const streamed = during > 0 && end.status === 200 && end.events.some((ev) => ev.event === "end");
  const note = `baseline: 1 client, no run; ${STATUS_CLIENTS} x ${perClient} requests (${streamLoad.failed} failed) while an up wrote a log line every 5 ms to an SSE reader (${during} log events meanwhile); ${NOISE}`;
  const idleNote = `baseline: 1 client; ${STATUS_CLIENTS} x ${perClient} requests (${idleLoad.failed} failed), no run; ${NOISE}`;
  return [
    {
      name: `/api/status p50, ${STATUS_CLIENTS} clients, no run (vs 1 client)`,
      value: percentile(idle, 50),
      unit: "ms",
      baseline: percentile(base, 50),
      note: idleNote,
    },
    {
      name: `/api/status p99, ${STATUS_CLIENTS} clients, no run (vs 1 client)`,
      value: percentile(idle, 99),
      unit: "ms",
      baseline: percentile(base, 99),
      note: idleNote,
    },
    {
      name: `/api/status p50, ${STATUS_CLIENTS} clients while a run streams its log (vs 1 client, no run)`,
      value: streamed ? percentile(load, 50) : NaN,
      unit: "ms",
      baseline: percentile(base, 50),
      note,
    },
    {
      name: `/api/status p99, ${STATUS_CLIENTS} clients while a run streams its log (vs 1 client, no run)`,
      value: streamed ? percentile(load, 99) : NaN,
      unit: "ms",
      baseline: percentile(base, 99),
      note,
    },
    {
      name: `/api/status requests failed, ${STATUS_CLIENTS} clients (no run and while a run streams its log)`,
      value: idleLoad.failed + streamLoad.failed,
      unit: "requests",
      note: `of ${2 * STATUS_CLIENTS * perClient} (a reset connection or not 200; the details on stderr); ${NOISE}`,
    },
  ];
}

/** A check figure: the count when 0, NaN (a failed repetition) otherwise, with the detail on stderr. */
function check(name: string, bad: string[], note: string): BenchResult {
  if (bad.length) process.stderr.write(`cockpit bench: ${name}: ${bad.length}: ${bad.join("; ")}\n`);
  return { name, value: bad.length === 0 ? 0 : NaN, unit: "violations", note };
}

async function simultaneousUps(e: Env): Promise<BenchResult[]> {
  const opMs = Number(process.env.G8OS_BENCH_COCKPIT_UP_MS ?? 50);
  const engine = new StreamingEngine(opMs, 10);
  const c = await e.cockpit(engine);
  let t0 = performance.now();
  await post(c.url, e.op, { stack: "dev", kind: "up" });
  await c.manager.idle();
  const one = performance.now() - t0;
  const firstIds = new Set((await runs(c.url, e.viewer)).map((r) => r.id));

  t0 = performance.now();
  const replies = await Promise.all(
    Array.from({ length: UPS }, () => post(c.url, e.op, { stack: "dev", kind: "up" })),
  );
  await c.manager.idle();
  const all = performance.now() - t0;

  const bad = { overlap: [] as string[], lost: [] as string[], order: [] as string[] };
  for (const r of replies) if (r.status !== 202) bad.lost.push(`POST answered ${r.status}`);
  const asked = replies
    .filter((r) => r.status === 202)
    .sort((a, b) => a.json.position - b.json.position)
    .map((r) => r.json.run.id);
  const records = (await runs(c.url, e.viewer)).filter((r) => !firstIds.has(r.id));
  const byId = new Map(records.map((r) => [r.id, r]));
  for (const id of asked) {
    const r = byId.get(id);
    if (!r) bad.lost.push(`${id} not in the history`);
    else if (r.state !== "succeeded" || !r.startedAt || !r.finishedAt) bad.lost.push(`${id} ${r.state}`);
  }
  const started = asked
    .map((id) => byId.get(id))
    .filter((r): r is RunRecord => !!r?.startedAt && !!r.finishedAt)
    .sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!));
  for (let i = 1; i < started.length; i++) {
    if (Date.parse(started[i].startedAt!) < Date.parse(started[i - 1].finishedAt!)) {
      bad.overlap.push(`${started[i].id} started before ${started[i - 1].id} finished`);
    }
  }
  // The engine's own view too: at most one operation of the stack at any time.
  const ops = engine.ops.slice(1).sort((a, b) => a.start - b.start);
  for (let i = 1; i < ops.length; i++) {
    if (ops[i].start < (ops[i - 1].end ?? Infinity))
      bad.overlap.push(`engine operations ${i - 1} and ${i} overlap`);
  }
  started.forEach((r, i) => {
    if (r.id !== asked[i]) bad.order.push(`position ${asked.indexOf(r.id)} started ${i + 1}th`);
  });
  const note = `${UPS} POST /api/runs at once on one stack, each up ${opMs} ms in the bench engine; checked from the run records; ${NOISE}`;
  return [
    {
      name: `${UPS} simultaneous ups on one stack, wall time (vs 1 up)`,
      value: all,
      unit: "ms",
      baseline: one,
      note: `${note}; ideal ratio ${UPS}`,
    },
    check(`${UPS} simultaneous ups: runs overlapping`, bad.overlap, note),
    check(`${UPS} simultaneous ups: runs lost`, bad.lost, note),
    check(`${UPS} simultaneous ups: runs started out of order`, bad.order, note),
  ];
}

/** Most requests of `at` times within any 60 s window. */
function maxPerMinute(at: number[]): number {
  const t = [...at].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= 60_000) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

async function until(f: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Figures of one sender under the storm, from the fake's request log. */
function stormFigures(
  what: string,
  tg: TelegramFaultFake,
  since: number,
  expected: string[],
  stormEnd: number,
  note: string,
): BenchResult[] {
  const sends = tg.requests.filter((r) => r.method === "sendMessage" && r.at >= since);
  const ok = sends.filter((r) => r.status === 200 && String(r.body.chat_id) === String(GROUP));
  const texts = ok.map((r) => String(r.body.text));
  const lost = expected.filter((k) => !texts.some((t) => t.includes(k)));
  const perMinute = maxPerMinute(ok.map((r) => r.at));
  const drain = ok.length ? Math.max(0, Math.max(...ok.map((r) => r.at)) - stormEnd) : NaN;
  return [
    {
      name: `${what}: messages delivered / expected`,
      value: (expected.length - lost.length) / expected.length,
      unit: "ratio",
      note: `${expected.length} expected (each run id or app must reach the group); ${sends.length} sendMessage attempts, ${ok.length} delivered messages; ${note}`,
    },
    check(
      `${what}: messages lost`,
      lost.map((k) => `${k} never delivered`),
      note,
    ),
    {
      name: `${what}: most messages delivered to the group in 60 s`,
      value: perMinute,
      unit: "msg/min",
      note: `limit ${TELEGRAM_LIMIT}; attempts (429s included) at most ${maxPerMinute(sends.map((r) => r.at))} in 60 s; ${note}`,
    },
    check(
      `${what}: over ${TELEGRAM_LIMIT} messages a minute`,
      perMinute > TELEGRAM_LIMIT ? [`${perMinute} in 60 s`] : [],
      note,
    ),
    {
      name: `${what}: time to drain after the storm`,
      value: lost.length ? NaN : drain,
      unit: "ms",
      note: `from the storm's end to the last delivered message; ${note}`,
    },
  ];
}

async function stormRobot(
  e: Env,
  tg: TelegramFaultFake,
  stormMs: number,
  retryAfter: number,
): Promise<BenchResult[]> {
  const total = Number(process.env.G8OS_BENCH_COCKPIT_STORM_RUNS ?? 12);
  const engine = new StreamingEngine(100, 20, (n) => n % 3 === 2);
  const c = await e.cockpit(
    engine,
    { robot: { chatId: GROUP, apiRoot: tg.apiRoot, pollSeconds: 0, maxMessagesPerMinute: TELEGRAM_LIMIT } },
    1000,
  );
  const since = Date.now();
  tg.always({ kind: "rateLimit", retryAfter });
  const stormEnd = Date.now() + stormMs;
  const timer = setTimeout(() => tg.always(undefined), stormMs);
  const ids: string[] = [];
  for (let i = 0; i < total; i++)
    ids.push((await post(c.url, e.op, { stack: "dev", kind: "up" })).json.run.id);
  await c.manager.idle();
  await new Promise((r) => setTimeout(r, Math.max(0, stormEnd - Date.now())));
  clearTimeout(timer);
  tg.always(undefined);
  const delivered = (): boolean => {
    const texts = tg.requests
      .filter((r) => r.status === 200 && r.method === "sendMessage")
      .map((r) => String(r.body.text));
    return ids.every((id) => texts.some((t) => t.includes(id)));
  };
  await until(delivered, 90_000);
  const failures = engine.ops.filter((_, n) => n % 3 === 2).length;
  return stormFigures(
    `robot group posts under a ${stormMs / 1000} s 429 storm`,
    tg,
    since,
    ids,
    stormEnd,
    `${total} ups (${failures} failing: urgent posts; the rest routine digest lines, flushed every 1 s) asked during a ${stormMs / 1000} s storm of 429 retry_after ${retryAfter}; ${NOISE}`,
  );
}

async function stormBuildReport(
  tg: TelegramFaultFake,
  stormMs: number,
  retryAfter: number,
): Promise<BenchResult[]> {
  const apps = Array.from({ length: 10 }, (_, i) => ({ app: `bench-app-${i}`, passed: i % 4 !== 1 }));
  // As workflows/app-test/report.ts builds them.
  const notifier = new TelegramNotifier(
    { token: TOKEN, chatId: GROUP, apiRoot: tg.apiRoot },
    { label: "AppTest bench Telegram report", secrets: [] },
  );
  const digest = new TelegramDigest(notifier, { flushIntervalMs: 0 });
  const errors: string[] = [];
  const since = Date.now();
  tg.always({ kind: "rateLimit", retryAfter });
  const stormEnd = Date.now() + stormMs;
  const timer = setTimeout(() => tg.always(undefined), stormMs);
  try {
    for (const a of apps) {
      await new Promise((r) => setTimeout(r, 200)); // an app's test finishing
      digest.add(
        `${a.passed ? "✅" : "❌"} ${a.app} (build b1) on node-1: tests ${a.passed ? "passed" : "failed"}`,
      );
      if (!a.passed) {
        await digest
          .urgent(`🚨 TEST FAILURE: app ${a.app} (build b1) on node-1 (alert)`)
          .catch((err) => errors.push(String(err)));
      }
    }
    await digest.close().catch((err) => errors.push(String(err)));
  } finally {
    await new Promise((r) => setTimeout(r, Math.max(0, stormEnd - Date.now())));
    clearTimeout(timer);
    tg.always(undefined);
  }
  const expected = [
    ...apps.map((a) => `${a.app} (build b1)`),
    ...apps.filter((a) => !a.passed).map((a) => `app ${a.app} (build b1) on node-1 (alert)`),
  ];
  return stormFigures(
    `build report under a ${stormMs / 1000} s 429 storm`,
    tg,
    since,
    expected,
    stormEnd,
    `AppTest's report path (notifier + digest, flushIntervalMs 0, close at the end) for 10 apps (3 failing: urgent alerts) finishing 200 ms apart during a ${stormMs / 1000} s storm of 429 retry_after ${retryAfter}; ${errors.length} send error(s) reported to the run; ${NOISE}`,
  );
}

export async function run(): Promise<BenchResult[]> {
  // A storm within one send's retries (4 attempts, retry_after apart), and one far longer.
  const storms = [
    Number(process.env.G8OS_BENCH_COCKPIT_STORM_MS ?? 8000),
    Number(process.env.G8OS_BENCH_COCKPIT_LONG_STORM_MS ?? 60000),
  ];
  const retryAfter = Number(process.env.G8OS_BENCH_COCKPIT_RETRY_AFTER ?? 2);
  const out: BenchResult[] = [];
  await withScope(async (s) => {
    const e = await env(s);
    out.push(...(await statusLatency(e)));
    out.push(...(await simultaneousUps(e)));
  });
  for (const stormMs of storms) {
    await withScope(async (s) => {
      const e = await env(s);
      const tg = await s.add(startTelegramFaultFake({ token: TOKEN, chats: [GROUP] }), (t) => t.stop());
      out.push(...(await stormRobot(e, tg, stormMs, retryAfter)));
    });
    await withScope(async (s) => {
      const tg = await s.add(startTelegramFaultFake({ token: TOKEN, chats: [GROUP] }), (t) => t.stop());
      out.push(...(await stormBuildReport(tg, stormMs, retryAfter)));
    });
  }
  return out;
}

if (require.main === module) {
  run().then(
    (r) => console.table(r.map(({ name, value, unit, baseline }) => ({ name, value, unit, baseline }))),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
