/**
 * The REST API against its own OpenAPI document (every documented operation is called and its
 * answer checked against the documented schema), bad input (each a 4xx naming the field), and
 * secrets (the passphrase and tokens never appear in responses or logs). Fake engine, no testbed.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { FakeEngine } from "./fake-engine";
import { startIssuer, type Issuer } from "./issuer";
import {
  call,
  iyoClaims,
  makeDirs,
  PASSPHRASE,
  readSse,
  seenResponses,
  start,
  testConfig,
  until,
  type Dirs,
  type TestCockpit,
} from "./setup";

type Schema = {
  type?: string | string[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  additionalProperties?: Schema | boolean;
};

/** The few JSON-schema rules the document uses: type, required, properties, items, enum. */
function conforms(v: unknown, s: Schema, where: string): void {
  const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
  if (types.length > 0) {
    const t = v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v;
    const ok = types.includes(t) || (t === "integer" && types.includes("number"));
    assert.ok(ok, `${where}: is ${t}, the document says ${types.join("|")}`);
  }
  if (s.enum)
    assert.ok(s.enum.includes(v), `${where}: ${JSON.stringify(v)} is not in ${JSON.stringify(s.enum)}`);
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const k of s.required ?? []) assert.ok(k in o, `${where}: required ${k} is missing`);
    for (const [k, sub] of Object.entries(s.properties ?? {}))
      if (k in o) conforms(o[k], sub, `${where}.${k}`);
  }
  if (Array.isArray(v) && s.items) v.forEach((x, i) => conforms(x, s.items!, `${where}[${i}]`));
}

describe("cockpit REST API", () => {
  let issuer: Issuer;
  let dirs: Dirs;
  let c: TestCockpit;
  let engine: FakeEngine;
  let op: string;
  let viewer: string;

  before(async () => {
    issuer = await startIssuer();
    op = issuer.sign(iyoClaims("otto", ["build.ops"]));
    viewer = issuer.sign(iyoClaims("vera", ["build"]));
    dirs = makeDirs();
    engine = new FakeEngine(10);
    c = await start(testConfig(dirs, issuer), engine);
  });
  after(async () => {
    await c.close();
    await issuer.stop();
    fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  const newRun = async (body: Record<string, unknown>) => {
    const r = await call(c.url, "POST", "/api/runs", { token: op, body });
    assert.strictEqual(r.status, 202, r.text);
    return r.json.run.id as string;
  };
  const stateOf = async (id: string) =>
    (await call(c.url, "GET", `/api/runs/${id}`, { token: viewer })).json.run.state;

  it("serves an OpenAPI 3 document, and every operation in it answers as documented", async () => {
    const docReply = await call(c.url, "GET", "/api/openapi.json");
    assert.strictEqual(docReply.status, 200);
    const doc = docReply.json;
    assert.match(doc.openapi, /^3\./);
    const finished = await newRun({ stack: "dev", kind: "preview" });
    await c.manager.idle();
    // How to call each operation: path parameters and body. An operation without a case fails the test.
    const cases: Record<
      string,
      () => Promise<{ params?: Record<string, string>; body?: unknown; expect?: string }>
    > = {
      // This cockpit is in ItsYou.online mode, where the browser login is not offered (a documented
      // 404); the flow itself is walked in auth.test.ts (OIDC).
      login: async () => ({ expect: "404" }),
      loginCallback: async () => ({ expect: "404" }),
      health: async () => ({}),
      openapi: async () => ({}),
      status: async () => ({}),
      me: async () => ({}),
      listStacks: async () => ({}),
      listResources: async () => ({ params: { stack: "dev" } }),
      listRuns: async () => ({}),
      createRun: async () => ({ body: { stack: "build", kind: "refresh" } }),
      getRun: async () => ({ params: { id: finished } }),
      runLog: async () => ({ params: { id: finished } }),
      approveRun: async () => {
        const id = await newRun({ stack: "dev", kind: "up", approval: true });
        await until(async () => (await stateOf(id)) === "awaiting-approval", "awaiting-approval");
        return { params: { id } };
      },
      cancelRun: async () => {
        await c.manager.idle();
        return { params: { id: await newRun({ stack: "dev", kind: "up", approval: true }) } };
      },
      listTokens: async () => ({}),
      createToken: async () => ({ body: { label: "walk", role: "viewer" } }),
      revokeToken: async () => {
        const r = await call(c.url, "POST", "/api/tokens", {
          token: op,
          body: { label: "to revoke", role: "viewer" },
        });
        return { params: { id: r.json.info.id } };
      },
    };
    let called = 0;
    for (const [p, methods] of Object.entries(
      doc.paths as Record<string, Record<string, Record<string, unknown>>>,
    )) {
      for (const [method, operation] of Object.entries(methods)) {
        const id = operation.operationId as string;
        const prepare = cases[id];
        assert.ok(
          prepare,
          `the document has ${method.toUpperCase()} ${p} (${id}) but this test has no case for it`,
        );
        const { params = {}, body, expect } = await prepare();
        const url = p.replace(/\{(\w+)\}/g, (_m, n: string) => encodeURIComponent(params[n]));
        const responses = operation.responses as Record<
          string,
          { content: Record<string, { schema: Schema }> }
        >;
        const [okStatus, okResponse] = expect ? [expect, responses[expect]] : Object.entries(responses)[0];
        assert.ok(okResponse, `${id}: status ${expect} is not documented`);
        if (okResponse.content["text/event-stream"]) {
          const sse = await readSse(c.url, url, viewer);
          assert.strictEqual(String(sse.status), okStatus, `${method} ${url}`);
          assert.strictEqual(sse.events[sse.events.length - 1].event, "end");
        } else {
          const r = await call(c.url, method.toUpperCase(), url, {
            token: op,
            ...(body !== undefined ? { body } : {}),
          });
          assert.strictEqual(String(r.status), okStatus, `${method.toUpperCase()} ${url}: ${r.text}`);
          conforms(r.json, okResponse.content["application/json"].schema, `${id} answer`);
        }
        // Without a login every non-public operation is refused.
        if (!(Array.isArray(operation.security) && operation.security.length === 0)) {
          const anon = await call(c.url, method.toUpperCase(), url);
          assert.strictEqual(anon.status, 401, `${method.toUpperCase()} ${url} without login`);
        }
        called++;
      }
    }
    assert.strictEqual(
      called,
      Object.keys(cases).length,
      "a case exists for an operation the document lacks",
    );
    await c.manager.idle();
  });

  describe("bad input: a clear 4xx naming the field, nothing started", () => {
    const bad = async (
      status: number,
      field: string,
      o: { method?: string; path?: string; body?: unknown; raw?: string; headers?: Record<string, string> },
    ) => {
      const jobs = engine.jobs.length;
      const r = await call(c.url, o.method ?? "POST", o.path ?? "/api/runs", {
        token: op,
        ...(o.body !== undefined ? { body: o.body } : {}),
        ...(o.raw !== undefined ? { raw: o.raw } : {}),
        ...(o.headers ? { headers: o.headers } : {}),
      });
      assert.strictEqual(r.status, status, r.text);
      assert.strictEqual(r.json.error.field, field, r.text);
      assert.ok(r.json.error.problem && r.json.error.fix, r.text);
      assert.strictEqual(engine.jobs.length, jobs, "a refused request reached the engine");
      return r;
    };

    it("malformed JSON, not an object, missing or unknown fields", async () => {
      await bad(400, "body", { raw: '{"stack": "dev", ' });
      await bad(400, "body", { body: ["dev", "up"] });
      await bad(400, "body", { body: null });
      await bad(400, "stack", { body: { kind: "up" } });
      await bad(400, "kind", { body: { stack: "dev" } });
      const r = await bad(400, "kind", { body: { stack: "dev", kind: "deploy" } });
      assert.match(r.json.error.fix, /preview, up, refresh, destroy/);
      await bad(400, "force", { body: { stack: "dev", kind: "up", force: true } });
      await bad(400, "approval", { body: { stack: "dev", kind: "up", approval: "yes" } });
      await bad(400, "approval", { body: { stack: "dev", kind: "refresh", approval: true } });
    });

    it("destroy without a target, with a target of another stack; a target on up", async () => {
      await bad(400, "target", { body: { stack: "dev", kind: "destroy" } });
      await bad(400, "target", {
        body: { stack: "dev", kind: "destroy", target: "urn:pulumi:build::g8os::x::y" },
      });
      await bad(400, "target", { body: { stack: "dev", kind: "up", target: "urn:pulumi:dev::g8os::x::y" } });
    });

    it("an unknown stack (404) for a run and for resources", async () => {
      const r = await bad(404, "stack", { body: { stack: "prod", kind: "up" } });
      assert.match(r.json.error.problem, /"prod" is not a stack/);
      await bad(404, "stack", { method: "GET", path: "/api/stacks/prod/resources" });
    });

    it("a huge body (413) and a body that is not JSON (415)", async () => {
      await bad(413, "body", { raw: JSON.stringify({ stack: "dev", kind: "up", pad: "x".repeat(100_000) }) });
      await bad(415, "Content-Type", {
        raw: "stack=dev&kind=up",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      // The server still answers afterwards.
      assert.strictEqual((await call(c.url, "GET", "/api/health")).status, 200);
    });

    it("an unknown run id: get, log, approve, cancel (404)", async () => {
      for (const [method, p] of [
        ["GET", "/api/runs/r-nope"],
        ["GET", "/api/runs/r-nope/log"],
        ["POST", "/api/runs/r-nope/approve"],
        ["POST", "/api/runs/r-nope/cancel"],
      ]) {
        const r = await bad(404, "id", { method, path: p });
        assert.match(r.json.error.problem, /no run "r-nope"/);
      }
    });

    it("bad list filters (400), an unknown route (404), a wrong method (405)", async () => {
      await bad(400, "state", { method: "GET", path: "/api/runs?state=done" });
      await bad(400, "limit", { method: "GET", path: "/api/runs?limit=0" });
      await bad(404, "path", { method: "GET", path: "/api/nothing" });
      await bad(405, "method", { method: "DELETE", path: "/api/runs" });
    });

    it("a second up while one runs is queued (202 with its position), never refused or lost", async () => {
      await c.manager.idle();
      const slow = new FakeEngine();
      const d = makeDirs();
      const c2 = await start(testConfig(d, issuer), slow);
      try {
        const a = await call(c2.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
        const b = await call(c2.url, "POST", "/api/runs", { token: op, body: { stack: "dev", kind: "up" } });
        assert.deepStrictEqual([a.status, a.json.position, b.status, b.json.position], [202, 0, 202, 1]);
        const g = await call(c2.url, "GET", `/api/runs/${b.json.run.id}`, { token: viewer });
        assert.strictEqual(g.json.position, 1);
        (await slow.started(1)).finish();
        (await slow.started(2)).finish();
        await c2.manager.idle();
      } finally {
        await c2.close();
        fs.rmSync(d.root, { recursive: true, force: true });
      }
    });
  });

  describe("secrets (after every other call of this file)", () => {
    it("never shows the passphrase or a token in responses, logs, run logs or the history", async () => {
      // A program that prints the passphrase: the run log must hold it redacted.
      engine.autoMs = undefined;
      const id = await newRun({ stack: "dev", kind: "preview" });
      const job = engine.jobs[engine.jobs.length - 1];
      job.opts.onOutput(`debug: passphrase is ${PASSPHRASE}\n`);
      job.fail(`decrypt failed with ${PASSPHRASE}`);
      await c.manager.idle();
      const run = (await call(c.url, "GET", `/api/runs/${id}`, { token: viewer })).json.run;
      assert.match(run.error, /\[secret\]/);
      const log = await readSse(c.url, `/api/runs/${id}/log`, viewer);
      assert.ok(log.events.some((e) => e.data.includes("passphrase is [secret]")));
      const apiToken = (
        await call(c.url, "POST", "/api/tokens", { token: op, body: { label: "grep", role: "viewer" } })
      ).json.token as string;
      assert.strictEqual((await call(c.url, "GET", "/api/status", { token: apiToken })).status, 200);
      const files = [path.join(dirs.dataDir, "runs.jsonl"), path.join(dirs.dataDir, "tokens.json")];
      for (const f of fs.readdirSync(path.join(dirs.dataDir, "logs")))
        files.push(path.join(dirs.dataDir, "logs", f));
      const places: Array<[string, string]> = [
        ["service log", c.logLines.join("\n")],
        ...files.map((f) => [f, fs.readFileSync(f, "utf8")] as [string, string]),
      ];
      // Responses other than the one that created the token (it is shown once, there).
      const responses = seenResponses.filter((t) => !t.includes('"token":"ckt_'));
      places.push(["responses", responses.join("\n")]);
      assert.ok(responses.length > 20 && c.logLines.length > 20, "too little was looked at");
      for (const [where, text] of places) {
        assert.ok(!text.includes(PASSPHRASE), `the passphrase is in ${where}`);
        assert.ok(!text.includes(op) && !text.includes(viewer), `a JWT is in ${where}`);
        assert.ok(!text.includes(apiToken.slice(17)), `the API token is in ${where}`);
      }
    });
  });
});
