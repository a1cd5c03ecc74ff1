/**
 * The Telegram robot against telegram-test-api (in-process, loopback): who may do what (group
 * members read, operators start/approve/cancel, strangers are refused), /up with the preview and
 * the inline Approve button, run results posted to the group, /log tails, secrets never sent.
 * Fake engine; no testbed.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { startTelegramEmulator, type TelegramEmulator } from "../testbed/telegram";
import { FakeEngine } from "./fake-engine";
import { startIssuer, type Issuer } from "./issuer";
import { call, makeDirs, PASSPHRASE, start, testConfig, until, type Dirs, type TestCockpit } from "./setup";
import {
  botMessages,
  pressButton,
  type BotMessage,
  sendCommand,
  type TgChat,
  type TgUser,
} from "./telegram-user";

const TOKEN = "123456:robot-test-token_AAAA";
const GROUP: TgChat = { id: -100500, type: "supergroup" };
const OTTO: TgUser = { id: 42, username: "otto" }; // operator
const VERA: TgUser = { id: 7, username: "vera" }; // group member
const EVE: TgUser = { id: 99, username: "eve" }; // neither

describe("cockpit Telegram robot (telegram-test-api)", function () {
  this.timeout(60_000);
  let issuer: Issuer;
  let tg: TelegramEmulator;
  let dirs: Dirs;
  let c: TestCockpit;
  let engine: FakeEngine;

  before(async () => {
    issuer = await startIssuer();
    tg = await startTelegramEmulator();
    dirs = makeDirs();
    const tokenFile = path.join(dirs.root, "telegram-token");
    fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    engine = new FakeEngine();
    const cfg = testConfig(dirs, issuer, {
      robot: { tokenFile, chatId: GROUP.id, apiRoot: tg.apiRoot, operators: [OTTO.id], pollSeconds: 0 },
    });
    c = await start(cfg, engine, undefined, { idleMs: 30, flushIntervalMs: 100 });
  });
  after(async () => {
    await c?.close();
    await tg?.stop();
    await issuer?.stop();
    if (dirs) fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  const say = (user: TgUser, chat: TgChat, text: string) => sendCommand(tg.apiRoot, TOKEN, user, chat, text);
  /** The first bot message to `chatId` matching `re` (each test's texts are distinct). */
  const reply = async (chatId: number, re: RegExp, what: string): Promise<BotMessage> =>
    (await until(
      async () =>
        (await botMessages(tg.apiRoot, TOKEN)).find((m) => m.chatId === String(chatId) && re.test(m.text)),
      what,
    ))!;
  const sent = async () => (await botMessages(tg.apiRoot, TOKEN)).map((m) => m.text).join("\n");

  it("answers group members' /help, /status and /runs", async () => {
    await say(VERA, GROUP, "/help");
    await reply(GROUP.id, /\/up <stack>/, "the help text");
    await say(VERA, GROUP, "/status");
    const s = await reply(GROUP.id, /^dev: idle; 0 queued; no run yet/m, "the status text");
    assert.match(s.text, /^build: idle/m);
    await say(VERA, GROUP, "/runs");
    await reply(GROUP.id, /^No runs yet\.$/, "the empty run list");
  });

  it("refuses a viewer's /up and a stranger's private /status; nothing starts", async () => {
    await say(VERA, GROUP, "/up build");
    const r = await reply(GROUP.id, /needs an operator/, "the refusal");
    assert.match(r.text, /Telegram user 7 is a viewer.*Fix: .*robot\.operators/);
    const eveChat: TgChat = { id: EVE.id, type: "private" };
    await say(EVE, eveChat, "/status");
    const e = await reply(EVE.id, /answers the build group and its operators only/, "the stranger's refusal");
    assert.doesNotMatch(e.text, /dev:/);
    await say(OTTO, GROUP, "/up");
    await reply(
      GROUP.id,
      /\/up: stack: is missing\. Fix: give a stack: \/up <(build\|dev|dev\|build)>/,
      "the missing stack",
    );
    await say(OTTO, GROUP, "/up nosuch");
    await reply(GROUP.id, /stack "nosuch" is not a stack of the project/, "the unknown stack");
    assert.strictEqual(engine.jobs.length, 0);
    assert.strictEqual(c.manager.list().length, 0);
  });

  it("an operator's /up previews, posts Approve/Cancel, only an operator's press applies it, the result is posted", async () => {
    await say(OTTO, GROUP, "/up build");
    const started = await reply(GROUP.id, /^up of build started: run (r-\S+);/, "the /up answer");
    const id = /run (r-\S+);/.exec(started.text)![1];
    const preview = await engine.started(1);
    assert.strictEqual(preview.op, "preview");
    preview.opts.onOutput(`the passphrase is ${PASSPHRASE}\n`);
    preview.finish({ update: 1, same: 2 });
    const prompt = await reply(
      GROUP.id,
      new RegExp(`^up of build waits for approval: update 1 \\(run ${id}`),
      "the prompt",
    );
    assert.match(prompt.text, /update test:index:Thing a \[size\]/);
    assert.deepStrictEqual(
      prompt.buttons.map((b) => b.data),
      [`approve:${id}`, `cancel:${id}`],
    );
    assert.strictEqual(c.manager.get(id).requestedBy.user, "telegram:42(@otto)");
    assert.strictEqual(c.manager.get(id).requestedBy.origin, "robot");

    // A viewer's press does nothing: updates are handled in order, so had it approved, the run
    // would carry vera as its approver below (and the operator's press would answer 409).
    await pressButton(tg.apiRoot, TOKEN, VERA, GROUP, `approve:${id}`);
    await pressButton(tg.apiRoot, TOKEN, OTTO, GROUP, `approve:${id}`);
    const up = await engine.started(2);
    assert.strictEqual(up.op, "up");
    assert.strictEqual(c.manager.get(id).approvedBy, "telegram:42(@otto)");
    await reply(
      GROUP.id,
      new RegExp(`^approved by telegram:42\\(@otto\\): up of build \\(run ${id}\\)`),
      "the approval post",
    );
    up.finish({ update: 1 });
    await reply(GROUP.id, new RegExp(`^up of build succeeded: update 1 \\(run ${id}`), "the result post");

    await say(VERA, GROUP, `/log ${id}`);
    const log = await reply(GROUP.id, new RegExp(`^${id} up build: succeeded`), "the log tail");
    assert.match(log.text, /the passphrase is \[secret\]/);
    assert.match(log.text, /--- approved by telegram:42\(@otto\)/);
  });

  it("a failed run is posted at once with its error, redacted; /cancel stops a run", async () => {
    const n = engine.jobs.length;
    await say(OTTO, GROUP, "/refresh dev");
    const job = await engine.started(n + 1);
    job.fail(`cannot reach core0 (password ${PASSPHRASE})`);
    const post = await reply(GROUP.id, /^refresh of dev failed/, "the failure post");
    assert.match(post.text, /error: cannot reach core0 \(password \[secret\]\)/);
    assert.match(post.text, /\/log r-/);

    await say(OTTO, GROUP, "/preview dev");
    const p = await engine.started(n + 2);
    const id = c.manager.list({ limit: 1 })[0].id;
    await say(VERA, GROUP, `/cancel ${id}`);
    await reply(GROUP.id, /^\/cancel: role: needs an operator/, "the viewer's cancel refused");
    assert.strictEqual(c.manager.get(id).state, "running");
    await say(OTTO, GROUP, `/cancel ${id}`);
    await reply(GROUP.id, new RegExp(`^cancel asked: ${id}`), "the cancel answer");
    await reply(GROUP.id, new RegExp(`^preview of dev cancelled`), "the cancel post");
    assert.ok(p);
  });

  it("a Bot API it cannot reach does not keep the cockpit from starting; it says so and retries", async () => {
    const d2 = makeDirs();
    try {
      const tokenFile = path.join(d2.root, "telegram-token");
      fs.writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
      // A loopback port nothing listens on: taken, then freed.
      const closed = await new Promise<number>((resolve) => {
        const srv = net.createServer().listen(0, "127.0.0.1", () => {
          const port = (srv.address() as net.AddressInfo).port;
          srv.close(() => resolve(port));
        });
      });
      const cfg = testConfig(d2, issuer, {
        robot: { tokenFile, chatId: GROUP.id, apiRoot: `http://127.0.0.1:${closed}`, pollSeconds: 0 },
      });
      const c2 = await start(cfg, new FakeEngine(), undefined, { idleMs: 30, flushIntervalMs: 100 });
      try {
        const line = await until(
          () => c2.logLines.find((l) => l.includes("robot: getMe failed")),
          "the getMe failure in the service log",
        );
        assert.match(line!, /Check: robot.tokenFile and robot.apiRoot/);
        assert.ok(!c2.logLines.join("\n").includes(TOKEN), "the token is in the service log");
        assert.strictEqual((await call(c2.url, "GET", "/api/health")).status, 200);
      } finally {
        await c2.close();
      }
    } finally {
      fs.rmSync(d2.root, { recursive: true, force: true });
    }
  });

  it("never sends the passphrase nor the bot token", async () => {
    const all = await sent();
    assert.ok(!all.includes(PASSPHRASE), "the passphrase reached Telegram");
    assert.ok(!all.includes(TOKEN), "the bot token reached Telegram");
    assert.ok(!c.logLines.join("\n").includes(TOKEN), "the bot token is in the service log");
  });
});
