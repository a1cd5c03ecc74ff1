/**
 * TelegramMessage: one announcement to the build group ("node ovh4 joined the build network at
 * 10.147.17.5"), sent once when created and again only when its text, `key`, chat or topic changes.
 *
 * Decisions:
 * - delete sends nothing and deletes nothing: a sent message is history the group has read (and
 *   bots may only delete messages younger than 48 h). Destroying the stack leaves the chat as it is.
 * - read (refresh) calls nothing: the Bot API cannot read a message back.
 * - A FAILED notification fails this resource only. `pulumi up` reports it in red, naming Telegram and
 *   the config key to fix (g8os:telegramBotToken / telegramChatId / telegramTopicId). The message
 *   depends on what it announces and nothing depends on it, so the infrastructure it announces is
 *   already in state and stays there; the message is not recorded, and the next `up` sends it.
 *   Stacks must not make other resources depend on a TelegramMessage.
 * - A long text goes out as several messages. If some went out before a failure, the resource is
 *   recorded as a partial create with what was sent; the next `up` sends only the missing parts.
 * - State holds a sha256 of the text, not the text: a text built from secret values stays out of
 *   state, and the token never leaves the (secret) `connection` input.
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckFailure, InputError, resourceLabel } from "../shared/errors";
import { containsUnknown, diffFields, partialCreateError, plainOutputs } from "../shared/dynamic";
import { collectFailures, httpUrl, intInRange, nonEmptyString } from "../shared/validate";
import { type SentMessage, type TelegramConnection, TelegramNotifier, TelegramSendError } from "./client";

export interface TelegramMessageInputs {
  /** Resource name, for messages. */
  name: string;
  connection: TelegramConnection;
  text: string;
  /** Change it to send the same text again (e.g. a build run id). */
  key?: string;
  /** A failure: sent with a notification sound. */
  urgent?: boolean;
  /** Values redacted from the text before it is sent (the token always is). */
  secrets?: string[];
}

export interface TelegramMessageOutputs {
  name: string;
  chatId: string;
  topicId?: number;
  apiRoot?: string;
  textSha256: string;
  key?: string;
  urgent: boolean;
  /** Ids of the messages sent (one per part of a long text). */
  messageIds: number[];
  /** Date of the first message, as the Bot API gave it. */
  date: number;
  /** Parts the text needed; fewer `messageIds` means the last send stopped half-way. */
  parts: number;
}

const KIND = "TelegramMessage";

function label(i: { name?: unknown }): string {
  return resourceLabel(KIND, typeof i.name === "string" ? i.name : "?");
}

function sha256(text: string): string {
  const crypto = require("crypto") as typeof import("crypto");
  return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}

/** What decides whether the group has seen this message: the fields compared by diff. */
function audience(i: TelegramMessageInputs): Record<string, unknown> {
  return {
    chatId: containsUnknown(i.connection) ? i.connection : String(i.connection?.chatId),
    topicId: containsUnknown(i.connection) ? i.connection : i.connection?.topicId,
    textSha256: containsUnknown(i.text) ? i.text : sha256(i.text),
    key: i.key,
  };
}
const AUDIENCE_FIELDS = ["chatId", "topicId", "textSha256", "key"];

export function checkMessageInputs(i: Partial<TelegramMessageInputs>): CheckFailure[] {
  const c = i.connection;
  const connectionKnown = c !== undefined && !containsUnknown(c);
  const failures = collectFailures([
    { path: "text", value: i.text, check: nonEmptyString },
    {
      path: "key",
      value: i.key,
      check: (v) => (typeof v === "string" ? undefined : "must be a string"),
      optional: true,
    },
    {
      path: "urgent",
      value: i.urgent,
      check: (v) => (typeof v === "boolean" ? undefined : "must be true or false"),
      optional: true,
    },
    { path: "connection", value: c, check: (v) => (typeof v === "object" ? undefined : "must be an object") },
  ]);
  if (connectionKnown && typeof c === "object") {
    failures.push(
      ...collectFailures([
        {
          path: "connection.token",
          value: c.token,
          // Never quote the value: it is the bot token.
          check: (v) =>
            typeof v === "string" && /^\d+:[A-Za-z0-9_-]+$/.test(v)
              ? undefined
              : "is not a bot token (digits, a colon, then letters, digits, - or _): set g8os:telegramBotToken",
        },
        {
          path: "connection.chatId",
          value: c.chatId,
          check: (v) =>
            (typeof v === "number" && Number.isInteger(v)) ||
            (typeof v === "string" && /^(-?\d+|@\w{5,})$/.test(v))
              ? undefined
              : "must be a chat id like -1001234567890 or @channelname: set g8os:telegramChatId",
        },
        { path: "connection.topicId", value: c.topicId, check: intInRange(1, 2 ** 31 - 1), optional: true },
        {
          path: "connection.apiRoot",
          value: c.apiRoot,
          check: (v) => httpUrl(v) ?? (String(v).endsWith("/") ? "must not end with /" : undefined),
          optional: true,
        },
      ]),
    );
  }
  return failures;
}

function notifierFor(i: TelegramMessageInputs): TelegramNotifier {
  return new TelegramNotifier(i.connection, { label: label(i), secrets: i.secrets ?? [] });
}

function outputsFor(i: TelegramMessageInputs, sent: SentMessage[], parts: number): TelegramMessageOutputs {
  const outs: TelegramMessageOutputs = {
    name: i.name,
    chatId: String(i.connection.chatId),
    topicId: i.connection.topicId,
    apiRoot: i.connection.apiRoot,
    textSha256: sha256(i.text),
    key: i.key,
    urgent: !!i.urgent,
    messageIds: sent.map((m) => m.messageId),
    date: sent[0]?.date ?? 0,
    parts,
  };
  return plainOutputs(outs as unknown as Record<string, unknown>) as unknown as TelegramMessageOutputs;
}

/** Sends `parts` (resuming after `already`); a failure after some parts is a partial create/update. */
async function sendAll(
  id: string | undefined,
  i: TelegramMessageInputs,
  parts: string[],
  already: SentMessage[],
): Promise<{ id: string; outs: TelegramMessageOutputs }> {
  const notifier = notifierFor(i);
  try {
    const sent = await notifier.sendParts(parts.slice(already.length), { urgent: i.urgent }, already);
    return {
      id: id ?? `${i.connection.chatId}/${sent[0].messageId}`,
      outs: outputsFor(i, sent, parts.length),
    };
  } catch (err) {
    const sent = err instanceof TelegramSendError ? err.sent : already;
    if (sent.length === 0) throw err; // nothing went out: nothing to record, the next up sends it
    const partialId = id ?? `${i.connection.chatId}/${sent[0].messageId}`;
    throw partialCreateError(
      err,
      partialId,
      outputsFor(i, sent, parts.length) as unknown as Record<string, unknown>,
    );
  }
}

export const telegramMessageProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: TelegramMessageInputs, news: TelegramMessageInputs) {
    const failures = checkMessageInputs(news);
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: TelegramMessageOutputs, news: TelegramMessageInputs) {
    const d = diffFields(
      olds as unknown as Record<string, unknown>,
      { ...news, ...audience(news) },
      {
        updateOn: AUDIENCE_FIELDS,
      },
    );
    // A long message whose last send stopped half-way still owes the group its remaining parts.
    const unfinished = (olds.messageIds?.length ?? 0) < (olds.parts ?? 0);
    return { changes: d.changes || unfinished, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: TelegramMessageInputs) {
    const parts = notifierFor(inputs).prepare(inputs.text);
    return sendAll(undefined, inputs, parts, []);
  },

  async read(id: string, props: TelegramMessageOutputs) {
    return { id, props };
  },

  async update(id: string, olds: TelegramMessageOutputs, news: TelegramMessageInputs) {
    const parts = notifierFor(news).prepare(news.text);
    const { changed } = diffFields(olds as unknown as Record<string, unknown>, audience(news), {
      updateOn: AUDIENCE_FIELDS,
    });
    // Same message, cut short last time: send only what is missing. Otherwise a new message.
    const already: SentMessage[] =
      changed.length === 0
        ? (olds.messageIds ?? []).map((messageId) => ({ messageId, date: olds.date }))
        : [];
    const { outs } = await sendAll(id, news, parts, already);
    return { outs };
  },

  async delete() {
    // A sent message is history: see the module comment.
  },
};

export interface TelegramMessageArgs {
  /** Bot token (wrapped as a secret), chat id, optional topic id and Bot API root. */
  connection: pulumi.Input<{
    token: pulumi.Input<string>;
    chatId: pulumi.Input<string | number>;
    topicId?: pulumi.Input<number>;
    apiRoot?: pulumi.Input<string>;
  }>;
  /** Plain text, any length (split at 4096 characters). */
  text: pulumi.Input<string>;
  /** Change it to send the same text again. */
  key?: pulumi.Input<string>;
  /** A failure: sent with a notification sound; routine messages are silent. */
  urgent?: pulumi.Input<boolean>;
  /** Values to redact from the text (wrapped as secrets). */
  secrets?: pulumi.Input<pulumi.Input<string>[]>;
}

/**
 * Sends `text` to the build group once. Give it `dependsOn` (or inputs from) what it announces, and
 * never make anything depend on it: a failed notification then fails only this resource.
 */
export class TelegramMessage extends pulumi.dynamic.Resource {
  declare readonly chatId: pulumi.Output<string>;
  declare readonly topicId: pulumi.Output<number | undefined>;
  declare readonly messageIds: pulumi.Output<number[]>;
  declare readonly date: pulumi.Output<number>;
  declare readonly textSha256: pulumi.Output<string>;

  constructor(name: string, args: TelegramMessageArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.connection) {
      throw new InputError(resourceLabel(KIND, name), "connection", "is missing", "pass { token, chatId }");
    }
    super(
      telegramMessageProvider,
      name,
      {
        name,
        connection: pulumi.secret(args.connection),
        text: args.text,
        key: args.key,
        urgent: args.urgent,
        secrets: args.secrets === undefined ? undefined : pulumi.secret(args.secrets),
        chatId: undefined,
        topicId: undefined,
        messageIds: undefined,
        date: undefined,
        textSha256: undefined,
      },
      opts,
      "telegram",
      "Message",
    );
  }
}
