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
import { containsUnknown, partialCreateError, plainOutputs } from "../shared/dynamic";
import { sha256 } from "../shared/hash";
import { collectFailures, httpUrl, intInRange, isBool, isString, nonEmptyString } from "../shared/validate";
import { declareResource, optional, required, type KitInputs } from "../shared/resource-kit";
import { KitResource, type KitArgs } from "../shared/kit-resource";
import { type SentMessage, type TelegramConnection, TelegramNotifier, TelegramSendError } from "./client";

const fields = {
  /** Resource name, for messages. Set by the constructor. */
  name: required<string>({ change: "none" }),
  /** Plain text, any length (split at 4096 characters). Diffed through its sha256. */
  text: required<string>({ validate: nonEmptyString, change: "none" }),
  /** Change it to send the same text again (e.g. a build run id). Default none. */
  key: optional<string>({ validate: isString }),
  /** A failure: sent with a notification sound; routine messages are silent. Default false. */
  urgent: optional<boolean>({ validate: isBool, change: "none" }),
  /**
   * Bot token (wrapped as a secret), chat id, optional topic id and Bot API root (no trailing /).
   * Diffed through the chat and topic it names.
   */
  connection: required<TelegramConnection>({
    validate: (v) => (typeof v === "object" ? undefined : "must be an object"),
    secret: "input",
    change: "none",
  }),
  /** Values redacted from the text before it is sent (the token always is); wrapped as secrets. */
  secrets: optional<string[]>({ secret: "input", change: "none" }),
};

function connectionFailures(i: Record<string, unknown>): CheckFailure[] {
  const c = i.connection as Partial<TelegramConnection> | undefined;
  if (c === undefined || containsUnknown(c) || typeof c !== "object") return [];
  return collectFailures([
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
  ]);
}

/** The TelegramMessage declaration: type token telegram:Message; the connection's parts as a hook. */
export const telegramMessageKit = declareResource({
  kind: "TelegramMessage",
  module: "telegram",
  type: "Message",
  fields,
  outputs: ["chatId", "topicId", "messageIds", "date", "textSha256"],
  rules: connectionFailures,
});

export type TelegramMessageInputs = KitInputs<typeof fields>;

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

const label = (i: object): string => telegramMessageKit.label(i);

/** What decides whether the group has seen this message, besides `key`: derived, compared by diff. */
function audience(i: TelegramMessageInputs): Record<string, unknown> {
  return {
    chatId: containsUnknown(i.connection) ? i.connection : String(i.connection?.chatId),
    topicId: containsUnknown(i.connection) ? i.connection : i.connection?.topicId,
    textSha256: containsUnknown(i.text) ? i.text : sha256(i.text),
  };
}
const AUDIENCE = { update: ["chatId", "topicId", "textSha256"] };

/** Every failure of the inputs (fields, then the connection's parts). */
export function checkMessageInputs(i: Partial<TelegramMessageInputs>): CheckFailure[] {
  return telegramMessageKit.check(i).failures;
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
    return telegramMessageKit.check(news);
  },

  async diff(_id: string, olds: TelegramMessageOutputs, news: TelegramMessageInputs) {
    const d = telegramMessageKit.diff(olds, { ...news, ...audience(news) }, AUDIENCE);
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
    const { changed } = telegramMessageKit.diff(olds, { ...news, ...audience(news) }, AUDIENCE);
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

/** TelegramMessage's arguments (everything but `name`, which is the resource name). */
export type TelegramMessageArgs = Omit<KitArgs<typeof fields>, "name">;

/**
 * Sends `text` to the build group once. Give it `dependsOn` (or inputs from) what it announces, and
 * never make anything depend on it: a failed notification then fails only this resource.
 */
export class TelegramMessage extends KitResource {
  declare readonly chatId: pulumi.Output<string>;
  declare readonly topicId: pulumi.Output<number | undefined>;
  declare readonly messageIds: pulumi.Output<number[]>;
  declare readonly date: pulumi.Output<number>;
  declare readonly textSha256: pulumi.Output<string>;

  constructor(name: string, args: TelegramMessageArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.connection) {
      throw new InputError(
        resourceLabel(telegramMessageKit.decl.kind, name),
        "connection",
        "is missing",
        "pass { token, chatId }",
      );
    }
    super(
      telegramMessageKit,
      telegramMessageProvider,
      name,
      {
        name,
        connection: args.connection,
        text: args.text,
        key: args.key,
        urgent: args.urgent,
        secrets: args.secrets,
      },
      opts,
    );
  }
}
