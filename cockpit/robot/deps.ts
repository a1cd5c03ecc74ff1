/**
 * What the robot's handlers use, and the one way they answer: every text is redacted (the
 * cockpit's secrets and the bot token) and split to Telegram's length limit before it is sent.
 */
import type { Context } from "grammy";
import { redact } from "../../providers/shared/errors";
import { splitMessage } from "../../providers/telegram/client";
import type { RunLogs } from "../runs/log";
import type { RunManager } from "../runs/manager";
import type { DriftSchedule } from "../drift/schedule";
import type { EnvironmentSource } from "../status/environment";
import type { GroupOutbox } from "./outbox";
import type { RobotSettings } from "./settings";

export interface RobotDeps {
  /** The robot's config. */
  settings: RobotSettings;
  /** The runs. */
  manager: RunManager;
  /** The run logs (already redacted when written). */
  logs: RunLogs;
  /** The stack names of the project. */
  stacks: () => string[];
  /** The cockpit's redaction (passphrase, login secret), the same the run logs use. */
  redact: (text: string) => string;
  /** The environment's status (config `status:`); unset: /nodes and /apps say it is not configured. */
  environment?: EnvironmentSource;
  /** Drift runs that found something are reported here. */
  drift: DriftSchedule;
  /** Posts to the build group. */
  outbox: GroupOutbox;
  /** The service log. */
  log: (line: string) => void;
}

/** `text` without the cockpit's secrets nor the bot token. */
export function clean(deps: RobotDeps, text: string): string {
  return redact(deps.redact(text), [deps.settings.token]);
}

/** Answers in the chat the update came from (the same forum topic), redacted and split. */
export async function answer(ctx: Context, deps: RobotDeps, text: string): Promise<void> {
  const thread = ctx.msg?.message_thread_id;
  for (const part of splitMessage(clean(deps, text))) {
    await ctx.reply(part, {
      link_preview_options: { is_disabled: true },
      ...(thread !== undefined && ctx.msg?.is_topic_message ? { message_thread_id: thread } : {}),
    });
  }
}
