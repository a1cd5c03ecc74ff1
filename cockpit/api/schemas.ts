/** JSON schemas of the REST bodies, used in the OpenAPI document (`openapi.ts`). */

const str = { type: "string" };
const strOrNull = { type: ["string", "null"] };
const int = { type: "integer" };

/** An error answer: every 4xx/5xx. */
export const error = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["status", "field", "problem", "fix", "message"],
      properties: { status: int, resource: str, field: str, problem: str, fix: str, message: str },
    },
  },
};

export const health = {
  type: "object",
  required: ["ok"],
  properties: { ok: { type: "boolean" }, version: str },
};

const step = {
  type: "object",
  properties: {
    urn: str,
    type: str,
    op: str,
    changedFields: { type: "array", items: str },
    done: { type: "boolean" },
    failed: { type: "boolean" },
  },
};

const runStates = [
  "queued",
  "previewing",
  "awaiting-approval",
  "running",
  "succeeded",
  "failed",
  "cancelled",
];

/** A run record (`cockpit/runs/types.ts` RunRecord). */
export const run = {
  type: "object",
  required: ["id", "stack", "kind", "state", "requestedBy", "createdAt", "steps"],
  properties: {
    id: str,
    stack: str,
    kind: { type: "string", enum: ["preview", "up", "refresh", "destroy", "drift"] },
    target: str,
    refresh: { type: "boolean" },
    approval: { type: "boolean" },
    state: { type: "string", enum: runStates },
    requestedBy: {
      type: "object",
      properties: {
        user: str,
        origin: { type: "string", enum: ["rest", "page", "robot", "schedule"] },
        from: str,
      },
    },
    approvedBy: str,
    cancelledBy: str,
    createdAt: str,
    startedAt: str,
    finishedAt: str,
    steps: { type: "array", items: step },
    previewSteps: { type: "array", items: step },
    changes: { type: "object", additionalProperties: int },
    error: str,
  },
};

export const runRequest = {
  type: "object",
  required: ["stack", "kind"],
  additionalProperties: false,
  properties: {
    stack: { type: "string", description: "a stack of the project (GET /api/stacks)" },
    kind: {
      type: "string",
      enum: ["preview", "up", "refresh", "destroy", "drift"],
      description: "drift: refresh in preview mode, reports what differs from the state, changes nothing",
    },
    target: { type: "string", description: "destroy only, required there: the one URN to remove" },
    approval: { type: "boolean", description: "up only: preview first, wait for an operator's approval" },
    refresh: { type: "boolean", description: "up only: refresh first (repairs drift)" },
  },
};

export const createdRun = {
  type: "object",
  required: ["run", "position"],
  properties: { run, position: int },
};
export const runWithPosition = createdRun;
export const runOnly = { type: "object", required: ["run"], properties: { run } };
export const runList = {
  type: "object",
  required: ["runs"],
  properties: { runs: { type: "array", items: run } },
};

const runRef = {
  type: ["object", "null"],
  properties: { id: str, kind: str, state: str, finishedAt: strOrNull },
};

const environment = {
  type: ["object", "null"],
  required: ["stack", "checkedAt", "nodes", "build", "problems"],
  properties: {
    stack: str,
    checkedAt: str,
    nodes: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "kind", "address", "state", "lastSeen", "detail"],
        properties: {
          name: str,
          kind: str,
          address: str,
          state: { type: "string", enum: ["online", "offline", "unknown"] },
          lastSeen: strOrNull,
          detail: str,
        },
      },
    },
    build: {
      type: ["object", "null"],
      properties: {
        runId: strOrNull,
        at: strOrNull,
        apps: {
          type: "array",
          items: {
            type: "object",
            properties: {
              name: str,
              buildId: str,
              tests: { type: "string", enum: ["passed", "failed"] },
              node: str,
            },
          },
        },
        templates: {
          type: "array",
          items: { type: "object", properties: { branch: str, commit: str, rootCid: str } },
        },
      },
    },
    problems: { type: "array", items: str },
  },
};

export const status = {
  type: "object",
  required: ["stacks", "environment"],
  properties: {
    time: str,
    version: str,
    environment,
    stacks: {
      type: "array",
      items: { type: "object", properties: { name: str, current: runRef, queued: int, lastRun: runRef } },
    },
  },
};

export const stacks = {
  type: "object",
  required: ["stacks"],
  properties: {
    stacks: {
      type: "array",
      items: {
        type: "object",
        properties: { name: str, current: strOrNull, queue: { type: "array", items: str } },
      },
    },
  },
};

export const resources = {
  type: "object",
  required: ["stack", "resources"],
  properties: {
    stack: str,
    resources: {
      type: "array",
      items: { type: "object", properties: { urn: str, type: str, id: str, parent: str } },
    },
  },
};

const tokenInfo = {
  type: "object",
  properties: {
    id: str,
    label: str,
    role: { type: "string", enum: ["viewer", "operator"] },
    createdBy: str,
    createdAt: str,
  },
};
export const tokenList = {
  type: "object",
  required: ["tokens"],
  properties: { tokens: { type: "array", items: tokenInfo } },
};
export const tokenRequest = {
  type: "object",
  required: ["label", "role"],
  properties: { label: str, role: { type: "string", enum: ["viewer", "operator"] } },
};
export const createdToken = {
  type: "object",
  required: ["token", "info"],
  properties: {
    token: { type: "string", description: "shown once; stored only as a scrypt hash" },
    info: tokenInfo,
  },
};
export const revoked = { type: "object", required: ["revoked"], properties: { revoked: str } };

export const redirect = { type: "object", required: ["location"], properties: { location: str } };
export const login = {
  type: "object",
  required: ["token", "user", "role", "expiresAt"],
  properties: {
    token: { type: "string", description: "the id token: send it as Authorization: Bearer" },
    user: str,
    role: { type: "string", enum: ["viewer", "operator"] },
    expiresAt: str,
  },
};

/** Who the caller is (`GET /api/me`). */
export const me = {
  type: "object",
  required: ["user", "role", "via"],
  properties: {
    user: str,
    role: { type: "string", enum: ["viewer", "operator"] },
    via: { type: "string", enum: ["jwt", "token"] },
  },
};
