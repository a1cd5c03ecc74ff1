/**
 * Drift detection: the schedule asks a `drift` run (refresh in preview mode) per stack, never two
 * at once; drift found is posted to the group (telegram-test-api) naming resources and fields,
 * with a Repair button only operators can use (an `up --refresh` that waits for approval);
 * nothing found is not posted; automatic repair is opt-in. Fake engine (the real
 * `refresh --preview-only` path is in runs-cli.test.ts); no testbed.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { startTelegramEmulator, type TelegramEmulator } from "../testbed/telegram";
import { FakeEngine } from "./fake-engine";
import { startIssuer, type Issuer } from "./issuer";
import { makeDirs, start, testConfig, until, type Dirs, type TestCockpit } from "./setup";
import { botMessages, pressButton, type BotMessage, type TgChat } from "./telegram-user";

const TOKEN = "123456:drift-test-token_BBBB";
const GROUP: TgChat = { id: -100600, type: "supergroup" };
const OTTO = { id: 42, username: "otto" };
const VERA = { id: 7, username: "vera" };

describe("cockpit drift schedule", function () {
  this.timeout(60_000);
  let issuer: Issuer;
  let tg: TelegramEmulator;
  let dirs: Dirs;
  let c: TestCockpit;
  let engine: FakeEngine;

  const boot = async (autoRepair: boolean) => {
    dirs = makeDirs();
    const tokenFile = path.join(dirs.root, "telegram-token");
    fs.writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
    engine = new FakeEngine();
    const cfg = testConfig(dirs, issuer, {
      robot: { tokenFile, chatId: GROUP.id, apiRoot: tg.apiRoot, operators: [OTTO.id], pollSeconds: 0 },
      drift: { intervalMinutes: 60, stacks: ["build"], autoRepair },
    });
    c = await start(cfg, engine, undefined, { idleMs: 30, flushIntervalMs: 100 });
  };
  const post = async (re: RegExp, what: string): Promise<BotMessage> =>
    (await until(async () => (await botMessages(tg.apiRoot, TOKEN)).find((m) => re.test(m.text)), what))!;

  before(async () => {
    issuer = await startIssuer();
    tg = await startTelegramEmulator();
  });
  afterEach(async () => {
    await c?.close();
    if (dirs) fs.rmSync(dirs.root, { recursive: true, force: true });
  });
  after(async () => {
    await tg?.stop();
    await issuer?.stop();
  });

  it("checks the scheduled stacks, one drift run at a time; posts drift with a Repair button for operators", async () => {
    await boot(false);
    const [id] = c.drift.check();
    assert.ok(id);
    assert.deepStrictEqual(c.drift.check(), [], "a second check while one waits");
    const run = c.manager.get(id);
    assert.deepStrictEqual([run.stack, run.kind, run.requestedBy.origin], ["build", "drift", "schedule"]);
    const job = await engine.started(1);
    assert.strictEqual(job.op, "drift");
    job.finish({ same: 1, update: 1 });
    const p = await post(/^drift in build: 1 resource\(s\) differ from the state/, "the drift post");
    assert.match(p.text, /changed test:index:Thing a \[size\]/);
    assert.deepStrictEqual(p.buttons, [{ text: "Repair", data: "repair:build" }]);

    // Only the operator's press asks the repair (updates are handled in order).
    await pressButton(tg.apiRoot, TOKEN, VERA, GROUP, "repair:build");
    await pressButton(tg.apiRoot, TOKEN, OTTO, GROUP, "repair:build");
    const preview = await engine.started(2);
    assert.strictEqual(preview.op, "preview");
    assert.strictEqual(preview.opts.refresh, true);
    const repairs = c.manager.list({ stack: "build" }).filter((r) => r.kind === "up");
    assert.strictEqual(repairs.length, 1, "the viewer's press asked a run too");
    assert.deepStrictEqual(
      [repairs[0].refresh, repairs[0].approval, repairs[0].requestedBy.user],
      [true, true, "telegram:42(@otto)"],
    );
    preview.finish({ update: 1 });
    await post(/^up of build waits for approval/, "the repair's approval prompt");
    await c.manager.shutdown("test");
  });

  it("a check that finds nothing is not posted", async () => {
    await boot(false);
    const [id] = c.drift.check();
    (await engine.started(1)).finish({ same: 2 }, true);
    await until(() => c.manager.get(id).state === "succeeded", "the drift run");
    // A later message proves the robot's outbox got past the run's end.
    c.robot!.outbox.urgent("marker after the quiet check");
    await post(/^marker after the quiet check$/, "the marker");
    await c.robot!.outbox.flush(); // routine lines too
    const texts = (await botMessages(tg.apiRoot, TOKEN)).map((m) => m.text);
    assert.ok(!texts.some((t) => t.includes(id)), texts.join("\n---\n"));
  });

  it("autoRepair: the repair up --refresh runs at once, without approval, and the post says so", async () => {
    await boot(true);
    c.drift.check();
    (await engine.started(1)).finish({ update: 1 });
    const up = await engine.started(2);
    assert.strictEqual(up.op, "up");
    assert.strictEqual(up.opts.refresh, true);
    const repair = c.manager.list({ limit: 1 })[0];
    assert.deepStrictEqual([repair.approval, repair.requestedBy.origin], [false, "schedule"]);
    const p = await post(
      new RegExp(`automatic repair asked: up --refresh, run ${repair.id}`),
      "the drift post",
    );
    assert.deepStrictEqual(p.buttons, []);
    up.finish();
    await c.manager.idle();
  });
});
