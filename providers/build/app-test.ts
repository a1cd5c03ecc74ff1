/**
 * AppTest: tests built apps in core0 containers, in parallel across the available core0 nodes.
 *
 * For every app: create a container from its plist on a node (`corex.create`, core0 v0.9.0
 * arguments: `root` only), start its processes (`corex.dispatch`), run its tests one after another
 * (dispatch, wait for the result, compare exit state and output with what the test expects), record
 * the results, and terminate the container, always, even when a step fails.
 *
 * core0 v0.9.0 (threefoldtech/0-core @v0.9.0, see docs/protocols/core0-v0.9.md) has no `job.list`,
 * no `corex.find` and no container tags, so:
 * - The container id `corex.create` answered is kept (each result's `container`); one that could not
 *   be terminated is kept in `leftovers` (secret: it holds the node password), and the next update
 *   or the delete terminates it.
 * - A lost create answer (timeout, connection lost) is recovered in two steps. First the create's own
 *   result is read again by its job id (core0 keeps `result:<id>` for 300 s): the container is then
 *   used as if nothing happened. Else `corex.list` is compared with the list taken just before the
 *   create (creates on one node are serialized within a run, so no other worker of this run adds a
 *   container meanwhile): exactly one new id is taken as ours and terminated; several new ids cannot
 *   be told apart (another user of the node made some) and are named in the error, not terminated;
 *   none means nothing to clean up (unless the node still finishes that create later: v0.9 gives no
 *   way to tell).
 * - Processes are checked with `process.state {id}` dispatched into the container (coreX runs the base
 *   builtins): answered = still running; `Process with id .. doesn't exist` = it ended, and its own
 *   result (`result:<id>`) says how.
 * - Containers are chrooted in the plist root: every program a process or test runs (a shell for
 *   `sh -c` tests, the loader and libraries of dynamic binaries) must be in the plist.
 * - v0.9 has no container hostname (the v1 `hostname` argument is not sent) and no limits
 *   (`resources` stays informative).
 *
 * Decisions:
 * - Placement: one shared queue of apps, `maxPerNode` workers per node pulling from it (workers
 *   start interleaved across nodes). A busy node takes no new app until one of its slots frees, so
 *   the spread follows the real load (least-loaded), and `apps.length` beyond the slots waits.
 * - Placement cost of v0.9: creates on one node run one at a time (the lost-answer recovery above
 *   needs it); the processes and tests of the apps on a node still run in parallel.
 * - A process counts as started when `process.state` in its container shows it right after its
 *   dispatch, or when it already ended with SUCCESS (a setup step). One that ended otherwise,
 *   checked right after the start and again after the tests, is a failure
 *   (`<app>/process <name>: ...`). A process a test names in `process` must still run after that test.
 * - diff: only an app's `buildId`, plist, processes, tests or resources (its fingerprint) trigger a
 *   run; nodes, passwords, `maxPerNode` and the Telegram connection do not. An update re-runs only
 *   the apps whose fingerprint changed or that failed last time, and keeps the other results. So a
 *   no-op `up` runs nothing.
 * - A failed test fails the resource with an error naming each app and test, after recording the
 *   results (partial create): the next `up` re-runs the failed apps even if nothing changed.
 * - Telegram (optional): one routine digest line per app (TelegramDigest keeps the group within
 *   its limits), and a failure is sent urgent at once, as soon as that app finished. A Telegram
 *   failure never fails the tests (reported in `telegramErrors` and, when tests failed, in the error).
 * - read returns the recorded results (a test run is history: nothing to read back); delete
 *   terminates the `leftovers` (if any) and otherwise has nothing to do.
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
import { Core0Client, Core0JobError, type Core0Result, Core0TimeoutError } from "../core0/client";
import { type TelegramConnection, TelegramDigest, TelegramNotifier } from "../telegram/client";

/** A process the app runs in its container (a daemon, or a setup step that ends with exit 0). */
export interface ContainerProcess {
  /** Unique within the app; tests refer to it in `process`. */
  name: string;
  /** Program (path inside the container, or on its PATH). */
  command: string;
  /** Arguments. Default none. */
  args?: string[];
  /** Replaces the whole environment (core0 v0.9.0). Default: coreX's PATH only. */
  env?: Record<string, string>;
  /** Working directory inside the container root. */
  cwd?: string;
}

/** One test of an app: a program run in the app's container and what its result must be. */
export interface AppTestCase {
  /** Unique within the app; shown in results and failures. */
  name: string;
  /** Program and arguments, e.g. `{ command: "sh", args: ["-c", "redis-cli ping"] }`. */
  command: string;
  /** Arguments. Default none. */
  args?: string[];
  /** Replaces the whole environment (core0 v0.9.0). Default: coreX's PATH only. */
  env?: Record<string, string>;
  /** Working directory inside the container root. Default `/`. */
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
  /** App name (1-63 letters, digits, `.`, `_`, `-`); unique in the run. */
  app: string;
  /** The build that made the plist; a new id re-runs the tests. */
  buildId: string;
  /** URL core0 fetches the plist from (`file:///...` on the node, or http(s)). */
  plistUrl?: string;
  /** Or the plist's IPFS CID: the URL is then `<node ipfsGateway>/ipfs/<cid>` on each node. */
  plistCid?: string;
  /** Started (dispatched) in order before the tests. Default none. */
  processes?: ContainerProcess[];
  /** Run one after another in the app's container; may be empty. */
  tests: AppTestCase[];
  /** What the app needs; informative (core0 v0.9 sets no container limits). */
  resources?: { memoryMb?: number; cpu?: number };
}

/** A core0 node the tests may use. `password` is secret. */
export interface TestNode {
  /** Node address (ZeroTier IP or host name) of its redis. */
  address: string;
  /** Default 6379. */
  port?: number;
  /** The node redis password (secret, redacted from every message). */
  password: string;
  /** HTTP(S) IPFS gateway the node reaches, for apps given by `plistCid`. */
  ipfsGateway?: string;
}

export interface AppTestInputs {
  /** Resource name, in every message. */
  name: string;
  /** Apps to test. */
  apps: AppUnderTest[];
  /** core0 v0.9.0 nodes to spread the apps over; at least one. */
  nodes: TestNode[];
  /** Apps tested at once on one node. Default 2. */
  maxPerNode?: number;
  /** Where to report (optional, secret). */
  telegram?: TelegramConnection;
  /** Shown in the Telegram reports, e.g. the build run id. */
  runLabel?: string;
}

export interface TestCaseResult {
  /** The test's name. */
  name: string;
  /** Whether every expectation held. */
  passed: boolean;
  /** Run time as core0 reports it (`time`), else measured here. */
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
  /** The app's name. */
  app: string;
  /** The build that was tested. */
  buildId: string;
  /** sha256 of what decides whether the app must be tested again. */
  fingerprint: string;
  /** `address:port` of the node it ran on. */
  node: string;
  /** The container id `corex.create` answered on that node; 0 when none was created (or recovered). */
  container: number;
  /** No error and every test passed. */
  passed: boolean;
  /** Failures other than tests (container, process start, cleanup), as `<what>: <reason>`. */
  errors: string[];
  /** One per test, in the app's order. */
  tests: TestCaseResult[];
  /** From create to terminate, ms. */
  durationMs: number;
}

/** A container a run could not terminate: the next update or the delete terminates it. */
export interface AppTestLeftover {
  /** Node address. */
  address: string;
  /** Node redis port. */
  port: number;
  /** Node redis password (the whole `leftovers` output is a Pulumi secret). */
  password: string;
  /** Container id on that node. */
  container: number;
}

export interface AppTestOutputs {
  /** Resource name. */
  name: string;
  /** Every app passed. */
  passed: boolean;
  /** Every failure as `<app>/<test>: <reason>`. */
  failures: string[];
  /** One per app, in the order of the `apps` input. */
  results: AppTestResult[];
  /** Telegram sends that failed (the tests are not failed by them). */
  telegramErrors: string[];
  /** Containers not terminated yet (secret: holds node passwords); empty when all are gone. */
  leftovers: AppTestLeftover[];
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
  // v0.9.0 omits streams only when the process could not be spawned; data is Go's error text.
  if (r.state === "ERROR" && !Array.isArray(r.streams) && r.data)
    return {
      exitCode,
      reason: `could not start: ${r.data} (the container is chrooted in its plist: the program must be in it)`,
    };
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
  secrets: string[];
  /** Wait for a `corex.create` answer, ms. */
  createTimeoutMs: number;
  /** After a lost create answer: how long to look for its result again, ms. */
  lostAnswerWaitMs: number;
  onAppDone: (r: AppTestResult) => Promise<void>;
  /** Containers that could not be terminated. */
  leftovers: AppTestLeftover[];
}

/** Whether job `jobId` still runs in `container` (`process.state` there; coreX has the base builtins). */
async function processRunning(client: Core0Client, container: number, jobId: string): Promise<boolean> {
  const r = await client.corex.dispatchAndWait(
    container,
    { command: "process.state", arguments: { id: jobId } },
    { timeoutMs: 15_000 },
  );
  if (r.state === "SUCCESS") return true;
  // base/builtin/get_process_stats.go: an unknown id is an error with this text.
  if (r.state === "ERROR" && /doesn't exist/.test(r.data ?? "")) return false;
  throw new OperationError(
    client.label,
    `process.state of job ${jobId} in container ${container}`,
    `answered state ${r.state}: ${r.data}`,
  );
}

const containerIds = (list: Record<string, unknown> | null): number[] =>
  Object.keys(list ?? {})
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);

/**
 * Creates the app's container; when the answer is lost, recovers it (see the module comment).
 * Returns the container id, or throws with what happened to the container (and terminates it when
 * it can be told apart).
 */
async function createContainer(
  client: Core0Client,
  node: TestNode,
  app: AppUnderTest,
  ctx: RunContext,
): Promise<number> {
  const crypto = require("crypto") as typeof import("crypto");
  const jobId = crypto.randomUUID();
  let before: number[] | undefined;
  try {
    before = containerIds(await client.corex.list({ timeoutMs: 30_000 }));
  } catch {
    before = undefined; // the create below says whether the node is usable
  }
  try {
    return await client.corex.create({ root: plistUrlOn(app, node) }, [], {
      timeoutMs: ctx.createTimeoutMs,
      id: jobId,
    });
  } catch (err) {
    // The node answered (e.g. plist unreadable): no container was made.
    if (!(err instanceof Core0TimeoutError)) throw err;
    const lost = errorMessage(err);
    try {
      const r = await client.result(jobId, { timeoutMs: ctx.lostAnswerWaitMs, command: "corex.create" });
      return client.decode<number>(r);
    } catch (again) {
      if (again instanceof Core0JobError) throw again;
    }
    if (!before)
      throw new OperationError(
        client.label,
        "corex.create",
        `${lost}; corex.list failed before it too, so no container can be recovered`,
        "check the node with corex.list and terminate a container of this app by hand",
      );
    const after = containerIds(await client.corex.list({ timeoutMs: 30_000 }));
    const fresh = after.filter((id) => !before!.includes(id));
    if (fresh.length === 1) {
      await client.corex.terminate(fresh[0]);
      throw new OperationError(
        client.label,
        "corex.create",
        `${lost}; its result never came back; container ${fresh[0]}, the only one that appeared meanwhile, was terminated`,
      );
    }
    throw new OperationError(
      client.label,
      "corex.create",
      fresh.length === 0
        ? `${lost}; its result never came back and no new container appeared: nothing to clean up`
        : `${lost}; its result never came back and containers ${fresh.join(", ")} appeared meanwhile (others use this node too): none was terminated`,
      fresh.length === 0
        ? undefined
        : "terminate the one of this app by hand (corex.terminate) if it is among them",
    );
  }
}

/** Tests one app on one node; never throws (every failure is recorded in the result). */
async function testApp(
  client: Core0Client,
  node: TestNode,
  app: AppUnderTest,
  ctx: RunContext,
  serialCreate: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<AppTestResult> {
  const started = Date.now();
  const result: AppTestResult = {
    app: app.app,
    buildId: app.buildId,
    fingerprint: appFingerprint(app),
    node: nodeName(node),
    container: 0,
    passed: false,
    errors: [],
    tests: [],
    durationMs: 0,
  };
  const clean = (s: string): string => redact(s, ctx.secrets);
  let containerId: number | undefined;
  try {
    containerId = await serialCreate(() => createContainer(client, node, app, ctx));
    result.container = containerId;
    const cid = containerId;
    const jobs: Record<string, string> = {};
    for (const p of app.processes ?? []) {
      jobs[p.name] = await client.corex.dispatch(cid, {
        command: "core.system",
        arguments: client.systemArgs(p.command, p.args ?? [], { dir: p.cwd ?? "", env: p.env ?? {} }),
      });
    }
    const reported: string[] = [];
    // A process that already ended must have ended well; checked after the start and after the tests.
    const checkProcesses = async (when: string): Promise<void> => {
      for (const [name, id] of Object.entries(jobs)) {
        if (reported.includes(name) || (await processRunning(client, cid, id))) continue;
        const r = await client.result(id, { timeoutMs: 10_000, command: `process ${name}` });
        if (r.state === "SUCCESS") continue;
        reported.push(name);
        const { stderr } = streamsOf(r);
        result.errors.push(
          clean(
            `process ${name}: ${when} (state ${r.state}${typeof r.code === "number" ? `, exit code ${r.code}` : ""}${stderr.trim() ? `: ${tail(stderr, 300)}` : r.state === "ERROR" && r.data ? `: ${tail(r.data, 300)}` : ""})`,
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
          cid,
          {
            command: "core.system",
            arguments: client.systemArgs(t.command, t.args ?? [], { dir: t.cwd ?? "", env: t.env ?? {} }),
            max_time: timeout,
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
          !(await processRunning(client, cid, jobs[t.process]))
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
    if (containerId !== undefined) {
      const id = containerId;
      try {
        await retry(() => client.corex.terminate(id), { attempts: 3, minDelayMs: 500 });
      } catch (err) {
        ctx.leftovers.push(leftoverOf(node, id));
        result.errors.push(
          clean(
            `cleanup: container ${id} on ${nodeName(node)} could not be terminated: ${errorMessage(err)}; the next up or the delete terminates it (kept in leftovers)`,
          ),
        );
      }
    }
  }
  result.passed = result.errors.length === 0 && result.tests.every((t) => t.passed);
  result.durationMs = Date.now() - started;
  return result;
}

function leftoverOf(node: TestNode, container: number): AppTestLeftover {
  return { address: node.address, port: node.port ?? 6379, password: node.password, container };
}

/** Options of runAppTests (not resource inputs). */
export interface RunAppTestsOptions {
  /** Apps tested at once on one node. Default 2. */
  maxPerNode?: number;
  /** Shown in errors. Default `AppTest`. */
  label?: string;
  /** Called as each app finishes. */
  onAppDone?: (r: AppTestResult) => Promise<void>;
  /** Wait for a `corex.create` answer, ms. Default 300 000. */
  createTimeoutMs?: number;
  /** After a lost create answer, how long to wait for its result again, ms. Default 60 000. */
  lostAnswerWaitMs?: number;
  /** Receives the containers that could not be terminated. Default: dropped. */
  leftovers?: AppTestLeftover[];
}

/**
 * Tests `apps` across `nodes`, at most `maxPerNode` at once per node, and returns one result per
 * app in the order of `apps`. Plain function (no Pulumi): usable from scripts, tests and benchmarks.
 */
export async function runAppTests(
  apps: AppUnderTest[],
  nodes: TestNode[],
  opts: RunAppTestsOptions = {},
): Promise<AppTestResult[]> {
  const ctx: RunContext = {
    label: opts.label ?? KIND,
    secrets: nodes.map((n) => n.password),
    createTimeoutMs: opts.createTimeoutMs ?? 300_000,
    lostAnswerWaitMs: opts.lostAnswerWaitMs ?? 60_000,
    onAppDone: opts.onAppDone ?? (async () => undefined),
    leftovers: opts.leftovers ?? [],
  };
  const clients = nodes.map(
    (n) =>
      new Core0Client({ host: n.address, port: n.port ?? 6379, password: n.password, timeoutMs: 60_000 }),
  );
  // One create at a time per node, so a lost create answer can be told apart by corex.list.
  const createQueues: Promise<unknown>[] = nodes.map(() => Promise.resolve());
  const serialOn =
    (k: number) =>
    <T>(fn: () => Promise<T>): Promise<T> => {
      const run = createQueues[k].then(fn);
      createQueues[k] = run.catch(() => undefined);
      return run;
    };
  const results: AppTestResult[] = new Array(apps.length);
  let next = 0;
  const worker = async (k: number): Promise<void> => {
    while (next < apps.length) {
      const index = next++;
      const r = await testApp(clients[k], nodes[k], apps[index], ctx, serialOn(k));
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

/**
 * Terminates `leftovers` (containers an earlier run could not terminate); returns those that still
 * could not be, with why. corex.terminate of a gone container is a no-op in v0.9.0.
 */
export async function terminateLeftovers(
  leftovers: AppTestLeftover[],
): Promise<Array<{ leftover: AppTestLeftover; error: string }>> {
  const failed: Array<{ leftover: AppTestLeftover; error: string }> = [];
  for (const l of leftovers) {
    const client = new Core0Client({
      host: l.address,
      port: l.port,
      password: l.password,
      timeoutMs: 30_000,
    });
    try {
      await client.corex.terminate(l.container);
    } catch (err) {
      failed.push({ leftover: l, error: redact(errorMessage(err), [l.password]) });
    } finally {
      await client.close();
    }
  }
  return failed;
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
  oldLeftovers: AppTestLeftover[] = [],
): Promise<AppTestOutputs> {
  const telegramErrors: string[] = [];
  // Containers an earlier run left behind go first; those still there are kept for next time.
  const leftovers = (await terminateLeftovers(oldLeftovers)).map((f) => f.leftover);
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
    leftovers,
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
    leftovers,
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
    const outs = await runAndReport(i, staleApps(old, i.apps), old, olds.leftovers ?? []);
    failIfFailed(i, id, outs);
    return { outs };
  },

  async delete(id: string, olds: AppTestOutputs) {
    // The containers were terminated when the tests ended, except the leftovers.
    const failed = await terminateLeftovers(olds.leftovers ?? []);
    if (failed.length > 0) {
      throw new OperationError(
        resourceLabel(KIND, olds.name ?? id),
        "delete",
        `could not terminate ${failed.map((f) => `container ${f.leftover.container} on ${f.leftover.address}:${f.leftover.port} (${f.error})`).join("; ")}`,
        "bring the node back and delete again, or terminate the container by hand and remove the resource from the state (pulumi state delete)",
      );
    }
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
  declare readonly leftovers: pulumi.Output<AppTestLeftover[]>;

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
        leftovers: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "leftovers"] },
      "build",
      "AppTest",
    );
  }
}
