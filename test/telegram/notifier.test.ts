import { strict as assert } from "assert";
import {
  TelegramDigest,
  TelegramNotifier,
  TelegramSendError,
  splitMessage,
  TELEGRAM_MAX_MESSAGE_LENGTH,
} from "../../providers/telegram/client";
import { InputError } from "../../providers/shared/errors";
import {
  startTelegramEmulator,
  startTelegramFaultFake,
  TelegramEmulator,
  TelegramFaultFake,
} from "../testbed/telegram";

const TOKEN = "123456789:AAHfakeTokenForTests_abcdefghijklmno";
const CHAT = -1001234567890;

describe("telegram: TelegramNotifier against telegram-test-api", () => {
  let emulator: TelegramEmulator;
  before(async () => (emulator = await startTelegramEmulator()));
  after(async () => emulator.stop());

  it("delivers a message to the chat, silently unless urgent", async () => {
    const n = new TelegramNotifier({ token: TOKEN, chatId: CHAT, apiRoot: emulator.apiRoot });
    const sent = await n.send("build node ovh4 joined the build network (10.147.17.5)");
    const urgent = await n.send("build of core0 FAILED", { urgent: true });
    assert.equal(sent.length, 1);
    assert.ok(sent[0].messageId > 0);
    assert.notEqual(urgent[0].messageId, sent[0].messageId);
    const got = emulator.messages(TOKEN, CHAT);
    assert.deepEqual(
      got.map((m) => [m.text, m.disableNotification]),
      [
        ["build node ovh4 joined the build network (10.147.17.5)", true],
        ["build of core0 FAILED", false],
      ],
    );
    assert.equal(got[0].threadId, undefined);
  });

  it("posts into the configured forum topic", async () => {
    const n = new TelegramNotifier({
      token: TOKEN,
      chatId: "-100777",
      topicId: 42,
      apiRoot: emulator.apiRoot,
    });
    await n.send("cockpit is up");
    const got = emulator.messages(TOKEN, "-100777");
    assert.equal(got.length, 1);
    assert.equal(got[0].threadId, 42);
  });

  it("splits a text longer than 4096 characters into several messages, in order", async () => {
    const n = new TelegramNotifier({ token: TOKEN, chatId: "-100888", apiRoot: emulator.apiRoot });
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${"x".repeat(20)}`);
    const sent = await n.send(lines.join("\n"));
    const got = emulator.messages(TOKEN, "-100888");
    assert.ok(sent.length >= 2);
    assert.equal(got.length, sent.length);
    assert.ok(got.every((m) => m.text.length <= TELEGRAM_MAX_MESSAGE_LENGTH));
    assert.equal(got.map((m) => m.text).join("\n"), lines.join("\n"));
  });
});

describe("telegram: TelegramNotifier against the fault fake", () => {
  let fake: TelegramFaultFake;
  beforeEach(async () => (fake = await startTelegramFaultFake({ token: TOKEN, chats: [CHAT] })));
  afterEach(async () => fake.stop());

  const notifier = (over: Partial<ConstructorParameters<typeof TelegramNotifier>[1]> = {}) =>
    new TelegramNotifier(
      { token: TOKEN, chatId: CHAT, apiRoot: fake.apiRoot },
      { networkRetryDelayMs: 50, ...over },
    );

  it("waits out a 429 retry_after and then delivers", async () => {
    fake.failNext({ kind: "rateLimit", retryAfter: 1 });
    const sent = await notifier().send("hello");
    assert.equal(sent.length, 1);
    assert.deepEqual(
      fake.requests.map((r) => r.status),
      [429, 200],
    );
    assert.deepEqual(
      fake.delivered.map((m) => m.text),
      ["hello"],
    );
  });

  it("a storm of 429s longer than the retry attempts: waited out within maxRateLimitWaitSeconds, delivered once", async () => {
    // 6 answers of 429 in a row: more than auto-retry's 1 + 2 attempts.
    fake.failNext(...Array.from({ length: 6 }, () => ({ kind: "rateLimit" as const, retryAfter: 1 })));
    const sent = await notifier({ maxRetryAttempts: 2 }).send("through the storm");
    assert.equal(sent.length, 1);
    assert.deepEqual(
      fake.requests.map((r) => r.status),
      [429, 429, 429, 429, 429, 429, 200],
    );
    assert.deepEqual(
      fake.delivered.map((m) => m.text),
      ["through the storm"],
    );
  });

  it("a 429 storm past maxRateLimitWaitSeconds fails naming the rate limit", async () => {
    fake.always({ kind: "rateLimit", retryAfter: 1 });
    const err = await notifier({ maxRetryAttempts: 1, maxRateLimitWaitSeconds: 5 })
      .send("hello")
      .catch((e) => e);
    assert.ok(err instanceof TelegramSendError);
    assert.equal(err.errorCode, 429);
    // More requests than auto-retry alone makes (2), and bounded by the budget.
    assert.ok(fake.requests.length >= 3 && fake.requests.length <= 8, `${fake.requests.length} requests`);
    assert.equal(fake.delivered.length, 0);
  });

  it("fails with a clear error when retry_after exceeds the longest wait", async () => {
    fake.failNext({ kind: "rateLimit", retryAfter: 120 });
    const err = await notifier({ maxRetryAfterSeconds: 5 })
      .send("hello")
      .catch((e) => e);
    assert.ok(err instanceof TelegramSendError);
    assert.equal(err.errorCode, 429);
    assert.match(err.message, /rate limit \(retry after 120 s\)/);
    assert.equal(fake.requests.length, 1);
  });

  it("retries a 5xx and then delivers", async () => {
    fake.failNext({ kind: "serverError", status: 502 });
    await notifier().send("after a hiccup");
    assert.deepEqual(
      fake.requests.map((r) => r.status),
      [502, 200],
    );
    assert.equal(fake.delivered.length, 1);
  });

  it("retries a dropped connection (network error) and then delivers", async () => {
    fake.failNext({ kind: "drop" });
    await notifier().send("after a network error");
    assert.deepEqual(
      fake.requests.map((r) => r.status),
      [0, 200],
    );
    assert.equal(fake.delivered.length, 1);
  });

  it("gives up on a network error after the bounded attempts, naming the fix and not the token", async () => {
    fake.always({ kind: "drop" });
    const err = await notifier({ maxRetryAttempts: 2 })
      .send("x")
      .catch((e) => e);
    assert.ok(err instanceof TelegramSendError);
    assert.equal(fake.requests.length, 3);
    assert.match(err.message, /could not reach the Telegram Bot API/);
    assert.match(err.message, /apiRoot/);
    // The fetch error inside names the request URL; only the redacted form may show.
    assert.match(err.message, /bot\[secret\]\/sendMessage/);
    assert.ok(!err.message.includes(TOKEN), err.message);
  });

  it("a 400 chat not found names g8os:telegramChatId and is not retried", async () => {
    const n = new TelegramNotifier(
      { token: TOKEN, chatId: -100999, apiRoot: fake.apiRoot },
      { label: 'TelegramMessage "node-up"' },
    );
    const err = await n.send("x").catch((e) => e);
    assert.ok(err instanceof TelegramSendError);
    assert.equal(err.errorCode, 400);
    assert.match(err.message, /^TelegramMessage "node-up": send Telegram message failed/);
    assert.match(err.message, /chat not found/);
    assert.match(err.message, /g8os:telegramChatId/);
    assert.equal(fake.requests.length, 1);
    assert.ok(!err.message.includes(TOKEN));
  });

  it("a 401 names g8os:telegramBotToken and never shows the token", async () => {
    const wrong = "987654321:AAHwrongTokenWrongTokenWrongToken12";
    const n = new TelegramNotifier({ token: wrong, chatId: CHAT, apiRoot: fake.apiRoot });
    const err = await n.send("x").catch((e) => e);
    assert.ok(err instanceof TelegramSendError);
    assert.equal(err.errorCode, 401);
    assert.match(err.message, /g8os:telegramBotToken/);
    assert.ok(!err.message.includes(wrong));
    assert.ok(!String(err.stack).includes(wrong));
  });

  it("a 400 thread not found names g8os:telegramTopicId", async () => {
    fake.failNext({ kind: "threadNotFound" });
    const err = await notifier()
      .send("x")
      .catch((e) => e);
    assert.match(err.message, /g8os:telegramTopicId/);
  });

  it("reports the parts of a long message that went out before a failure", async () => {
    const n = notifier();
    fake.failNext({ kind: "pass" }, { kind: "unauthorized" });
    const err = await n.send("a".repeat(5000)).catch((e) => e);
    assert.ok(err instanceof TelegramSendError);
    assert.equal(err.sent.length, 1);
    assert.equal(fake.delivered.length, 1);
    // Resuming sends only what is missing.
    const parts = n.prepare("a".repeat(5000));
    const all = await n.sendParts(parts.slice(err.sent.length), {}, err.sent);
    assert.equal(all.length, 2);
    assert.equal(fake.delivered.map((m) => m.text).join(""), "a".repeat(5000));
  });

  it("rejects a malformed token before any request, without echoing it", () => {
    assert.throws(
      () => new TelegramNotifier({ token: "not a token", chatId: CHAT, apiRoot: fake.apiRoot }),
      (e: unknown) =>
        e instanceof InputError && /connection\.token/.test(e.message) && !e.message.includes("not a token"),
    );
    assert.equal(fake.requests.length, 0);
  });
});

describe("telegram: secrets never reach the chat", () => {
  let fake: TelegramFaultFake;
  beforeEach(async () => (fake = await startTelegramFaultFake({ token: TOKEN })));
  afterEach(async () => fake.stop());

  it("redacts the token and listed secrets from messages", async () => {
    const n = new TelegramNotifier(
      { token: TOKEN, chatId: CHAT, apiRoot: fake.apiRoot },
      { secrets: ["redis-pass-9f8e7d"] },
    );
    await n.send(`core0 password is redis-pass-9f8e7d and bot ${TOKEN}`);
    assert.equal(fake.delivered[0].text, "core0 password is [secret] and bot [secret]");
  });

  it("refuses a message holding a secret under onSecret: refuse, sending nothing", async () => {
    const n = new TelegramNotifier(
      { token: TOKEN, chatId: CHAT, apiRoot: fake.apiRoot },
      { secrets: ["redis-pass-9f8e7d"], onSecret: "refuse" },
    );
    const err = await n.send("pw redis-pass-9f8e7d").catch((e) => e);
    assert.ok(err instanceof InputError);
    assert.match(err.message, /contains a secret/);
    assert.ok(!err.message.includes("redis-pass-9f8e7d"));
    assert.equal(fake.requests.length, 0);
  });

  it("redacts a secret that would straddle a split boundary", async () => {
    const secret = "S3cretValue-0123456789";
    const n = new TelegramNotifier(
      { token: TOKEN, chatId: CHAT, apiRoot: fake.apiRoot },
      { secrets: [secret] },
    );
    const text = "y".repeat(TELEGRAM_MAX_MESSAGE_LENGTH - 5) + secret + "tail";
    await n.send(text);
    const all = fake.delivered.map((m) => m.text).join("");
    assert.ok(!all.includes(secret.slice(0, 5) + secret.slice(5)));
    assert.ok(!fake.delivered.some((m) => m.text.includes("S3cre") && m.text.endsWith("S3cre")));
    assert.ok(all.includes("[secret]"));
  });
});

describe("telegram: splitMessage", () => {
  it("keeps short texts whole and cuts long ones at line breaks", () => {
    assert.deepEqual(splitMessage("abc", 10), ["abc"]);
    assert.deepEqual(splitMessage("aaaa\nbbbb\ncccc", 10), ["aaaa\nbbbb", "cccc"]);
  });
  it("hard-cuts a line without breaks and never splits a surrogate pair", () => {
    const parts = splitMessage("a".repeat(9) + "😀" + "b", 10);
    assert.deepEqual(parts, ["a".repeat(9), "😀b"]);
    assert.equal(parts.join(""), "a".repeat(9) + "😀b");
  });
});

describe("telegram: TelegramDigest", () => {
  /** A notifier double that records sends and fails when told to. */
  function recorder() {
    const sent: Array<{ text: string; urgent: boolean }> = [];
    let failures = 0;
    return {
      sent,
      failNext(n: number) {
        failures = n;
      },
      send: async (text: string, opts: { urgent?: boolean } = {}) => {
        if (failures > 0) {
          failures--;
          throw new Error("Telegram down");
        }
        sent.push({ text, urgent: !!opts.urgent });
        return [{ messageId: sent.length, date: 0 }];
      },
    };
  }

  it("batches routine lines into one message per flush", async () => {
    const r = recorder();
    const d = new TelegramDigest(r, { flushIntervalMs: 0 });
    d.add("build core0: started");
    d.add("build core0: 10 %");
    d.add("build core0: done");
    await d.flush();
    assert.deepEqual(r.sent, [
      { text: "build core0: started\nbuild core0: 10 %\nbuild core0: done", urgent: false },
    ]);
    await d.flush();
    assert.equal(r.sent.length, 1);
  });

  it("holds routine lines when the per-minute budget is spent, sends them when it frees", async () => {
    let now = 1_000_000;
    const r = recorder();
    const d = new TelegramDigest(r, { flushIntervalMs: 0, maxMessagesPerMinute: 2, now: () => now });
    for (const line of ["a", "b", "c"]) {
      d.add(line);
      await d.flush();
    }
    assert.deepEqual(
      r.sent.map((s) => s.text),
      ["a", "b"],
    );
    assert.equal(d.pending.lines, 1);
    now += 61_000;
    await d.flush();
    assert.deepEqual(
      r.sent.map((s) => s.text),
      ["a", "b", "c"],
    );
  });

  it("sends an urgent message at once even when the budget is spent", async () => {
    const now = 1_000_000;
    const r = recorder();
    const d = new TelegramDigest(r, { flushIntervalMs: 0, maxMessagesPerMinute: 1, now: () => now });
    d.add("routine");
    await d.flush();
    d.add("routine 2");
    await d.urgent("BUILD FAILED: core0");
    assert.deepEqual(r.sent, [
      { text: "routine", urgent: false },
      { text: "BUILD FAILED: core0", urgent: true },
    ]);
    assert.equal(d.pending.lines, 1);
  });

  it("drops the oldest routine lines on overflow and says so, but never an urgent message", async () => {
    const r = recorder();
    const d = new TelegramDigest(r, { flushIntervalMs: 0, maxQueuedLines: 2 });
    r.failNext(1);
    await assert.rejects(d.urgent("FAILED: test suite"), /Telegram down/);
    for (const line of ["1", "2", "3", "4"]) d.add(line);
    assert.deepEqual(d.pending, { lines: 2, urgent: 1, dropped: 2 });
    await d.close();
    assert.deepEqual(r.sent, [
      { text: "FAILED: test suite", urgent: true },
      { text: "(2 earlier line(s) dropped: too many messages)\n3\n4", urgent: false },
    ]);
    assert.deepEqual(d.pending, { lines: 0, urgent: 0, dropped: 0 });
  });

  it("keeps routine lines queued when their send fails", async () => {
    const r = recorder();
    const d = new TelegramDigest(r, { flushIntervalMs: 0 });
    d.add("x");
    r.failNext(1);
    await assert.rejects(d.flush(), /Telegram down/);
    assert.equal(d.pending.lines, 1);
    await d.flush();
    assert.deepEqual(
      r.sent.map((s) => s.text),
      ["x"],
    );
  });

  it("close() fails loudly while an urgent message cannot be sent", async () => {
    const r = recorder();
    const d = new TelegramDigest(r, { flushIntervalMs: 0 });
    r.failNext(2);
    await assert.rejects(d.urgent("FAILED"));
    await assert.rejects(d.close(), /Telegram down/);
    assert.equal(d.pending.urgent, 1);
    await d.close();
    assert.deepEqual(r.sent, [{ text: "FAILED", urgent: true }]);
  });
});
