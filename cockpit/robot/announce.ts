/**
 * Tells the group about runs, whoever asked for them (REST, page, robot, schedule): an approval
 * prompt when an `up` waits, and the result when a run ends (success: a routine digest line;
 * failure or cancel: at once). Texts are built from the run record (no inputs or outputs) and
 * redacted like the run logs.
 */
import type { Bot } from "grammy";
import { errorMessage } from "../../providers/shared/errors";
import { driftFindings } from "../drift/schedule";
import type { RunRecord } from "../runs/types";
import { postApproval } from "./approval";
import { clean, type RobotDeps } from "./deps";
import { resultText } from "./format";

/** Listens to the run manager; returns the function that stops listening. */
export function announceRuns(bot: Bot, deps: RobotDeps): () => void {
  const onChange = (r: RunRecord) => {
    // A drift run's findings are posted by drift.ts; a scheduled check that found nothing is not news.
    if (
      r.kind === "drift" &&
      r.state === "succeeded" &&
      (r.requestedBy.origin === "schedule" || driftFindings(r).length > 0)
    )
      return;
    if (r.state === "awaiting-approval") {
      postApproval(bot, deps, r).catch((err) => {
        deps.log(`robot: approval prompt of ${r.id} failed: ${clean(deps, errorMessage(err))}`);
        deps.outbox.urgent(
          `up of ${r.stack} waits for approval (run ${r.id}); approve on the page or POST /api/runs/${r.id}/approve`,
        );
      });
    } else if (r.state === "succeeded") {
      deps.outbox.routine(clean(deps, resultText(r)));
    } else if (r.state === "failed" || r.state === "cancelled") {
      deps.outbox.urgent(clean(deps, resultText(r)));
    }
  };
  deps.manager.on("change", onChange);
  return () => deps.manager.off("change", onChange);
}
