/**
 * Test code: Telegram users talking to the robot through the telegram-test-api emulator
 * (test/testbed/telegram `startTelegramEmulator`). The emulator's client routes take the update
 * as its own TelegramClient builds it (telegram-test-api 4.2.1 lib/modules/telegramClient.js
 * `makeCommand`, `makeCallbackQuery`; lib/routes/client/sendCommand.js, sendCallback.js,
 * getUpdatesHistory.js): `botToken`, `from`, `chat`, `text`, `entities` (`bot_command`), `date`.
 */
import * as http from "http";

export interface TgUser {
  id: number;
  username: string;
}

export interface TgChat {
  id: number;
  type: "private" | "supergroup";
}

/** A message the bot sent, as the emulator stored it (with its inline keyboard). */
export interface BotMessage {
  chatId: string;
  text: string;
  buttons: Array<{ text: string; data: string }>;
}

function post(apiRoot: string, route: string, body: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(
      `${apiRoot}${route}`,
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const common = (token: string, user: TgUser, chat: TgChat) => ({
  botToken: token,
  date: Math.floor(Date.now() / 1000),
  from: { id: user.id, is_bot: false, first_name: user.username, username: user.username },
  chat: {
    id: chat.id,
    type: chat.type,
    ...(chat.type === "private" ? { first_name: user.username } : { title: "build" }),
  },
});

/** `user` sends `text` (a command, entity over the first word) in `chat`. */
export async function sendCommand(
  apiRoot: string,
  token: string,
  user: TgUser,
  chat: TgChat,
  text: string,
): Promise<void> {
  const word = text.split(" ")[0];
  await post(apiRoot, "/sendCommand", {
    ...common(token, user, chat),
    text,
    entities: [{ offset: 0, length: word.length, type: "bot_command" }],
  });
}

/** `user` presses the inline button with `data` under a bot message in `chat`. */
export async function pressButton(
  apiRoot: string,
  token: string,
  user: TgUser,
  chat: TgChat,
  data: string,
): Promise<void> {
  const c = common(token, user, chat);
  await post(apiRoot, "/sendCallback", {
    botToken: token,
    date: c.date,
    from: c.from,
    message: { message_id: 1, date: c.date, chat: c.chat, from: c.from },
    data,
  });
}

/** Every message the bot sent, oldest first, with inline buttons. */
export async function botMessages(apiRoot: string, token: string): Promise<BotMessage[]> {
  const r = (await post(apiRoot, "/getUpdatesHistory", { token })) as {
    result: Array<{
      message: Record<string, unknown>;
      botToken: string;
      updateId: number;
      callbackQuery?: unknown;
    }>;
  };
  const out: BotMessage[] = [];
  for (const item of r.result) {
    const m = item.message;
    // User updates are in the history too; the bot's own messages carry chat_id.
    if (!m || m.chat_id === undefined) continue;
    const markup = m.reply_markup as
      { inline_keyboard?: Array<Array<{ text: string; callback_data: string }>> } | undefined;
    out.push({
      chatId: String(m.chat_id),
      text: String(m.text ?? ""),
      buttons: (markup?.inline_keyboard ?? []).flat().map((b) => ({ text: b.text, data: b.callback_data })),
    });
  }
  return out;
}
