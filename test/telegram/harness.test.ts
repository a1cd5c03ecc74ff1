// TelegramMessage through the engine harness: real dynamic-provider host, JSON state between runs.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Harness } from "../harness";
import { makeTestKey } from "../testbed/keys";
import { startTelegramFaultFake, TelegramFaultFake } from "../testbed/telegram";

const TOKEN = "123456789:AAHharnessTokenForTests_abcdefghijk";
const CHAT = "-1001234567890";

describe("telegram: TelegramMessage through the harness", function () {
  this.timeout(180_000);
  let fake: TelegramFaultFake;
  let h: Harness;
  let dir: string;

  before(async () => {
    fake = await startTelegramFaultFake({ token: TOKEN, chats: [CHAT] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-tg-"));
    h = new Harness({
      program: path.join(__dirname, "programs", "announce.ts"),
      stack: "build-1",
      stateFile: path.join(dir, "state.json"),
      config: {
        "g8os:telegramBotToken": { secret: TOKEN },
        "g8os:telegramChatId": CHAT,
        "g8os:telegramApiRoot": fake.apiRoot,
        "g8os:inlineKey": makeTestKey("admin@desk"),
      },
    });
  });
  after(async () => {
    await h?.close();
    await fake?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const resources = () => h.state().map((s) => s.type);

  it("a failing Telegram fails the up on the message only; the announced resource stays in state", async () => {
    fake.always({ kind: "chatNotFound" });
    const r = await h.up();
    assert.ok(r.failed);
    const failedSteps = r.steps.filter((s) => s.error);
    assert.deepEqual(
      failedSteps.map((s) => s.type),
      ["pulumi-nodejs:dynamic/telegram:Message"],
    );
    assert.match(failedSteps[0].error!, /TelegramMessage "keys-ready".*g8os:telegramChatId/);
    assert.ok(resources().some((t) => /SshKeyGroup$/.test(t)));
    assert.ok(!resources().some((t) => /telegram:Message$/.test(t)));
    assert.ok(!(r.errors.join("\n") + r.log).includes(TOKEN));
    assert.equal(fake.delivered.length, 0);
  });

  it("the next up sends it once", async () => {
    fake.always(undefined);
    const r = await h.upOk();
    assert.equal(fake.delivered.length, 1);
    assert.equal(fake.delivered[0].text, "SSH key group ready: 1 key(s)");
    assert.deepEqual(r.outputs.messageIds, [1]);
  });

  it("a no-op up sends nothing", async () => {
    const r = await h.upOk();
    assert.equal(fake.delivered.length, 1);
    assert.deepEqual(
      r.steps.filter((s) => s.op !== "same").map((s) => `${s.type} ${s.op}`),
      [],
    );
  });

  it("changing the key re-sends", async () => {
    h.setConfig("g8os:announceKey", "run-2");
    await h.upOk();
    assert.equal(fake.delivered.length, 2);
  });

  it("state holds no plaintext token", () => {
    assert.ok(!h.stateText().includes(TOKEN));
  });

  it("destroy removes the message from state without sending or deleting anything", async () => {
    const before = fake.requests.length;
    const r = await h.destroy();
    assert.ok(!r.failed, r.errors.join("\n"));
    assert.equal(fake.requests.length, before);
    assert.deepEqual(resources(), []);
  });
});
