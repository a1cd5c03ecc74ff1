/**
 * The test runner (Pulumi-free): tests built apps in core0 containers, in parallel across the
 * available core0 nodes. AppTest (resource.ts) and the benchmarks call `runAppTests`.
 *
 * For every app: create a container from its plist on a node (`corex.create`, core0 v0.9.0
 * arguments: `root` only), start its processes (`corex.dispatch`), run its tests one after another
 * (dispatch, wait for the result, compare exit state and output with what the test expects), record
 * the results, and terminate the container, always, even when a step fails.
 *
 * core0 v0.9.0 (threefoldtech/0-core @v0.9.0, see docs/protocols/core0-v0.9.md) has no `job.list`,
 * no `corex.find` and no container tags, so:
 * - The container id `corex.create` answered is kept (each result's `container`); one that could not
 *   be terminated is kept in `leftovers` (secret: it holds the node password, if any), and the next update
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
 */
import { errorMessage, redact } from "../../providers/shared/errors";
import { retry } from "../../providers/shared/retry";
import { Core0Client } from "../../providers/core0/client";
import { createContainer, judgeTest, processRunning, type RunContext, streamsOf, tail } from "./container";
import {
  type AppTestLeftover,
  type AppTestResult,
  type AppUnderTest,
  appFingerprint,
  KIND,
  nodeName,
  type TestCaseResult,
  type TestNode,
} from "./types";

const DEFAULT_TEST_TIMEOUT_S = 60;

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

/** What the next run needs to terminate `container` on `node` (no password when the node has none). */
function leftoverOf(node: TestNode, container: number): AppTestLeftover {
  return {
    address: node.address,
    port: node.port ?? 6379,
    ...(node.password !== undefined ? { password: node.password } : {}),
    container,
  };
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
    secrets: nodes.flatMap((n) => (n.password ? [n.password] : [])),
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

/** The apps that must be tested (again): new, changed (fingerprint) or failed last time. */
export function staleApps(recorded: AppTestResult[], apps: AppUnderTest[]): AppUnderTest[] {
  return apps.filter((a) => {
    const prev = recorded.find((r) => r.app === a.app);
    return !prev || !prev.passed || prev.fingerprint !== appFingerprint(a);
  });
}
