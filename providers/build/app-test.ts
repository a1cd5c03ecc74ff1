/**
 * AppTest: tests built apps in core0 containers, in parallel across the available core0 nodes.
 *
 * For every app: create a container from its plist on a node, start its processes
 * (`corex.dispatch`), run its tests one after another (dispatch, wait for the result, compare exit
 * code and output with what the test expects), record the results, and terminate the container,
 * always, even when a step fails (a container whose create answer was lost is found again by its
 * run tag and terminated too: nothing is left behind).
 *
 * Decisions:
 * - Placement: one shared queue of apps, `maxPerNode` workers per node pulling from it (workers
 *   start interleaved across nodes). A busy node takes no new app until one of its slots frees, so
 *   the spread follows the real load (least-loaded), and `apps.length` beyond the slots waits.
 * - A process counts as started when `job.list` on the node shows it right after its dispatch, or
 *   when it already ended with SUCCESS (a setup step). One that ended otherwise, checked right after
 *   the start and again after the tests, is a failure (`<app>/process <name>: ...`). A process a
 *   test names in `process` must still run after that test.
 * - diff: only an app's `buildId`, plist, processes, tests or resources (its fingerprint) trigger a
 *   run; nodes, passwords, `maxPerNode` and the Telegram connection do not. An update re-runs only
 *   the apps whose fingerprint changed or that failed last time, and keeps the other results. So a
 *   no-op `up` runs nothing.
 * - A failed test fails the resource with an error naming each app and test, after recording the
 *   results (partial create): the next `up` re-runs the failed apps even if nothing changed.
 * - Telegram (optional): one routine digest line per app (TelegramDigest keeps the group within
 *   its limits), and a failure is sent urgent at once, as soon as that app finished. A Telegram
 *   failure never fails the tests (reported in `telegramErrors` and, when tests failed, in the error).
 * - read returns the recorded results (a test run is history: nothing to read back); delete does
 *   nothing (the containers are gone when create returns).
 */
import * as pulumi from "@pulumi/pulumi";
import {
  type CheckFailure,
  errorMessage,
  InputError,
  OperationError,
  redact,
  resourceLabel,
} from "../shared/errors";
import { containsUnknown, partialCreateError, plainOutputs } from "../shared/dynamic";
import { collectFailures, hostname, httpUrl, intInRange, nonEmptyString } from "../shared/validate";
import { retry } from "../shared/retry";
import { Core0Client, type Core0Result } from "../core0/client";
import { type TelegramConnection, TelegramDigest, TelegramNotifier } from "../telegram/client";

/** A process the app runs in its container (a daemon, or a setup step that ends with exit 0). */
export interface ContainerProcess {
  name: string;
  /** Program (path inside the container, or on its PATH). */
  command: string;
  args?: string[];
  env?: Record<string, string>;
  /** Working directory inside the container root. */
  cwd?: string;
}

/** One test of an app: a program run in the app's container and what its result must be. */
export interface AppTestCase {
  name: string;
  /** Program and arguments, e.g. `{ command: "sh", args: ["-c", "redis-cli ping"] }`. */
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Name of a process (see ContainerProcess) that must still be running when the test ends. */
  process?: string;
  /** Exit code the test must end with. Default 0. */
  expectExitCode?: number;
  /** Regular expression (JavaScript syntax) that stdout + stderr (trailing newlines dropped) must match. */
  expectOutput?: string;
  /** Seconds before core0 kills the test (state TIMEOUT = failed). Default 60. */
  timeoutSeconds?: number;
}

/** An app to test: where its root filesystem comes from, what to start, what to check. */
export interface AppUnderTest {
  app: string;
  /** The build that made the plist; a new id re-runs the tests. */
  buildId: string;
  /** URL core0 fetches the plist from (`file:///...` on the node, or http(s)). */
  plistUrl?: string;
  /** Or the plist's IPFS CID: the URL is then `<node ipfsGateway>/ipfs/<cid>` on each node. */
  plistCid?: string;
  processes?: ContainerProcess[];
  tests: AppTestCase[];
  /** What the app needs; informative (core0 v0.9 sets no container limits). */
  resources?: { memoryMb?: number; cpu?: number };
}

/** A core0 node the tests may use. `password` is secret. */
export interface TestNode {
  address: string;
  /** Default 6379. */
  port?: number;
  password: string;
  /** HTTP(S) IPFS gateway the node reaches, for apps given by `plistCid`. */
  ipfsGateway?: string;
}

export interface AppTestInputs {
  name: string;
  apps: AppUnderTest[];
  nodes: TestNode[];
  /** Apps tested at once on one node. Default 2. */
  maxPerNode?: number;
  /** Where to report (optional, secret). */
  telegram?: TelegramConnection;
  /** Shown in the Telegram reports, e.g. the build run id. */
  runLabel?: string;
}

export interface TestCaseResult {
  name: string;
  passed: boolean;
  durationMs: number;
  /** Exit code, or -1 when unknown (no result, or core0 did not report one). */
  exitCode: number;
  /** core0 job state (SUCCESS, ERROR, TIMEOUT...) or NO_RESULT. */
  state: string;
  /** Last lines of stdout + stderr. */
  outputTail: string;
  /** Why it failed; empty when passed. */
  reason: string;
}

export interface AppTestResult {
  app: string;
  buildId: string;
  /** sha256 of what decides whether the app must be tested again. */
  fingerprint: string;
  /** `address:port` of the node it ran on. */
  node: string;
  passed: boolean;
  /** Failures other than tests (container, process start, cleanup), as `<what>: <reason>`. */
  errors: string[];
  tests: TestCaseResult[];
  durationMs: number;
}

export interface AppTestOutputs {
  name: string;
  passed: boolean;
  /** Every failure as `<app>/<test>: <reason>`. */
  failures: string[];
  /** One per app, in the order of the `apps` input. */
  results: AppTestResult[];
  telegramErrors: string[];
}

const KIND = "AppTest";
const OUTPUT_TAIL_CHARS = 1500;
const DEFAULT_TEST_TIMEOUT_S = 60;

function label(i: { name?: unknown }): string {
  return resourceLabel(KIND, typeof i.name === "string" ? i.name : "?");
}

function sha256(text: string): string {
  const crypto = require("crypto") as typeof import("crypto");
  return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}

/** What decides whether an app must be tested again. */
export function appFingerprint(a: AppUnderTest): string {
  return sha256(
    JSON.stringify({
      buildId: a.buildId,
      plistUrl: a.plistUrl ?? "",
      plistCid: a.plistCid ?? "",
      processes: a.processes ?? [],
      tests: a.tests,
      resources: a.resources ?? {},
    }),
  );
}

function nodeName(n: TestNode): string {
  return `${n.address}:${n.port ?? 6379}`;
}

/** The URL `node` fetches `app`'s plist from. */
export function plistUrlOn(app: AppUnderTest, node: TestNode): string {
  if (app.plistUrl) return app.plistUrl;
  return `${(node.ipfsGateway ?? "").replace(/\/+$/, "")}/ipfs/${app.plistCid}`;
}

const stringList = (v: unknown): string | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : "must be a list of strings";
const stringMap = (v: unknown): string | undefined =>
  v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string")
    ? undefined
    : "must be a map of strings";
const regex = (v: unknown): string | undefined => {
  if (typeof v !== "string") return "must be a regular expression (string)";
  try {
    new RegExp(v);
    return undefined;
  } catch (err) {
    return `is not a valid regular expression (${errorMessage(err)})`;
  }
};
const appName = (v: unknown): string | undefined =>
  typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(v)
    ? undefined
    : "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit";

/** `check` failures for AppTest inputs; unknown (preview) values are skipped. */
export function checkAppTestInputs(i: Partial<AppTestInputs>): CheckFailure[] {
  const failures = collectFailures([
    { path: "name", value: i.name, check: nonEmptyString },
    { path: "maxPerNode", value: i.maxPerNode, check: intInRange(1, 64), optional: true },
    {
      path: "apps",
      value: i.apps,
      check: (v) => (Array.isArray(v) ? undefined : "must be a list of apps to test"),
    },
    {
      path: "nodes",
      value: i.nodes,
      check: (v) =>
        Array.isArray(v) && v.length > 0 ? undefined : "must list at least one core0 node to test on",
    },
  ]);
  const nodes = Array.isArray(i.nodes) && !containsUnknown(i.nodes) ? i.nodes : undefined;
  (nodes ?? []).forEach((n, k) => {
    failures.push(
      ...collectFailures([
        { path: `nodes[${k}].address`, value: n?.address, check: hostname },
        { path: `nodes[${k}].port`, value: n?.port, check: intInRange(1, 65535), optional: true },
        { path: `nodes[${k}].password`, value: n?.password, check: nonEmptyString },
        { path: `nodes[${k}].ipfsGateway`, value: n?.ipfsGateway, check: httpUrl, optional: true },
      ]),
    );
  });
  if (!Array.isArray(i.apps) || containsUnknown(i.apps)) return failures;
  const seen: string[] = [];
  i.apps.forEach((a, k) => {
    const p = `apps[${k}]`;
    failures.push(
      ...collectFailures([
        { path: `${p}.app`, value: a?.app, check: appName },
        { path: `${p}.buildId`, value: a?.buildId, check: nonEmptyString },
        {
          path: `${p}.tests`,
          value: a?.tests,
          check: (v) => (Array.isArray(v) ? undefined : "must be a list"),
        },
      ]),
    );
    if (typeof a?.app === "string") {
      if (seen.includes(a.app))
        failures.push({ property: `${p}.app`, reason: `app ${a.app} is listed twice: test each app once` });
      seen.push(a.app);
    }
    if (!a?.plistUrl && !a?.plistCid) {
      failures.push({
        property: `${p}.plistUrl`,
        reason: "give plistUrl, or plistCid with nodes[].ipfsGateway",
      });
    } else if (a.plistUrl && !/^(file:\/\/\/|https?:\/\/)\S+$/.test(a.plistUrl)) {
      failures.push({
        property: `${p}.plistUrl`,
        reason: "must be a file:///path or http(s):// URL of a plist",
      });
    } else if (!a.plistUrl) {
      (nodes ?? []).forEach((n, nk) => {
        if (!n?.ipfsGateway)
          failures.push({
            property: `nodes[${nk}].ipfsGateway`,
            reason: `is required: app ${a.app} is given by plistCid, so every node fetches it through a gateway`,
          });
      });
    }
    const procNames = (a?.processes ?? []).map((x) => x?.name);
    (a?.processes ?? []).forEach((proc, pk) => {
      failures.push(
        ...collectFailures([
          { path: `${p}.processes[${pk}].name`, value: proc?.name, check: nonEmptyString },
          { path: `${p}.processes[${pk}].command`, value: proc?.command, check: nonEmptyString },
          { path: `${p}.processes[${pk}].args`, value: proc?.args, check: stringList, optional: true },
          { path: `${p}.processes[${pk}].env`, value: proc?.env, check: stringMap, optional: true },
        ]),
      );
    });
    (Array.isArray(a?.tests) ? a.tests : []).forEach((t, tk) => {
      const tp = `${p}.tests[${tk}]`;
      failures.push(
        ...collectFailures([
          { path: `${tp}.name`, value: t?.name, check: nonEmptyString },
          { path: `${tp}.command`, value: t?.command, check: nonEmptyString },
          { path: `${tp}.args`, value: t?.args, check: stringList, optional: true },
          { path: `${tp}.env`, value: t?.env, check: stringMap, optional: true },
          {
            path: `${tp}.expectExitCode`,
            value: t?.expectExitCode,
            check: intInRange(0, 255),
            optional: true,
          },
          { path: `${tp}.expectOutput`, value: t?.expectOutput, check: regex, optional: true },
          {
            path: `${tp}.timeoutSeconds`,
            value: t?.timeoutSeconds,
            check: intInRange(1, 86400),
            optional: true,
          },
        ]),
      );
      if (t?.process !== undefined && !procNames.includes(t.process)) {
        failures.push({
          property: `${tp}.process`,
          reason: `names process ${t.process}, which app ${a.app} does not start (it starts: ${procNames.join(", ") || "none"})`,
        });
      }
    });
  });
  return failures;
}

function tail(text: string, max = OUTPUT_TAIL_CHARS): string {
  const t = text.trim();
  return t.length <= max ? t : "…" + t.slice(t.length - max);
}

function streamsOf(r: Core0Result): { stdout: string; stderr: string } {
  const s = Array.isArray(r.streams) ? r.streams : [];
  return { stdout: s[0] ?? "", stderr: s[1] ?? "" };
}

/** Judges one test result against the test's expectations; returns the reason it failed, or "". */
export function judgeTest(t: AppTestCase, r: Core0Result): { exitCode: number; reason: string } {
  const want = t.expectExitCode ?? 0;
  // core0 v0.9 reports no exit code: SUCCESS means 0, ERROR some other code.
  const exitCode = typeof r.code === "number" ? r.code : r.state === "SUCCESS" ? 0 : -1;
  if (r.state === "TIMEOUT" || r.state === "KILLED") {
    return { exitCode, reason: `${r.state === "TIMEOUT" ? "timed out" : "was killed"} (state ${r.state})` };
  }
  if (r.state !== "SUCCESS" && r.state !== "ERROR")
    return { exitCode, reason: `core0 answered state ${r.state}: ${r.data}` };
  const exitOk = exitCode === -1 ? want !== 0 && r.state === "ERROR" : exitCode === want;
  if (!exitOk) {
    return { exitCode, reason: `exit code ${exitCode === -1 ? "non-zero" : exitCode}, expected ${want}` };
  }
  if (t.expectOutput !== undefined) {
    const { stdout, stderr } = streamsOf(r);
    // Trailing newlines dropped, so `^3$` matches a program that prints "3\n" (as the tree docs show).
    const output = [stdout, stderr]
      .map((s) => s.replace(/\n+$/, ""))
      .filter((s) => s !== "")
      .join("\n");
    if (!new RegExp(t.expectOutput).test(output)) {
      return { exitCode, reason: `output does not match /${t.expectOutput}/` };
    }
  }
  return { exitCode, reason: "" };
}

interface RunContext {
  label: string;
  /** Tag every container of this run carries, to find one whose create answer was lost. */
  runTag: string;
  secrets: string[];
  onAppDone: (r: AppTestResult) => Promise<void>;
}

async function runningJobIds(client: Core0Client): Promise<string[]> {
  return (await client.job.list()).map((j) => j.cmd?.id).filter((x): x is string => typeof x === "string");
}

/** Tests one app on one node; never throws (every failure is recorded in the result). */
async function testApp(
  client: Core0Client,
  node: TestNode,
  app: AppUnderTest,
  ctx: RunContext,
): Promise<AppTestResult> {
  const started = Date.now();
  const result: AppTestResult = {
    app: app.app,
    buildId: app.buildId,
    fingerprint: appFingerprint(app),
    node: nodeName(node),
    passed: false,
    errors: [],
    tests: [],
    durationMs: 0,
  };
  const clean = (s: string): string => redact(s, ctx.secrets);
  const appTag = `g8os-apptest-${app.app}`;
  let containerId: number | undefined;
  try {
    containerId = await client.corex.create(
      { root: plistUrlOn(app, node), hostname: app.app.replace(/[^A-Za-z0-9-]/g, "-") },
      ["g8os-apptest", appTag, ctx.runTag],
      { timeoutMs: 300_000 },
    );
    const jobs: Record<string, string> = {};
    for (const p of app.processes ?? []) {
      jobs[p.name] = await client.corex.dispatch(containerId, {
        command: "core.system",
        arguments: { name: p.command, args: p.args ?? [], dir: p.cwd ?? "", env: p.env ?? {}, stdin: "" },
        tags: [appTag, `process-${p.name}`],
      });
    }
    const reported: string[] = [];
    // A process that already ended must have ended well; checked after the start and after the tests.
    const checkProcesses = async (when: string): Promise<void> => {
      const pending = Object.entries(jobs).filter(([name]) => !reported.includes(name));
      if (pending.length === 0) return;
      const running = await runningJobIds(client);
      for (const [name, id] of pending) {
        if (running.includes(id)) continue;
        const r = await client.result(id, { timeoutMs: 10_000, command: `process ${name}` });
        if (r.state === "SUCCESS") continue;
        reported.push(name);
        const { stderr } = streamsOf(r);
        result.errors.push(
          clean(
            `process ${name}: ${when} (state ${r.state}${typeof r.code === "number" ? `, exit code ${r.code}` : ""}${stderr.trim() ? `: ${tail(stderr, 300)}` : ""})`,
          ),
        );
      }
    };
    await checkProcesses("did not start");
    for (const t of app.tests) {
      const t0 = Date.now();
      const timeout = t.timeoutSeconds ?? DEFAULT_TEST_TIMEOUT_S;
      let tr: TestCaseResult;
      try {
        const r = await client.corex.dispatchAndWait(
          containerId,
          {
            command: "core.system",
            arguments: { name: t.command, args: t.args ?? [], dir: t.cwd ?? "", env: t.env ?? {}, stdin: "" },
            max_time: timeout,
            tags: [appTag, `test-${t.name}`],
          },
          // core0 kills the test after max_time; the extra margin is for the result to arrive.
          { timeoutMs: (timeout + 30) * 1000 },
        );
        const { stdout, stderr } = streamsOf(r);
        const judged = judgeTest(t, r);
        let reason = judged.reason;
        if (
          !reason &&
          t.process &&
          jobs[t.process] &&
          !(await runningJobIds(client)).includes(jobs[t.process])
        ) {
          reason = `process ${t.process} is no longer running after the test`;
        }
        tr = {
          name: t.name,
          passed: reason === "",
          durationMs: r.time > 0 ? r.time : Date.now() - t0,
          exitCode: judged.exitCode,
          state: r.state,
          outputTail: clean(tail(`${stdout}${stderr ? `\n${stderr}` : ""}`)),
          reason: clean(reason),
        };
      } catch (err) {
        tr = {
          name: t.name,
          passed: false,
          durationMs: Date.now() - t0,
          exitCode: -1,
          state: "NO_RESULT",
          outputTail: "",
          reason: clean(errorMessage(err)),
        };
      }
      result.tests.push(tr);
    }
    await checkProcesses("exited during the tests");
  } catch (err) {
    result.errors.push(clean(`container on ${nodeName(node)}: ${errorMessage(err)}`));
  } finally {
    try {
      await retry(
        async () => {
          // A create whose answer was lost still left a container: find it by this run's tags.
          const ids =
            containerId !== undefined
              ? [containerId]
              : Object.keys(await client.corex.find([appTag, ctx.runTag])).map(Number);
          for (const id of ids) await client.corex.terminate(id);
          containerId = undefined;
        },
        { attempts: 3, minDelayMs: 500 },
      );
    } catch (err) {
      result.errors.push(
        clean(
          `cleanup: container ${containerId ?? "(tagged " + ctx.runTag + ")"} on ${nodeName(node)} could not be terminated: ${errorMessage(err)}; terminate it by hand (corex.terminate)`,
        ),
      );
    }
  }
  result.passed = result.errors.length === 0 && result.tests.every((t) => t.passed);
  result.durationMs = Date.now() - started;
  return result;
}

/**
 * Tests `apps` across `nodes`, at most `maxPerNode` at once per node, and returns one result per
 * app in the order of `apps`. Plain function (no Pulumi): usable from scripts, tests and benchmarks.
 */
export async function runAppTests(
  apps: AppUnderTest[],
  nodes: TestNode[],
  opts: { maxPerNode?: number; label?: string; onAppDone?: (r: AppTestResult) => Promise<void> } = {},
): Promise<AppTestResult[]> {
  const crypto = require("crypto") as typeof import("crypto");
  const ctx: RunContext = {
    label: opts.label ?? KIND,
    runTag: `g8os-apptest-run-${crypto.randomUUID()}`,
    secrets: nodes.map((n) => n.password),
    onAppDone: opts.onAppDone ?? (async () => undefined),
  };
  const clients = nodes.map(
    (n) =>
      new Core0Client({ host: n.address, port: n.port ?? 6379, password: n.password, timeoutMs: 60_000 }),
  );
  const results: AppTestResult[] = new Array(apps.length);
  let next = 0;
  const worker = async (k: number): Promise<void> => {
    while (next < apps.length) {
      const index = next++;
      const r = await testApp(clients[k], nodes[k], apps[index], ctx);
      results[index] = r;
      await ctx.onAppDone(r);
    }
  };
  const slots = Math.max(1, opts.maxPerNode ?? 2);
  const workers: Promise<void>[] = [];
  // Interleaved (node 0, node 1, node 0, ...) so the first apps spread over all nodes.
  for (let s = 0; s < slots; s++) for (let k = 0; k < nodes.length; k++) workers.push(worker(k));
  try {
    await Promise.all(workers);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return results;
}

/** Every failure of `results` as `<app>/<test>: <reason>` (and `<app>/<what>: ...` for non-tests). */
export function failuresOf(results: AppTestResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    for (const e of r.errors) out.push(`${r.app}/${e}`);
    for (const t of r.tests) if (!t.passed) out.push(`${r.app}/${t.name}: ${t.reason}`);
  }
  return out;
}

function reportLine(r: AppTestResult): string {
  const passed = r.tests.filter((t) => t.passed).length;
  const secs = (r.durationMs / 1000).toFixed(1);
  return `${r.passed ? "✅" : "❌"} ${r.app} (build ${r.buildId}) on ${r.node}: ${passed}/${r.tests.length} tests passed in ${secs} s`;
}

function alertText(i: AppTestInputs, r: AppTestResult): string {
  const lines = failuresOf([r]).map((f) => `• ${f}`);
  return [
    `🚨 TEST FAILURE${i.runLabel ? ` in build run ${i.runLabel}` : ""}: app ${r.app} (build ${r.buildId}) on ${r.node}`,
    ...lines,
    "Nothing will be released to the templates repo until this is fixed.",
  ].join("\n");
}

/** Runs the tests and reports on Telegram; returns the outputs for `apps` (old results kept). */
async function runAndReport(
  i: AppTestInputs,
  toRun: AppUnderTest[],
  keep: AppTestResult[],
): Promise<AppTestOutputs> {
  const telegramErrors: string[] = [];
  let digest: TelegramDigest | undefined;
  if (i.telegram) {
    const notifier = new TelegramNotifier(i.telegram, {
      label: `${label(i)} Telegram report`,
      secrets: i.nodes.map((n) => n.password),
    });
    digest = new TelegramDigest(notifier, { flushIntervalMs: 0 });
  }
  const results = await runAppTests(toRun, i.nodes, {
    maxPerNode: i.maxPerNode,
    label: label(i),
    onAppDone: async (r) => {
      if (!digest) return;
      digest.add(reportLine(r));
      if (!r.passed) {
        // At once, with sound: the whole group must know. A failed send stays queued in the digest.
        await digest.urgent(alertText(i, r)).catch((err) => telegramErrors.push(errorMessage(err)));
      }
    },
  });
  if (digest) {
    await digest.close().catch((err) => telegramErrors.push(errorMessage(err)));
  }
  const byApp = (a: string): AppTestResult | undefined =>
    results.find((r) => r.app === a) ?? keep.find((r) => r.app === a);
  const ordered = i.apps.map((a) => byApp(a.app)).filter((r): r is AppTestResult => !!r);
  const failures = failuresOf(ordered);
  return plainOutputs({
    name: i.name,
    passed: failures.length === 0,
    failures,
    results: ordered,
    telegramErrors,
  } as unknown as Record<string, unknown>) as unknown as AppTestOutputs;
}

function failIfFailed(i: AppTestInputs, id: string, outs: AppTestOutputs): void {
  if (outs.passed) return;
  const notes =
    outs.telegramErrors.length > 0 ? ` (Telegram alert failed too: ${outs.telegramErrors[0]})` : "";
  const err = new OperationError(
    label(i),
    "app tests",
    `${outs.failures.length} failure(s): ${outs.failures.join("; ")}${notes}`,
    "the apps' build and test definitions in the build tree; the next up re-runs the failed apps",
  );
  throw partialCreateError(err, id, outs as unknown as Record<string, unknown>);
}

/** The apps that must be tested (again): new, changed (fingerprint) or failed last time. */
export function staleApps(recorded: AppTestResult[], apps: AppUnderTest[]): AppUnderTest[] {
  return apps.filter((a) => {
    const prev = recorded.find((r) => r.app === a.app);
    return !prev || !prev.passed || prev.fingerprint !== appFingerprint(a);
  });
}

function normalise(i: AppTestInputs): AppTestInputs {
  return { ...i, apps: i.apps ?? [], nodes: i.nodes ?? [] };
}

export const appTestProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: AppTestInputs, news: AppTestInputs) {
    return { inputs: news, failures: checkAppTestInputs(news) };
  },

  async diff(_id: string, olds: AppTestOutputs, news: AppTestInputs) {
    if (containsUnknown(news.apps)) return { changes: true, replaces: [], deleteBeforeReplace: false };
    const old = olds.results ?? [];
    const removed = old.some((r) => !(news.apps ?? []).some((a) => a.app === r.app));
    const changes = staleApps(old, news.apps ?? []).length > 0 || removed || olds.name !== news.name;
    return { changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: AppTestInputs) {
    const i = normalise(inputs);
    const crypto = require("crypto") as typeof import("crypto");
    const id = `apptest-${i.name}-${crypto.randomUUID().slice(0, 8)}`;
    const outs = await runAndReport(i, i.apps, []);
    failIfFailed(i, id, outs);
    return { id, outs };
  },

  async read(id: string, props: AppTestOutputs) {
    return { id, props };
  },

  async update(id: string, olds: AppTestOutputs, news: AppTestInputs) {
    const i = normalise(news);
    const old = olds.results ?? [];
    const outs = await runAndReport(i, staleApps(old, i.apps), old);
    failIfFailed(i, id, outs);
    return { outs };
  },

  async delete() {
    // The containers were terminated when the tests ended; a test run is history.
  },
};

export interface AppTestArgs {
  /** Apps to test: plist (URL or CID), processes, tests, build id. */
  apps: pulumi.Input<pulumi.Input<AppUnderTest>[]>;
  /** core0 nodes to spread the apps over (passwords are wrapped as secrets). */
  nodes: pulumi.Input<pulumi.Input<TestNode>[]>;
  /** Apps tested at once on one node. Default 2. */
  maxPerNode?: pulumi.Input<number>;
  /** Telegram build group for per-app results and urgent failure alerts (wrapped as a secret). */
  telegram?: pulumi.Input<{
    token: pulumi.Input<string>;
    chatId: pulumi.Input<string | number>;
    topicId?: pulumi.Input<number>;
    apiRoot?: pulumi.Input<string>;
  }>;
  /** Shown in the reports (e.g. the build run id). */
  runLabel?: pulumi.Input<string>;
}

/** Tests apps in core0 containers; fails (after recording the results) when any test fails. */
export class AppTest extends pulumi.dynamic.Resource {
  declare readonly passed: pulumi.Output<boolean>;
  declare readonly failures: pulumi.Output<string[]>;
  declare readonly results: pulumi.Output<AppTestResult[]>;
  declare readonly telegramErrors: pulumi.Output<string[]>;

  constructor(name: string, args: AppTestArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.nodes) {
      throw new InputError(
        resourceLabel(KIND, name),
        "nodes",
        "is missing",
        "pass the core0 nodes to test on",
      );
    }
    super(
      appTestProvider,
      name,
      {
        name,
        apps: args.apps,
        nodes: pulumi.secret(args.nodes),
        maxPerNode: args.maxPerNode,
        telegram: args.telegram === undefined ? undefined : pulumi.secret(args.telegram),
        runLabel: args.runLabel,
        passed: undefined,
        failures: undefined,
        results: undefined,
        telegramErrors: undefined,
      },
      opts,
      "build",
      "AppTest",
    );
  }
}
