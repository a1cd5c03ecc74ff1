/**
 * The REST routes, as data: the server dispatches on this table and `openapi.ts` builds the
 * OpenAPI document from the same table, so the document cannot drift from what is served.
 */
import type * as http from "http";
import type { Principal } from "../auth/authenticator";
import type { LoginFlow } from "../auth/login";
import type { Role } from "../auth/roles";
import type { TokenStore } from "../auth/tokens";
import { RequestError } from "../errors";
import type { StackEngine } from "../runs/engine";
import type { EnvironmentSource } from "../status/environment";
import type { RunLogs } from "../runs/log";
import type { RunManager } from "../runs/manager";
import { parseRunRequest } from "../runs/request";
import { stackRunStatus } from "../runs/status";
import { FINAL_STATES, type RunState } from "../runs/types";
import * as schemas from "./schemas";

/** What the handlers use. */
export interface ApiDeps {
  /** The runs. */
  manager: RunManager;
  /** The run logs. */
  logs: RunLogs;
  /** The environment's status from state and live checks (config `status:`); unset: none. */
  environment?: EnvironmentSource;
  /** The engine (for resources from state). */
  engine: StackEngine;
  /** API tokens. */
  tokens: TokenStore;
  /** The stack names of the project. */
  stacks: () => string[];
  /** The cockpit's version string (package version). */
  version: string;
  /** Interval of the SSE keepalive comment, ms. Default 15000. */
  sseKeepaliveMs?: number;
  /** The browser login flow (OIDC mode with `auth.login` set); unset: /auth/* answer 404. */
  login?: LoginFlow;
}

/** One call as a handler sees it. */
export interface Ctx {
  /** Path parameters by name. */
  params: Record<string, string>;
  /** Query parameters. */
  query: URLSearchParams;
  /** The parsed JSON body (undefined when none). */
  body: unknown;
  /** Who asks (undefined on public routes). */
  principal?: Principal;
  /** The client's address. */
  from: string;
  /** The raw request (streaming routes watch it). */
  req: http.IncomingMessage;
  /** The raw response (streaming routes write to it and return `streamed`). */
  res: http.ServerResponse;
}

/** A handler's answer: status, JSON body and extra headers, or `streamed` when it wrote the response itself. */
export type Reply = { status: number; body: unknown; headers?: Record<string, string> } | "streamed";

/** One documented response. */
export interface RouteResponse {
  /** What it means. */
  description: string;
  /** JSON schema of the body (`application/json`), or a plain content type with no schema. */
  schema?: object;
  /** Content type when not JSON (e.g. `text/event-stream`). */
  contentType?: string;
}

/** One route. */
export interface Route {
  /** HTTP method. */
  method: "GET" | "POST" | "DELETE";
  /** Path with `{param}` placeholders. */
  path: string;
  /** OpenAPI operation id. */
  operationId: string;
  /** One line: what it does. */
  summary: string;
  /** Who may call it: `public` (no login), or the lowest role. */
  access: "public" | Role;
  /** Query parameters: name -> description (all optional strings). */
  query?: Record<string, string>;
  /** JSON schema of the request body, when it takes one. */
  body?: object;
  /** The responses by status; the first is the success status. */
  responses: Record<string, RouteResponse>;
  /** Does the work. */
  handle: (ctx: Ctx, deps: ApiDeps) => Promise<Reply>;
}

const ERR = (d: string): RouteResponse => ({ description: d, schema: schemas.error });
const AUTH_ERRORS = { "401": ERR("no login or the login is refused"), "403": ERR("the role is too low") };

function stackName(ctx: Ctx, deps: ApiDeps): string {
  const s = ctx.params.stack;
  if (!deps.stacks().includes(s)) {
    throw new RequestError(
      404,
      "stack",
      "stack",
      `"${s}" is not a stack of the project`,
      "use a name from GET /api/stacks",
    );
  }
  return s;
}

function loginFlow(deps: ApiDeps): LoginFlow {
  if (!deps.login) {
    throw new RequestError(
      404,
      "login",
      "auth.login",
      "the browser login is not configured",
      "set auth.mode oidc with auth.login.redirectUrl, or send a bearer token",
    );
  }
  return deps.login;
}

function requester(ctx: Ctx): { user: string; origin: "rest"; from: string } {
  return { user: ctx.principal?.user ?? "unknown", origin: "rest", from: ctx.from };
}

const STATES: readonly RunState[] = [
  "queued",
  "previewing",
  "awaiting-approval",
  "running",
  "succeeded",
  "failed",
  "cancelled",
];

export const ROUTES: Route[] = [
  {
    method: "GET",
    path: "/api/health",
    operationId: "health",
    summary: "Liveness: the service answers (no login needed).",
    access: "public",
    responses: { "200": { description: "alive", schema: schemas.health } },
    handle: async (_ctx, deps) => ({ status: 200, body: { ok: true, version: deps.version } }),
  },
  {
    method: "GET",
    path: "/api/openapi.json",
    operationId: "openapi",
    summary: "This document.",
    access: "public",
    responses: { "200": { description: "the OpenAPI 3 document", schema: { type: "object" } } },
    // Filled in by the server (the document is built from this table).
    handle: async () => ({ status: 500, body: {} }),
  },
  {
    method: "GET",
    path: "/api/me",
    operationId: "me",
    summary: "Who the caller is and the role it acts with (the page shows operators' buttons from it).",
    access: "viewer",
    responses: { "200": { description: "the caller", schema: schemas.me }, ...AUTH_ERRORS },
    handle: async (ctx) => ({
      status: 200,
      body: { user: ctx.principal!.user, role: ctx.principal!.role, via: ctx.principal!.via },
    }),
  },
  {
    method: "GET",
    path: "/api/status",
    operationId: "status",
    summary:
      "Each stack's current run, queue length and last finished run; with `status:` configured, the environment (nodes, last build, templates) from the state file and live checks, without running Pulumi.",
    access: "viewer",
    responses: { "200": { description: "status", schema: schemas.status }, ...AUTH_ERRORS },
    handle: async (_ctx, deps) => {
      const stacks = stackRunStatus(deps.manager, deps.stacks());
      const environment = deps.environment ? await deps.environment.get() : null;
      return {
        status: 200,
        body: { time: new Date().toISOString(), version: deps.version, stacks, environment },
      };
    },
  },
  {
    method: "GET",
    path: "/api/stacks",
    operationId: "listStacks",
    summary: "The stacks of the project directory, with their current run and queue.",
    access: "viewer",
    responses: { "200": { description: "stacks", schema: schemas.stacks }, ...AUTH_ERRORS },
    handle: async (_ctx, deps) => ({
      status: 200,
      body: {
        stacks: deps.stacks().map((name) => ({
          name,
          current: deps.manager.current(name) ?? null,
          queue: deps.manager.queued(name),
        })),
      },
    }),
  },
  {
    method: "GET",
    path: "/api/stacks/{stack}/resources",
    operationId: "listResources",
    summary: "The resources in the stack's state (URN, type, id, parent; never inputs or outputs).",
    access: "viewer",
    responses: {
      "200": { description: "resources", schema: schemas.resources },
      ...AUTH_ERRORS,
      "404": ERR("unknown stack"),
    },
    handle: async (ctx, deps) => {
      const stack = stackName(ctx, deps);
      return { status: 200, body: { stack, resources: await deps.engine.resources(stack) } };
    },
  },
  {
    method: "GET",
    path: "/api/runs",
    operationId: "listRuns",
    summary: "Runs, newest first.",
    access: "viewer",
    query: {
      stack: "only this stack",
      state: `only this state (${STATES.join(", ")})`,
      limit: "at most this many (1-500, default 50)",
    },
    responses: {
      "200": { description: "runs", schema: schemas.runList },
      "400": ERR("bad filter"),
      ...AUTH_ERRORS,
    },
    handle: async (ctx, deps) => {
      const state = ctx.query.get("state") ?? undefined;
      if (state !== undefined && !STATES.includes(state as RunState)) {
        throw new RequestError(
          400,
          "run list",
          "state",
          `"${state}" is not a run state`,
          `use one of ${STATES.join(", ")}`,
        );
      }
      const limitText = ctx.query.get("limit");
      const limit = limitText === null ? 50 : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw new RequestError(
          400,
          "run list",
          "limit",
          "is not a whole number from 1 to 500",
          "give e.g. limit=50",
        );
      }
      const runs = deps.manager.list({
        stack: ctx.query.get("stack") ?? undefined,
        state: state as RunState | undefined,
        limit,
      });
      return { status: 200, body: { runs } };
    },
  },
  {
    method: "POST",
    path: "/api/runs",
    operationId: "createRun",
    summary:
      "Asks for a run; 202 with its queue position (0: started at once). An up with approval previews first.",
    access: "operator",
    body: schemas.runRequest,
    responses: {
      "202": { description: "accepted (started or queued)", schema: schemas.createdRun },
      "400": ERR("bad run request"),
      ...AUTH_ERRORS,
      "404": ERR("unknown stack"),
      "413": ERR("body too large"),
      "415": ERR("body not JSON"),
    },
    handle: async (ctx, deps) => {
      const req = parseRunRequest(ctx.body);
      const created = deps.manager.create(req, requester(ctx));
      return { status: 202, body: created };
    },
  },
  {
    method: "GET",
    path: "/api/runs/{id}",
    operationId: "getRun",
    summary: "One run: state, steps, who asked, queue position.",
    access: "viewer",
    responses: {
      "200": { description: "the run", schema: schemas.runWithPosition },
      ...AUTH_ERRORS,
      "404": ERR("unknown run"),
    },
    handle: async (ctx, deps) => {
      const run = deps.manager.get(ctx.params.id);
      return { status: 200, body: { run, position: deps.manager.position(run.id) } };
    },
  },
  {
    method: "GET",
    path: "/api/runs/{id}/log",
    operationId: "runLog",
    summary:
      "The run's log as server-sent events: `log` events (data = text), then one `end` event (data = final run).",
    access: "viewer",
    responses: {
      "200": { description: "event stream", contentType: "text/event-stream" },
      ...AUTH_ERRORS,
      "404": ERR("unknown run"),
    },
    handle: async (ctx, deps) => {
      const run = deps.manager.get(ctx.params.id);
      const { res } = ctx;
      res.writeHead(200, {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-store",
        Connection: "keep-alive",
      });
      const send = (event: string, data: string) =>
        res.write(
          `event: ${event}\n${data
            .split("\n")
            .map((l) => `data: ${l}`)
            .join("\n")}\n\n`,
        );
      const end = () => {
        send("end", JSON.stringify(deps.manager.get(run.id)));
        res.end();
      };
      if (FINAL_STATES.includes(run.state)) {
        const text = deps.logs.read(run.id);
        if (text) send("log", text);
        end();
        return "streamed";
      }
      const f = deps.logs.follow(run.id, (chunk) => {
        if (chunk === null) {
          f.stop();
          end();
        } else send("log", chunk);
      });
      if (f.sofar) send("log", f.sofar);
      // A comment line now and then keeps idle proxies and clients from dropping a quiet run's stream.
      const keepalive = setInterval(() => res.write(": keepalive\n\n"), deps.sseKeepaliveMs ?? 15_000);
      res.on("close", () => {
        clearInterval(keepalive);
        f.stop();
      });
      return "streamed";
    },
  },
  {
    method: "POST",
    path: "/api/runs/{id}/approve",
    operationId: "approveRun",
    summary: "Approves an up whose preview is done (state awaiting-approval).",
    access: "operator",
    responses: {
      "200": { description: "approved", schema: schemas.runOnly },
      ...AUTH_ERRORS,
      "404": ERR("unknown run"),
      "409": ERR("not awaiting approval"),
    },
    handle: async (ctx, deps) => ({
      status: 200,
      body: { run: deps.manager.approve(ctx.params.id, ctx.principal?.user ?? "unknown") },
    }),
  },
  {
    method: "POST",
    path: "/api/runs/{id}/cancel",
    operationId: "cancelRun",
    summary:
      "Cancels a run: a queued one is removed, a started one is stopped (its state turns cancelled when the engine stops).",
    access: "operator",
    responses: {
      "200": { description: "cancelled or stopping", schema: schemas.runOnly },
      ...AUTH_ERRORS,
      "404": ERR("unknown run"),
      "409": ERR("already finished"),
    },
    handle: async (ctx, deps) => ({
      status: 200,
      body: { run: deps.manager.cancel(ctx.params.id, ctx.principal?.user ?? "unknown") },
    }),
  },
  {
    method: "GET",
    path: "/api/tokens",
    operationId: "listTokens",
    summary: "API tokens (ids, labels, roles; never the tokens or their hashes).",
    access: "operator",
    responses: { "200": { description: "tokens", schema: schemas.tokenList }, ...AUTH_ERRORS },
    handle: async (_ctx, deps) => ({ status: 200, body: { tokens: deps.tokens.list() } }),
  },
  {
    method: "POST",
    path: "/api/tokens",
    operationId: "createToken",
    summary: "Creates an API token for automation; the token is in this answer only (stored hashed).",
    access: "operator",
    body: schemas.tokenRequest,
    responses: {
      "201": { description: "created", schema: schemas.createdToken },
      "400": ERR("bad token request"),
      ...AUTH_ERRORS,
    },
    handle: async (ctx, deps) => {
      const b = ctx.body as Record<string, unknown> | undefined;
      const bad = (field: string, problem: string, fix: string) =>
        new RequestError(400, "token request", field, problem, fix);
      if (!b || typeof b !== "object" || Array.isArray(b))
        throw bad("body", "is not a JSON object", 'send {"label": "...", "role": "viewer|operator"}');
      if (typeof b.label !== "string" || !/^.{1,100}$/.test(b.label))
        throw bad("label", "is missing or longer than 100 characters", "say what the token is for");
      if (b.role !== "viewer" && b.role !== "operator")
        throw bad("role", "is not viewer or operator", "give role viewer or operator");
      const { token, info } = await deps.tokens.create(b.label, b.role, ctx.principal?.user ?? "unknown");
      return { status: 201, body: { token, info } };
    },
  },
  {
    method: "DELETE",
    path: "/api/tokens/{id}",
    operationId: "revokeToken",
    summary: "Revokes an API token.",
    access: "operator",
    responses: {
      "200": { description: "revoked", schema: schemas.revoked },
      ...AUTH_ERRORS,
      "404": ERR("unknown token"),
    },
    handle: async (ctx, deps) => {
      if (!deps.tokens.revoke(ctx.params.id)) {
        throw new RequestError(
          404,
          "token",
          "id",
          `no token "${ctx.params.id}"`,
          "use an id from GET /api/tokens",
        );
      }
      return { status: 200, body: { revoked: ctx.params.id } };
    },
  },
  {
    method: "GET",
    path: "/auth/login",
    operationId: "login",
    summary:
      "Browser login (OIDC): redirects to the provider's authorization endpoint (code flow with PKCE).",
    access: "public",
    responses: {
      "302": { description: "redirect to the provider", schema: schemas.redirect },
      "404": ERR("login not configured"),
      "429": ERR("too many logins pending"),
      "502": ERR("the provider's discovery document lacks the endpoints"),
    },
    handle: async (_ctx, deps) => {
      const location = await loginFlow(deps).start();
      return { status: 302, body: { location }, headers: { Location: location } };
    },
  },
  {
    method: "GET",
    path: "/auth/callback",
    operationId: "loginCallback",
    summary:
      "Where the provider sends the browser back: exchanges the code, checks the id token and role, returns it.",
    access: "public",
    query: {
      code: "the authorization code",
      state: "the state /auth/login sent",
      error: "set by the provider on refusal",
    },
    responses: {
      "200": { description: "logged in", schema: schemas.login },
      "302": {
        description:
          "logged in, asked by a browser (Accept: text/html): back to the page, /#token=<id token>",
        schema: schemas.redirect,
      },
      "400": ERR("bad or replayed state, missing code, refused login"),
      "401": ERR("the id token is refused"),
      "403": ERR("not a member of the viewers' or operators' group"),
      "404": ERR("login not configured"),
      "502": ERR("the provider's token endpoint refused the code"),
    },
    handle: async (ctx, deps) => {
      const result = await loginFlow(deps).callback(ctx.query);
      // A browser (the page's "Log in") goes back to the page with the token in the fragment,
      // which browsers never send to a server, so it stays out of every access log.
      if ((ctx.req.headers.accept ?? "").includes("text/html")) {
        const location = `/#token=${encodeURIComponent(result.token)}`;
        return { status: 302, body: { location }, headers: { Location: location } };
      }
      return { status: 200, body: result };
    },
  },
];
