/**
 * Harness program: something the stack builds (an inline SshKeyGroup, no network) and a
 * TelegramMessage announcing it, as the build stack does for each host.
 * Config: g8os:telegramBotToken (secret), g8os:telegramChatId, g8os:telegramApiRoot, g8os:announceKey (optional),
 * g8os:inlineKey.
 */
import * as pulumi from "@pulumi/pulumi";
import { SshKeyGroup } from "../../../providers/keys/group";
import { TelegramMessage } from "../../../providers/telegram/message";

const config = new pulumi.Config("g8os");

const group = new SshKeyGroup("admins", { source: { kind: "inline", keys: [config.require("inlineKey")] } });

const message = new TelegramMessage(
  "keys-ready",
  {
    connection: {
      token: config.requireSecret("telegramBotToken"),
      chatId: config.require("telegramChatId"),
      apiRoot: config.require("telegramApiRoot"),
    },
    text: pulumi.interpolate`SSH key group ready: ${group.keys.apply((k) => k.length)} key(s)`,
    key: config.get("announceKey"),
  },
  { dependsOn: [group] },
);

export = { keyCount: group.keys.apply((k) => k.length), messageIds: message.messageIds };
