// TelegramMessage's provider methods called directly, as the dynamic-provider host would call them.
import { strict as assert } from "assert";
import { UNKNOWN } from "../../providers/shared/dynamic";
import {
  checkMessageInputs,
  telegramMessageProvider as provider,
  TelegramMessageInputs,
  TelegramMessageOutputs,
} from "../../providers/telegram/message";
import { startTelegramFaultFake, TelegramFaultFake } from "../testbed/telegram";

const TOKEN = "123456789:AAHfakeTokenForTests_abcdefghijklmno";
const CHAT = "-1001234567890";

describe("telegram: TelegramMessage provider", () => {
  let fake: TelegramFaultFake;
  let inputs: TelegramMessageInputs;
  beforeEach(async () => {
    fake = await startTelegramFaultFake({ token: TOKEN, chats: [CHAT] });
    inputs = {
      name: "node-up",
      connection: { token: TOKEN, chatId: CHAT, apiRoot: fake.apiRoot },
      text: "build host ovh4 is on the build network at 10.147.17.5",
    };
  });
  afterEach(async () => fake.stop());

  const create = async (i: TelegramMessageInputs) =>
    (await provider.create(i)) as { id: string; outs: TelegramMessageOutputs };
  const diff = async (olds: TelegramMessageOutputs, news: TelegramMessageInputs) =>
    (await provider.diff!("id", olds, news)).changes;

  it("create sends once and records ids, date and a text hash, never the token or text", async () => {
    const { id, outs } = await create(inputs);
    assert.equal(fake.delivered.length, 1);
    assert.equal(id, `${CHAT}/1`);
    assert.deepEqual(outs.messageIds, [1]);
    assert.ok(outs.date > 0);
    assert.equal(outs.parts, 1);
    assert.match(outs.textSha256, /^[0-9a-f]{64}$/);
    const stored = JSON.stringify(outs);
    assert.ok(!stored.includes(TOKEN));
    assert.ok(!stored.includes("ovh4"));
  });

  it("diff: no change on the same inputs; text, key or chat changes re-send; token or apiRoot do not", async () => {
    const { outs } = await create(inputs);
    assert.equal(await diff(outs, inputs), false);
    assert.equal(await diff(outs, { ...inputs, text: inputs.text + "!" }), true);
    assert.equal(await diff(outs, { ...inputs, key: "run-2" }), true);
    assert.equal(
      await diff(outs, { ...inputs, connection: { ...inputs.connection, chatId: "-100555" } }),
      true,
    );
    assert.equal(await diff(outs, { ...inputs, connection: { ...inputs.connection, topicId: 7 } }), true);
    assert.equal(
      await diff(outs, {
        ...inputs,
        connection: { ...inputs.connection, token: "42:other", apiRoot: "http://127.0.0.1:1" },
      }),
      false,
    );
    assert.equal(await diff(outs, { ...inputs, text: UNKNOWN }), true);
    assert.equal(fake.delivered.length, 1, "diff never sends");
  });

  it("update sends the new text as a new message", async () => {
    const { id, outs } = await create(inputs);
    const news = { ...inputs, key: "run-2" };
    const upd = (await provider.update!(id, outs, news)) as { outs: TelegramMessageOutputs };
    assert.deepEqual(upd.outs.messageIds, [2]);
    assert.equal(upd.outs.key, "run-2");
    assert.equal(fake.delivered.length, 2);
  });

  it("a failed send fails create with the fix named and nothing recorded; the retry sends it", async () => {
    fake.always({ kind: "chatNotFound" });
    const err = await provider.create(inputs).catch((e) => e);
    assert.match(err.message, /^TelegramMessage "node-up": send Telegram message failed/);
    assert.match(err.message, /g8os:telegramChatId/);
    assert.equal((err as { id?: string }).id, undefined, "not a partial create: nothing to record");
    assert.ok(!err.message.includes(TOKEN));
    fake.always(undefined);
    await create(inputs);
    assert.equal(fake.delivered.length, 1);
  });

  it("a long text cut short is a partial create; diff then wants an update that sends only the rest", async () => {
    const long = {
      ...inputs,
      text: Array.from({ length: 400 }, (_, i) => `line ${i} ${"z".repeat(20)}`).join("\n"),
    };
    fake.failNext({ kind: "pass" }, { kind: "unauthorized" });
    const err = (await provider.create(long).catch((e) => e)) as Error & {
      id: string;
      properties: TelegramMessageOutputs;
    };
    assert.equal(err.id, `${CHAT}/1`);
    assert.deepEqual(err.properties.messageIds, [1]);
    assert.ok(err.properties.parts >= 3);
    assert.equal(await diff(err.properties, long), true);
    const upd = (await provider.update!(err.id, err.properties, long)) as { outs: TelegramMessageOutputs };
    assert.equal(upd.outs.messageIds.length, err.properties.parts);
    assert.equal(upd.outs.messageIds[0], 1);
    assert.equal(fake.delivered.map((m) => m.text).join("\n"), long.text);
    assert.equal(await diff(upd.outs, long), false);
  });

  it("redacts listed secrets from the text it sends", async () => {
    await create({ ...inputs, text: "core0 redis password: p4ss-w0rd-xyz", secrets: ["p4ss-w0rd-xyz"] });
    assert.equal(fake.delivered[0].text, "core0 redis password: [secret]");
  });

  it("read and delete call nothing", async () => {
    const { id, outs } = await create(inputs);
    const r = await provider.read!(id, outs);
    assert.deepEqual(r, { id, props: outs });
    await provider.delete!(id, outs);
    assert.equal(fake.requests.length, 1);
  });

  it("check names each bad field without quoting the token", () => {
    const failures = checkMessageInputs({
      name: "x",
      connection: { token: "sekrit-not-a-token", chatId: "general", topicId: 0, apiRoot: "http://x/" },
      text: "",
    });
    assert.deepEqual(
      failures.map((f) => f.property),
      ["text", "connection.token", "connection.chatId", "connection.topicId", "connection.apiRoot"],
    );
    assert.ok(failures.every((f) => !f.reason.includes("sekrit")));
    assert.match(failures[1].reason, /g8os:telegramBotToken/);
    assert.deepEqual(checkMessageInputs({ ...inputs, connection: UNKNOWN as never }), []);
    assert.deepEqual(checkMessageInputs(inputs), []);
  });
});
