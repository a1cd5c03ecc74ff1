/**
 * The REST server (node:http): matches a route of `ROUTES`, checks the login and role, reads the
 * JSON body with a size limit, runs the handler and answers JSON; every refusal is a `RequestError`
 * body. One line per request goes to the service log: method, path, status, user, time; never a
 * header or a body.
 */
import * as http from "http";
import { errorMessage } from "../../providers/shared/errors";
import type { Authenticator } from "../auth/authenticator";
import { roleAtLeast } from "../auth/roles";
import { RequestError } from "../errors";
import { servePage } from "../page/page";
import { readJsonBody } from "./body";
import { openApiDocument } from "./openapi";
import { ROUTES, type ApiDeps, type Ctx, type Route } from "./routes";

/** How the server is set up. */
export interface ApiServerOptions {
  /** What the handlers use. */
  deps: ApiDeps;
  /** Checks logins. */
  auth: Authenticator;
  /** Largest request body accepted, bytes. */
  maxBodyBytes: number;
  /** The service log (one line per call). */
  log: (line: string) => void;
  /** Removes secrets from unexpected error messages before they are logged or sent. */
  redact: (text: string) => string;
}

interface Match {
  route: Route;
  params: Record<string, string>;
}

function match(method: string, pathname: string): Match | { allowed: string[] } | undefined {
  const allowed: string[] = [];
  for (const route of ROUTES) {
    const names: string[] = [];
    const re = new RegExp(
      "^" +
        route.path
          .replace(/[.]/g, "\\.")
          .replace(/\{(\w+)\}/g, (_m, n: string) => (names.push(n), "([^/]+)")) +
        "$",
    );
    const m = re.exec(pathname);
    if (!m) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
    return { route, params };
  }
  return allowed.length ? { allowed } : undefined;
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
    ...headers,
  });
  res.end(text);
}

/** Creates the server (not listening yet). */
export function createApiServer(o: ApiServerOptions): http.Server {
  const doc = openApiDocument(ROUTES, o.deps.version);
  return http.createServer((req, res) => {
    const started = Date.now();
    let user = "-";
    const url = new URL(req.url ?? "/", "http://cockpit.invalid");
    const done = (status: number) =>
      o.log(`${req.method} ${url.pathname} ${status} ${user} ${Date.now() - started}ms`);
    void (async () => {
      // The page's files need no login (they hold no data); everything else is the API.
      if (servePage(req, res, url.pathname, { version: o.deps.version, loginOffered: !!o.deps.login }))
        return 200;
      const found = match(req.method ?? "GET", url.pathname);
      if (!found) {
        throw new RequestError(
          404,
          "request",
          "path",
          `no route ${url.pathname}`,
          "see GET /api/openapi.json",
        );
      }
      if ("allowed" in found) {
        throw new RequestError(
          405,
          "request",
          "method",
          `${req.method} is not served on ${url.pathname}`,
          `use ${found.allowed.join(" or ")}`,
        );
      }
      const { route, params } = found;
      const ctx: Ctx = {
        params,
        query: url.searchParams,
        body: undefined,
        from: req.socket.remoteAddress ?? "",
        req,
        res,
      };
      if (route.access !== "public") {
        ctx.principal = await o.auth.authenticate(req.headers.authorization);
        user = ctx.principal.user;
        if (!roleAtLeast(ctx.principal.role, route.access)) {
          throw new RequestError(
            403,
            route.operationId,
            "role",
            `${route.method} ${route.path} needs the ${route.access} role; "${user}" is a ${ctx.principal.role}`,
            "ask for the operators' organisation/group, or use an operator token",
          );
        }
      }
      if (route.method === "POST" || route.method === "DELETE")
        ctx.body = await readJsonBody(req, o.maxBodyBytes);
      if (route.operationId === "openapi") {
        sendJson(res, 200, doc);
        return 200;
      }
      const reply = await route.handle(ctx, o.deps);
      if (reply === "streamed") return 200;
      sendJson(res, reply.status, reply.body, reply.headers ?? {});
      return reply.status;
    })().then(
      (status) => done(status),
      (err: unknown) => {
        if (res.headersSent) {
          res.destroy();
          done(500);
          return;
        }
        if (err instanceof RequestError) {
          sendJson(res, err.status, err.toJSON(), err.status === 413 ? { Connection: "close" } : {});
          done(err.status);
          return;
        }
        const detail = o.redact(errorMessage(err));
        o.log(`${req.method} ${url.pathname} error: ${detail}`);
        sendJson(
          res,
          500,
          new RequestError(500, "cockpit", "server", detail, "see the cockpit's log; retry").toJSON(),
        );
        done(500);
      },
    );
  });
}
