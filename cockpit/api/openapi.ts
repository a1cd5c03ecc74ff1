/** The OpenAPI 3.1 document of the REST API, built from the route table (`routes.ts`). */
import type { Route } from "./routes";

/** The document for `routes`. */
export function openApiDocument(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const query = Object.entries(r.query ?? {}).map(([name, description]) => ({
      name,
      in: "query",
      required: false,
      description,
      schema: { type: "string" },
    }));
    const responses: Record<string, unknown> = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      responses[status] = {
        description: resp.description,
        content: resp.contentType
          ? { [resp.contentType]: { schema: { type: "string" } } }
          : { "application/json": { schema: resp.schema ?? {} } },
      };
    }
    paths[r.path] = paths[r.path] ?? {};
    paths[r.path][r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.access === "public" ? { security: [] } : { "x-role": r.access }),
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(r.body
        ? { requestBody: { required: true, content: { "application/json": { schema: r.body } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "g8os cockpit",
      version,
      description:
        "Runs of the project's Pulumi stacks (preview, up with approval, refresh, targeted destroy), their logs and state.",
    },
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "an ItsYou.online/OIDC JWT or a cockpit API token (ckt_...)",
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
