/**
 * Runs through the REST API with a fake engine: one run at a time per stack (10 simultaneous
 * `up`s: none lost, order kept), cancel (queued, running, awaiting approval), approval of an `up`,
 * steps from engine events, history after a restart, live log over server-sent events.
 * No testbed; the real Automation API path is covered by runs-cli.test.ts.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { FakeEngine } from "./fake-engine";
import { startIssuer, type Issuer } from "./issuer";
import {
  call,
  iyoClaims,
  makeDirs,
  readSse,
  start,
  testConfig,
  until,
  type Dirs,
  type TestCockpit,
} from "./setup";

describe("cockpit runs (fake engine)", () => {
  let issuer: Issuer;
  let dirs: Dirs;
  let c: TestCockpit;
  let engine: FakeEngine;
  let op: string;
  let viewer: string;

  before(async () => {
    issuer = await startIssuer();
    op = issuer.sign(iyoClaims("otto", ["build.ops"]));
    viewer = issuer.sign(iyoClaims("vera", ["build"]));
  });
  beforeEach(async () => {
    dirs = makeDirs();
    engine = new FakeEngine();
    c = await start(testConfig(dirs, issuer), engine, 50);
  });
  afterEach(async () => {
    await c.close();
    fs.rmSync(dirs.root, { recursive: true, force: true });
  });
  after(async () => {
    await issuer.stop();
  });

  const getRun = async (id: string) =>
    (await call(c.url, "GET", `/api/runs/${id}`, { token: viewer })).json.run;
  const stateOf = async (id: string) => (await getRun(id)).state;

  it("10 simultaneous ups: exactly one runs at a time, none lost, order kept, positions given", async () => {
    const replies = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } }),
      ),
    );
    for (const r of replies) assert.strictEqual(r.status, 202, r.text);
    const positions = replies.map((r) => r.json.position).sort((a, b) => a - b);
    assert.deepStrictEqual(positions, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Creation order = the order of positions; the engine must start them in that order.
    const byPosition = [...replies]
      .sort((a, b) => a.json.position - b.json.position)
      .map((r) => r.json.run.id);
    const queued = (await call(c.url, "GET", "/api/stacks", { token: viewer })).json.stacks.find(
      (s: { name: string }) => s.name === "dev",
    );
    assert.strictEqual(queued.current, byPosition[0]);
    assert.deepStrictEqual(queued.queue, byPosition.slice(1));
    for (let i = 1; i <= 10; i++) {
      const job = await engine.started(i);
      // The i-th asked is the one the engine runs now; only it runs, the next is still queued.
      assert.strictEqual(await stateOf(byPosition[i - 1]), "running");
      assert.strictEqual(engine.running.get("dev"), 1);
      if (i < 10) assert.strictEqual(await stateOf(byPosition[i]), "queued");
      job.finish();
    }
    await c.manager.idle();
    assert.strictEqual(engine.maxConcurrent, 1);
    assert.strictEqual(engine.jobs.length, 10);
    const list = (await call(c.url, "GET", "/api/runs?stack=dev&limit=100", { token: viewer })).json.runs;
    assert.strictEqual(list.length, 10);
    assert.ok(list.every((r: { state: string }) => r.state === "succeeded"));
    assert.deepStrictEqual(
      list.map((r: { id: string }) => r.id).reverse(),
      byPosition,
      "the history does not list the runs in the order they were asked",
    );
  });

  it("runs on different stacks do not wait for each other", async () => {
    await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    const b = await call(c.url, "POST", "/api/runs", {
      token: op,
      body: { stack: "build", kind: "refresh" },
    });
    assert.strictEqual(b.json.position, 0);
    await engine.started(2);
    engine.jobs.forEach((j) => j.finish());
    await c.manager.idle();
  });

  it("records the steps (resource, operation, changed fields) and the change summary", async () => {
    const r = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    (await engine.started(1)).finish({ update: 1, same: 3 });
    await c.manager.idle();
    const run = await getRun(r.json.run.id);
    assert.strictEqual(run.state, "succeeded");
    assert.deepStrictEqual(run.steps, [
      {
        urn: "urn:pulumi:dev::g8os::test:index:Thing::a",
        type: "test:index:Thing",
        op: "update",
        changedFields: ["size"],
        done: true,
        failed: false,
      },
    ]);
    assert.deepStrictEqual(run.changes, { update: 1, same: 3 });
  });

  it("a failed engine run is failed with the engine's message, and the next queued run still runs", async () => {
    const a = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    const b = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "preview" } });
    (await engine.started(1)).fail('update failed: LibvirtDomain "vm1": virsh start failed');
    (await engine.started(2)).finish();
    await c.manager.idle();
    const ra = await getRun(a.json.run.id);
    assert.strictEqual(ra.state, "failed");
    assert.match(ra.error, /virsh start failed/);
    assert.strictEqual(await stateOf(b.json.run.id), "succeeded");
  });

  it("cancel: a queued run leaves the queue and never runs; a running one is stopped", async () => {
    const a = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    const b = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    const cq = await call(c.url, "POST", `/api/runs/${b.json.run.id}/cancel`, { token: op });
    assert.strictEqual(cq.status, 200, cq.text);
    assert.strictEqual(cq.json.run.state, "cancelled");
    assert.strictEqual(cq.json.run.cancelledBy, "otto");
    const job = await engine.started(1);
    const cr = await call(c.url, "POST", `/api/runs/${a.json.run.id}/cancel`, { token: op });
    assert.strictEqual(cr.status, 200);
    assert.ok(job.opts.signal.aborted, "the engine's abort signal was not raised");
    await c.manager.idle();
    assert.strictEqual(await stateOf(a.json.run.id), "cancelled");
    assert.strictEqual(engine.jobs.length, 1, "the cancelled queued run ran");
    const again = await call(c.url, "POST", `/api/runs/${a.json.run.id}/cancel`, { token: op });
    assert.strictEqual(again.status, 409);
    assert.match(again.json.error.problem, /already cancelled/);
  });

  it("a cancel that comes after the engine finished leaves the run succeeded, noted in its log", async () => {
    engine.ignoreAbort = true;
    const a = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    const job = await engine.started(1);
    assert.strictEqual(
      (await call(c.url, "POST", `/api/runs/${a.json.run.id}/cancel`, { token: op })).status,
      200,
    );
    job.finish();
    await c.manager.idle();
    assert.strictEqual(await stateOf(a.json.run.id), "succeeded");
    assert.match(
      fs.readFileSync(path.join(dirs.dataDir, "logs", `${a.json.run.id}.log`), "utf8"),
      /cancel came after the engine had finished/,
    );
  });

  it("an up with approval previews, waits for an operator, then applies", async () => {
    const r = await call(c.url, "POST", "/api/runs", {
      token: op,
      body: { stack: "dev", kind: "up", approval: true },
    });
    assert.strictEqual(r.status, 202);
    const id = r.json.run.id;
    const preview = await engine.started(1);
    assert.strictEqual(preview.op, "preview");
    assert.strictEqual(await stateOf(id), "previewing");
    const early = await call(c.url, "POST", `/api/runs/${id}/approve`, { token: op });
    assert.strictEqual(early.status, 409, "approved before the preview was done");
    preview.finish({ update: 1 });
    await until(async () => (await stateOf(id)) === "awaiting-approval", "awaiting-approval");
    const waiting = await getRun(id);
    assert.strictEqual(waiting.previewSteps.length, 1);
    assert.deepStrictEqual(waiting.changes, { update: 1 });
    // A second up queues behind the one waiting for approval (the stack stays held).
    const second = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    assert.strictEqual(second.json.position, 1);
    assert.strictEqual((await call(c.url, "POST", `/api/runs/${id}/approve`, { token: viewer })).status, 403);
    const ok = await call(c.url, "POST", `/api/runs/${id}/approve`, { token: op });
    assert.strictEqual(ok.status, 200, ok.text);
    assert.strictEqual(ok.json.run.approvedBy, "otto");
    const apply = await engine.started(2);
    assert.strictEqual(apply.op, "up");
    apply.finish();
    (await engine.started(3)).finish();
    await c.manager.idle();
    assert.strictEqual(await stateOf(id), "succeeded");
  });

  it("an up from the page or the robot always waits for approval; cancelling it while it waits ends it", async () => {
    const { run } = c.manager.create(
      { stack: "dev", kind: "up" },
      { user: "tg:42", origin: "robot", from: "chat:-100" },
    );
    assert.strictEqual(run.approval, true);
    (await engine.started(1)).finish();
    await until(async () => (await stateOf(run.id)) === "awaiting-approval", "awaiting-approval");
    const r = await call(c.url, "POST", `/api/runs/${run.id}/cancel`, { token: op });
    assert.strictEqual(r.status, 200);
    await c.manager.idle();
    assert.strictEqual(await stateOf(run.id), "cancelled");
    assert.strictEqual(engine.jobs.length, 1, "the up ran without approval");
  });

  it("a targeted destroy hands the one URN to the engine", async () => {
    const urn = "urn:pulumi:dev::g8os::g8os:vm:UbuntuVm::vm1";
    const r = await call(c.url, "POST", "/api/runs", {
      token: op,
      body: { stack: "dev", kind: "destroy", target: urn },
    });
    assert.strictEqual(r.status, 202, r.text);
    const job = await engine.started(1);
    assert.strictEqual(job.op, "destroy");
    assert.deepStrictEqual(job.target, [urn]);
    job.finish({ delete: 1 });
    await c.manager.idle();
  });

  it("keeps the history across a restart: finished runs stay, queued runs run, interrupted ones are failed", async () => {
    const done = await call(c.url, "POST", "/api/runs", {
      token: op,
      body: { stack: "dev", kind: "preview" },
    });
    (await engine.started(1)).finish();
    await c.manager.idle();
    const running = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    const q1 = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    const q2 = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "refresh" } });
    await engine.started(2);
    // A crash: the history file as it is now, then a new process on the same data dir.
    const crashed = fs.readFileSync(path.join(dirs.dataDir, "runs.jsonl"), "utf8");
    await c.close();
    fs.writeFileSync(path.join(dirs.dataDir, "runs.jsonl"), crashed);
    engine = new FakeEngine();
    c = await start(testConfig(dirs, issuer), engine);
    assert.strictEqual(await stateOf(done.json.run.id), "succeeded");
    const interrupted = await getRun(running.json.run.id);
    assert.strictEqual(interrupted.state, "failed");
    assert.match(interrupted.error, /interrupted: the cockpit stopped while this run was running/);
    const first = await engine.started(1);
    assert.strictEqual(first.op, "up");
    assert.strictEqual(await stateOf(q1.json.run.id), "running");
    assert.strictEqual(await stateOf(q2.json.run.id), "queued");
    first.finish();
    (await engine.started(2)).finish();
    await c.manager.idle();
    assert.strictEqual(await stateOf(q2.json.run.id), "succeeded");
    const log = fs.readFileSync(path.join(dirs.dataDir, "logs", `${running.json.run.id}.log`), "utf8");
    assert.match(log, /up of dev started/);
    assert.match(log, /interrupted/);
  });

  it("a clean stop records started runs as cancelled and keeps queued ones for the next start", async () => {
    const a = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    const b = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    await engine.started(1);
    await c.close();
    engine = new FakeEngine(5);
    c = await start(testConfig(dirs, issuer), engine);
    const ra = await getRun(a.json.run.id);
    assert.strictEqual(ra.state, "cancelled");
    assert.strictEqual(ra.cancelledBy, "cockpit shutdown");
    await c.manager.idle();
    assert.strictEqual(await stateOf(b.json.run.id), "succeeded");
  });

  it("streams a running run's log live over SSE, then the final run", async () => {
    const r = await call(c.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
    const id = r.json.run.id;
    const job = await engine.started(1);
    const seen: string[] = [];
    let sawLiveBeforeEnd = false;
    const stream = readSse(c.url, `/api/runs/${id}/log`, viewer, (e) => {
      if (e.event === "log") {
        seen.push(e.data);
        if (e.data.includes("step 2 of 3")) sawLiveBeforeEnd = true;
      }
    });
    await until(() => seen.join("").includes("up of dev started"), "the log so far");
    // A quiet run: the stream sends keepalive comments meanwhile (every 50 ms here).
    await new Promise((r) => setTimeout(r, 200));
    job.opts.onOutput("step 2 of 3\nmulti\nline\n");
    await until(() => sawLiveBeforeEnd, "a live chunk");
    const stateWhileStreaming = await stateOf(id);
    assert.strictEqual(stateWhileStreaming, "running", "the chunk arrived only after the run ended");
    job.finish();
    const { status, events, comments } = await stream;
    assert.strictEqual(status, 200);
    assert.ok(comments >= 2, `only ${comments} keepalive comments in 200 ms`);
    const end = events[events.length - 1];
    assert.strictEqual(end.event, "end");
    assert.strictEqual(JSON.parse(end.data).state, "succeeded");
    const text = events
      .filter((e) => e.event === "log")
      .map((e) => e.data)
      .join("");
    assert.ok(text.includes("step 2 of 3\nmulti\nline\n"), "multi-line chunk not kept whole");
    assert.ok(text.includes("up done"));
    // The same log, replayed for a finished run, equals the file.
    const replay = await readSse(c.url, `/api/runs/${id}/log`, viewer);
    const replayText = replay.events
      .filter((e) => e.event === "log")
      .map((e) => e.data)
      .join("");
    assert.strictEqual(replayText, fs.readFileSync(path.join(dirs.dataDir, "logs", `${id}.log`), "utf8"));
  });
});
