/**
 * Approval in the group: when an `up` has previewed and waits, the robot posts the preview with
 * two inline buttons (Approve, Cancel; callback data `approve:<run>` / `cancel:<run>`). Only an
 * operator's press acts; anyone else gets a short notice on the button and nothing changes.
 */
import type { Bot, Context } from "grammy";
import { errorMessage } from "../../providers/shared/errors";
import { splitMessage } from "../../providers/telegram/client";
import { RequestError } from "../errors";
import type { RunRecord } from "../runs/types";
import { robotRequester, robotRole } from "./access";
import { clean, type RobotDeps } from "./deps";
import { approvalText } from "./format";

/** Posts the approval prompt of `run` (state `awaiting-approval`) to the group. */
export async function postApproval(bot: Bot, deps: RobotDeps, run: RunRecord): Promise<void> {
  const parts = splitMessage(clean(deps, approvalText(run)));
  const s = deps.settings;
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    await bot.api.sendMessage(s.chatId, parts[i], {
      ...(s.topicId ? { message_thread_id: s.topicId } : {}),
      link_preview_options: { is_disabled: true },
      ...(last
        ? {
            reply_markup: {
              inline_keyboard: [
                [
                  { text: "Approve", callback_data: `approve:${run.id}` },
                  { text: "Cancel", callback_data: `cancel:${run.id}` },
                ],
              ],
            },
          }
        : {}),
    });
  }
}

/** Handles the buttons' presses. */
export function registerApproval(bot: Bot, deps: RobotDeps): void {
  bot.callbackQuery(/^(approve|cancel):(.+)$/, async (ctx: Context) => {
    const [, action, id] = ctx.match as RegExpMatchArray;
    const from = ctx.from;
    const role = robotRole(deps.settings, undefined, from?.id);
    let notice: string;
    let post: string | undefined;
    try {
      if (role !== "operator") {
        throw new RequestError(
          403,
          `${action} of run ${id}`,
          "role",
          "only operators approve or cancel",
          "ask an operator (robot.operators)",
        );
      }
      const user = robotRequester(from!, ctx.chat?.id).user;
      const run = action === "approve" ? deps.manager.approve(id, user) : deps.manager.cancel(id, user);
      notice = action === "approve" ? "approved" : "cancel asked";
      post = `${action === "approve" ? "approved" : "cancelled"} by ${user}: up of ${run.stack} (run ${run.id})`;
    } catch (err) {
      notice = err instanceof RequestError ? `${err.problem}. ${err.fix}` : errorMessage(err);
    }
    try {
      await ctx.answerCallbackQuery({ text: clean(deps, notice).slice(0, 200) });
      if (post) deps.outbox.urgent(post);
    } catch (err) {
      deps.log(`robot: callback answer failed: ${clean(deps, errorMessage(err))}`);
    }
  });
}
