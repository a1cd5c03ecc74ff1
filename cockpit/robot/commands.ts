/**
 * The robot's commands. Viewers (the build group's members): /status, /runs, /log, /help.
 * Operators (`robot.operators`): also /preview, /up (preview, then approval with buttons),
 * /refresh, /cancel. A refusal names what was wrong and the fix, as the REST API's errors do.
 */
import type { Composer, Context } from "grammy";
import { errorMessage } from "../../providers/shared/errors";
import { RequestError } from "../errors";
import { parseRunRequest } from "../runs/request";
import { stackRunStatus } from "../runs/status";
import type { RunKind } from "../runs/types";
import { robotRequester, robotRole, type RobotRole } from "./access";
import { answer, type RobotDeps } from "./deps";
import { appsText, HELP_TEXT, logTail, nodesText, runLine, statusText } from "./format";

async function environment(deps: RobotDeps) {
  if (!deps.environment) {
    throw new RequestError(
      404,
      "environment status",
      "status",
      "is not configured",
      "add status: (stack, zerotier, core0) to the cockpit config",
    );
  }
  return deps.environment.get();
}

type Handler = (ctx: Context, deps: RobotDeps, arg: string) => Promise<void>;

const NEED_ARG: Record<string, string> = {
  preview: "stack",
  up: "stack",
  refresh: "stack",
  drift: "stack",
  cancel: "run",
  log: "run",
};

/** The role a command needs. */
const ACCESS: Record<string, Exclude<RobotRole, "none">> = {
  help: "viewer",
  start: "viewer",
  status: "viewer",
  runs: "viewer",
  nodes: "viewer",
  apps: "viewer",
  log: "viewer",
  preview: "operator",
  up: "operator",
  refresh: "operator",
  drift: "operator",
  cancel: "operator",
};

function startRun(kind: RunKind): Handler {
  return async (ctx, deps, stack) => {
    const req = parseRunRequest({ stack, kind });
    const { run, position } = deps.manager.create(req, robotRequester(ctx.from!, ctx.chat?.id));
    const when = position === 0 ? "started" : `queued at position ${position}`;
    const then = kind === "up" ? "; its preview is posted to the group for an operator's approval" : "";
    await answer(ctx, deps, `${kind} of ${stack} ${when}: run ${run.id}${then}`);
  };
}

const HANDLERS: Record<string, Handler> = {
  help: async (ctx, deps) => answer(ctx, deps, HELP_TEXT),
  start: async (ctx, deps) => answer(ctx, deps, HELP_TEXT),
  status: async (ctx, deps) => answer(ctx, deps, statusText(stackRunStatus(deps.manager, deps.stacks()))),
  runs: async (ctx, deps) => {
    const runs = deps.manager.list({ limit: 10 });
    await answer(ctx, deps, runs.length ? runs.map(runLine).join("\n") : "No runs yet.");
  },
  nodes: async (ctx, deps) => answer(ctx, deps, nodesText(await environment(deps))),
  apps: async (ctx, deps) => answer(ctx, deps, appsText(await environment(deps))),
  log: async (ctx, deps, id) => {
    const run = deps.manager.get(id);
    const text = deps.logs.read(run.id);
    await answer(ctx, deps, `${runLine(run)}\n${text ? logTail(text) : "(no log yet)"}`);
  },
  preview: startRun("preview"),
  up: startRun("up"),
  refresh: startRun("refresh"),
  drift: startRun("drift"),
  cancel: async (ctx, deps, id) => {
    const run = deps.manager.cancel(id, robotRequester(ctx.from!, ctx.chat?.id).user);
    await answer(ctx, deps, `cancel asked: ${runLine(run)}`);
  },
};

/** Registers every command on `bot`. */
export function registerCommands(bot: Composer<Context>, deps: RobotDeps): void {
  for (const [name, handle] of Object.entries(HANDLERS)) {
    bot.command(name, async (ctx) => {
      const role = robotRole(deps.settings, ctx.chat?.id, ctx.from?.id);
      const arg = (typeof ctx.match === "string" ? ctx.match : "").trim().split(/\s+/)[0] ?? "";
      try {
        if (role === "none") {
          throw new RequestError(
            403,
            `/${name}`,
            "chat",
            "this robot answers the build group and its operators only",
            "ask in the build group, or ask an admin to add your Telegram user id to robot.operators",
          );
        }
        if (ACCESS[name] === "operator" && role !== "operator") {
          throw new RequestError(
            403,
            `/${name}`,
            "role",
            `needs an operator; Telegram user ${ctx.from?.id} is a viewer`,
            "ask an operator, or have your Telegram user id added to robot.operators in the cockpit config",
          );
        }
        if (NEED_ARG[name] && !arg) {
          throw new RequestError(
            400,
            `/${name}`,
            NEED_ARG[name],
            "is missing",
            NEED_ARG[name] === "stack"
              ? `give a stack: /${name} <${deps.stacks().join("|")}>`
              : `give a run id: /${name} <run> (see /runs)`,
          );
        }
        await handle(ctx, deps, arg);
      } catch (err) {
        const text = err instanceof RequestError ? err.message : `/${name} failed: ${errorMessage(err)}`;
        await answer(ctx, deps, text).catch((e) => deps.log(`robot: answer failed: ${errorMessage(e)}`));
      }
    });
  }
}
