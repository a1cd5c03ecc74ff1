/**
 * Drift in the group: each drift run that found resources differing from the state is posted at
 * once, naming the resources and fields, with a **Repair** button (callback `repair:<stack>`)
 * unless the schedule repaired it already. An operator's press asks an `up --refresh` from the
 * robot, which previews and waits for an operator's approval like any robot `up`.
 */
import type { Bot, Context } from "grammy";
import { errorMessage } from "../../providers/shared/errors";
import { splitMessage } from "../../providers/telegram/client";
import type { DriftReport, DriftSchedule } from "../drift/schedule";
import { RequestError } from "../errors";
import { robotRequester, robotRole } from "./access";
import { clean, type RobotDeps } from "./deps";

/** The drift post. */
export function driftText(r: DriftReport): string {
  const lines = [
    `drift in ${r.run.stack}: ${r.findings.length} resource(s) differ from the state (run ${r.run.id}, asked by ${r.run.requestedBy.user})`,
    ...r.findings.slice(0, 30).map((f) => {
      const name = f.urn.split("::").pop() ?? f.urn;
      return `  ${f.op === "delete" ? "gone" : "changed"} ${f.type} ${name}${f.fields.length ? ` [${f.fields.join(", ")}]` : ""}`;
    }),
  ];
  if (r.findings.length > 30) lines.push(`  ... and ${r.findings.length - 30} more`);
  lines.push(
    r.repairRunId
      ? `automatic repair asked: up --refresh, run ${r.repairRunId}`
      : "Repair: an operator presses Repair (up --refresh, previewed, then approved).",
  );
  return lines.join("\n");
}

async function postDrift(bot: Bot, deps: RobotDeps, r: DriftReport): Promise<void> {
  const parts = splitMessage(clean(deps, driftText(r)));
  const s = deps.settings;
  for (let i = 0; i < parts.length; i++) {
    const button = i === parts.length - 1 && !r.repairRunId;
    await bot.api.sendMessage(s.chatId, parts[i], {
      ...(s.topicId ? { message_thread_id: s.topicId } : {}),
      link_preview_options: { is_disabled: true },
      ...(button
        ? {
            reply_markup: { inline_keyboard: [[{ text: "Repair", callback_data: `repair:${r.run.stack}` }]] },
          }
        : {}),
    });
  }
}

/** Posts drift reports and handles the Repair button. */
export function registerDrift(bot: Bot, deps: RobotDeps, drift: DriftSchedule): void {
  drift.onDrift((r) => {
    postDrift(bot, deps, r).catch((err) => {
      deps.log(`robot: drift post of ${r.run.id} failed, queued: ${clean(deps, errorMessage(err))}`);
      // Never dropped: the outbox retries it (without the button; /up <stack> repairs too).
      deps.outbox.urgent(clean(deps, driftText(r)));
    });
  });
  bot.callbackQuery(/^repair:(.+)$/, async (ctx: Context) => {
    const stack = (ctx.match as RegExpMatchArray)[1];
    let notice: string;
    try {
      if (robotRole(deps.settings, undefined, ctx.from?.id) !== "operator") {
        throw new RequestError(
          403,
          `repair of ${stack}`,
          "role",
          "only operators repair",
          "ask an operator (robot.operators)",
        );
      }
      const { run } = deps.manager.create(
        { stack, kind: "up", refresh: true },
        robotRequester(ctx.from!, ctx.chat?.id),
      );
      notice = `repair asked: run ${run.id}; its preview comes for approval`;
    } catch (err) {
      notice = err instanceof RequestError ? `${err.problem}. ${err.fix}` : errorMessage(err);
    }
    await ctx
      .answerCallbackQuery({ text: clean(deps, notice).slice(0, 200) })
      .catch((err) => deps.log(`robot: callback answer failed: ${clean(deps, errorMessage(err))}`));
  });
}
