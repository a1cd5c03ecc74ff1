/**
 * Telegram Bot API stand-ins for tests, both on loopback ephemeral ports:
 * - `startTelegramEmulator`: the third-party `telegram-test-api` emulator (happy path: real Bot API
 *   routes and answer shapes), plus a reader for what a chat received;
 * - `startTelegramFaultFake`: a small plain-http Bot API that answers with faults on demand (429 with
 *   `parameters.retry_after`, 5xx, 400 chat/thread not found, 401, a dropped connection) and records
 *   every request, for the paths the emulator cannot produce.
 */
import * as http from "http";
import type { AddressInfo } from "net";

/** A message as a chat received it. */
export interface ReceivedMessage {
  chatId: string;
  text: string;
  threadId?: number;
  disableNotification: boolean;
}

function toReceived(body: Record<string, unknown>): ReceivedMessage {
  const thread = body.message_thread_id;
  const silent = body.disable_notification;
  return {
    chatId: String(body.chat_id),
    text: String(body.text ?? ""),
    threadId: thread === undefined || thread === null ? undefined : Number(thread),
    disableNotification: silent === true || silent === "true",
  };
}

export interface TelegramEmulator {
  /** Bot API root to give the notifier (`http://127.0.0.1:<port>`). */
  apiRoot: string;
  /** Messages the bot with `token` sent, oldest first, optionally only those to `chatId`. */
  messages(token: string, chatId?: string | number): ReceivedMessage[];
  stop(): Promise<void>;
}

/** Starts telegram-test-api on 127.0.0.1 and an ephemeral port. */
export async function startTelegramEmulator(): Promise<TelegramEmulator> {
  // The package's main module is the server class itself (module.exports = TelegramServer).
  const TelegramServer = require("telegram-test-api") as typeof import("telegram-test-api").default;
  const emulator = new TelegramServer({ host: "127.0.0.1", storeTimeout: 3600 });
  // Its start() maps port 0 to 9000; serve its express app ourselves to get an ephemeral port.
  const app = (emulator as unknown as { webServer: http.RequestListener }).webServer;
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    apiRoot: `http://127.0.0.1:${port}`,
    messages: (token, chatId) =>
      emulator.storage.botMessages
        .filter((m) => m.botToken === token)
        .map((m) => toReceived(m.message as unknown as Record<string, unknown>))
        .filter((m) => chatId === undefined || m.chatId === String(chatId)),
    stop: () => closeServer(server),
  };
}

/** What the fault fake does with one upcoming request. */
export type TelegramFault =
  | { kind: "rateLimit"; retryAfter: number }
  | { kind: "serverError"; status?: number }
  | { kind: "chatNotFound" }
  | { kind: "threadNotFound" }
  | { kind: "unauthorized" }
  /** Closes the connection without an answer (a network error on the client side). */
  | { kind: "drop" }
  /** Answers normally: lets a queued fault hit a later request. */
  | { kind: "pass" };

export interface RecordedRequest {
  method: string;
  token: string;
  body: Record<string, unknown>;
  /** Status the fake answered, or 0 for a dropped connection. */
  status: number;
  /** When the request's body was read, ms since the epoch (per-minute counts in the benches). */
  at: number;
}

export interface TelegramFaultFakeOptions {
  /** The one token the fake accepts; others get 401 Unauthorized. */
  token: string;
  /** Chats that exist; others get 400 chat not found. Default: any chat. */
  chats?: Array<string | number>;
}

export interface TelegramFaultFake {
  apiRoot: string;
  /** Every request, in order, whatever the answer. */
  requests: RecordedRequest[];
  /** Messages that were accepted. */
  delivered: ReceivedMessage[];
  /** Queues faults for the next requests, one per request, in order. */
  failNext(...faults: TelegramFault[]): void;
  /** Answers every following request with this fault until `always(undefined)`. */
  always(fault: TelegramFault | undefined): void;
  stop(): Promise<void>;
}

/** Starts a Bot API fake on 127.0.0.1 and an ephemeral port. */
export async function startTelegramFaultFake(opts: TelegramFaultFakeOptions): Promise<TelegramFaultFake> {
  const queue: TelegramFault[] = [];
  let standing: TelegramFault | undefined;
  const requests: RecordedRequest[] = [];
  const delivered: ReceivedMessage[] = [];
  let nextMessageId = 1;
  const chats = opts.chats?.map(String);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(req.url ?? "");
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length
          ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>)
          : {};
      } catch {
        body = {};
      }
      const record: RecordedRequest = {
        method: m?.[2] ?? "",
        token: m?.[1] ?? "",
        body,
        status: 0,
        at: Date.now(),
      };
      requests.push(record);
      const answer = (status: number, payload: unknown): void => {
        record.status = status;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(payload));
      };
      const error = (code: number, description: string, parameters?: Record<string, unknown>): void =>
        answer(code, { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) });

      if (!m) return error(404, "Not Found");
      const fault = queue.shift() ?? standing;
      if (fault && fault.kind !== "pass") {
        switch (fault.kind) {
          case "rateLimit":
            return error(429, `Too Many Requests: retry after ${fault.retryAfter}`, {
              retry_after: fault.retryAfter,
            });
          case "serverError":
            return error(fault.status ?? 502, "Bad Gateway");
          case "chatNotFound":
            return error(400, "Bad Request: chat not found");
          case "threadNotFound":
            return error(400, "Bad Request: message thread not found");
          case "unauthorized":
            return error(401, "Unauthorized");
          case "drop":
            req.socket.destroy();
            return;
        }
      }
      if (record.token !== opts.token) return error(401, "Unauthorized");
      if (record.method === "getMe") {
        return answer(200, {
          ok: true,
          result: { id: 1, is_bot: true, first_name: "g8os", username: "g8os_bot" },
        });
      }
      if (record.method !== "sendMessage") return error(404, "Not Found: method not found");
      const msg = toReceived(body);
      if (chats && !chats.includes(msg.chatId)) return error(400, "Bad Request: chat not found");
      if (!msg.text) return error(400, "Bad Request: message text is empty");
      if (msg.text.length > 4096) return error(400, "Bad Request: message is too long");
      delivered.push(msg);
      const id = nextMessageId++;
      return answer(200, {
        ok: true,
        result: {
          message_id: id,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(msg.chatId), type: "supergroup", title: "G8OS build" },
          text: msg.text,
          ...(msg.threadId !== undefined ? { message_thread_id: msg.threadId } : {}),
        },
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    apiRoot: `http://127.0.0.1:${port}`,
    requests,
    delivered,
    failNext: (...faults) => queue.push(...faults),
    always: (fault) => (standing = fault),
    stop: () => closeServer(server),
  };
}

/** Closes a server including keep-alive connections (grammY keeps them open). */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
