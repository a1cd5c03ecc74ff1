/**
 * The cockpit config's `status` and `robot` sections, checked key by key (config.ts checks the
 * rest and calls these).
 */
import * as fs from "fs";
import { Checker } from "./config-checker";
import type { RobotSettings } from "./robot/settings";
import type { StatusSettings } from "./status/settings";

/** Reads a secret file (mode 0600/0400); the value is never quoted in a message. */
function secretFile(c: Checker, f: string | undefined, key: string, what: string): string | undefined {
  if (!f) return undefined;
  try {
    if ((fs.statSync(f).mode & 0o077) !== 0)
      return c.fail(key, `${f} is readable by others`, `chmod 600 ${f}`);
    const v = fs.readFileSync(f, "utf8").trim();
    if (!v) return c.fail(key, `${f} is empty`, `write ${what} there, alone on one line`);
    return v;
  } catch {
    return c.fail(key, `${f} does not exist`, `write ${what} there (mode 0600)`);
  }
}

export function checkStatus(
  c: Checker,
  raw: unknown,
  abs: (p: string | undefined) => string | undefined,
): StatusSettings | undefined {
  const s = c.obj(raw, "status", true) ?? {};
  c.unknown(s, ["stack", "cacheSeconds", "onlineWithinSeconds", "zerotier", "core0"], "status.");
  const stack = c.str(s, "stack", "status.", "build");
  const cacheSeconds = c.int(s, "cacheSeconds", "status.", 30, 1, 3600);
  const onlineWithinSeconds = c.int(s, "onlineWithinSeconds", "status.", 300, 10, 86400);
  let zerotier: StatusSettings["zerotier"];
  if (s.zerotier !== undefined) {
    const z = c.obj(s.zerotier, "status.zerotier", true) ?? {};
    c.unknown(z, ["backend", "apiUrl", "tokenFile", "networkId"], "status.zerotier.");
    if (z.backend !== "central" && z.backend !== "controller")
      c.fail(
        "status.zerotier.backend",
        "is not central or controller",
        "set central (my.zerotier.com) or controller",
      );
    const apiUrl = c.url(z, "apiUrl", "status.zerotier.", true);
    const token = secretFile(
      c,
      abs(c.str(z, "tokenFile", "status.zerotier.")),
      "status.zerotier.tokenFile",
      "the ZeroTier API token",
    );
    let networkId: string | undefined;
    if (z.networkId !== undefined) {
      if (typeof z.networkId !== "string" || !/^[0-9a-f]{16}$/.test(z.networkId))
        c.fail(
          "status.zerotier.networkId",
          "is not a 16-hex network id",
          "give e.g. 8056c2e21c000001 or remove it",
        );
      else networkId = z.networkId;
    }
    if ((z.backend === "central" || z.backend === "controller") && apiUrl && token)
      zerotier = { backend: z.backend, apiUrl, token, ...(networkId ? { networkId } : {}) };
  }
  let core0: StatusSettings["core0"];
  if (s.core0 !== undefined) {
    const k = c.obj(s.core0, "status.core0", true) ?? {};
    c.unknown(k, ["passwordFile", "port"], "status.core0.");
    const password = secretFile(
      c,
      abs(c.str(k, "passwordFile", "status.core0.")),
      "status.core0.passwordFile",
      "the core0 nodes' redis password",
    );
    const port = c.int(k, "port", "status.core0.", 6379, 1, 65535);
    if (password && port) core0 = { password, port };
  }
  if (!stack || !cacheSeconds || !onlineWithinSeconds) return undefined;
  return {
    stack,
    cacheSeconds,
    onlineWithinSeconds,
    ...(zerotier ? { zerotier } : {}),
    ...(core0 ? { core0 } : {}),
  };
}

export function checkRobot(
  c: Checker,
  raw: unknown,
  abs: (p: string | undefined) => string | undefined,
): RobotSettings | undefined {
  const r = c.obj(raw, "robot", true) ?? {};
  c.unknown(
    r,
    ["tokenFile", "chatId", "topicId", "apiRoot", "operators", "pollSeconds", "maxMessagesPerMinute"],
    "robot.",
  );
  let token: string | undefined;
  const f = abs(c.str(r, "tokenFile", "robot."));
  if (f) {
    try {
      if ((fs.statSync(f).mode & 0o077) !== 0)
        c.fail("robot.tokenFile", `${f} is readable by others`, `chmod 600 ${f}`);
      else {
        token = fs.readFileSync(f, "utf8").trim();
        // The value is never quoted: it is the bot's whole credential.
        if (!/^\d+:[A-Za-z0-9_-]+$/.test(token)) {
          token = undefined;
          c.fail(
            "robot.tokenFile",
            `${f} does not hold a bot token (digits, a colon, then letters, digits, - or _)`,
            "write the token BotFather gave the bot there, alone on one line",
          );
        }
      }
    } catch {
      c.fail("robot.tokenFile", `${f} does not exist`, "write the bot token there (mode 0600)");
    }
  }
  const chatId = r.chatId;
  if (typeof chatId !== "number" || !Number.isInteger(chatId)) {
    c.fail(
      "robot.chatId",
      chatId === undefined ? "is missing" : "is not a whole number",
      "give the build group's chat id, e.g. -1001234567890",
    );
  }
  const topicId = r.topicId === undefined ? undefined : c.int(r, "topicId", "robot.", 1, 1, 2 ** 31 - 1);
  const apiRoot = r.apiRoot === undefined ? "https://api.telegram.org" : c.url(r, "apiRoot", "robot.", true);
  let operators: number[] = [];
  if (r.operators !== undefined) {
    if (
      !Array.isArray(r.operators) ||
      r.operators.some((o) => typeof o !== "number" || !Number.isInteger(o) || o <= 0)
    ) {
      c.fail(
        "robot.operators",
        "is not a list of Telegram user ids",
        "give e.g. [123456789] (ask @userinfobot)",
      );
    } else operators = r.operators as number[];
  }
  const pollSeconds = c.int(r, "pollSeconds", "robot.", 30, 0, 50);
  const maxMessagesPerMinute = c.int(r, "maxMessagesPerMinute", "robot.", 20, 1, 20);
  if (!token || typeof chatId !== "number" || !apiRoot || pollSeconds === undefined || !maxMessagesPerMinute)
    return undefined;
  return {
    token,
    chatId,
    ...(topicId !== undefined ? { topicId } : {}),
    apiRoot: apiRoot.replace(/\/+$/, ""),
    operators,
    pollSeconds,
    maxMessagesPerMinute,
  };
}
