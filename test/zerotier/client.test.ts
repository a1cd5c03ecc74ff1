/**
 * The ZeroTier client against the stand-in, for both backends: one normalised model, upserts,
 * retries (429 storm, 5xx), clear 401/403/404 errors without the token, tracing of every call.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  ZerotierApiError,
  ZerotierClient,
  normaliseNetworkConfig,
  type NetworkConfig,
} from "../../providers/zerotier/client";
import { startZerotierStandIn, type ZerotierStandIn } from "../testbed/zerotier/standin";

const TOKEN = "client-test-token-5f2a9c";
const MEMBER = "0badc0ffee";

const SPEC: NetworkConfig = {
  name: "build",
  description: "the build network",
  private: true,
  // Deliberately unsorted: the model sorts, so inputs and answers compare equal.
  ipAssignmentPools: [
    { start: "10.147.17.100", end: "10.147.17.120" },
    { start: "10.147.17.10", end: "10.147.17.20" },
  ],
  routes: [
    { target: "10.147.17.0/24", via: null },
    { target: "10.0.0.0/8", via: "10.147.17.1" },
  ],
  v4AutoAssign: true,
  dns: { domain: "zt.example.com", servers: ["10.147.17.1"] },
};

for (const backend of ["central", "controller"] as const) {
  describe(`ZeroTier client (${backend})`, () => {
    let zt: ZerotierStandIn;
    let client: ZerotierClient;
    const apiUrl = (): string => (backend === "central" ? zt.centralUrl : zt.url);

    before(async () => {
      zt = await startZerotierStandIn({ token: TOKEN });
      client = new ZerotierClient({ backend, apiUrl: apiUrl(), token: TOKEN, label: "test", minDelayMs: 5 });
    });
    after(async () => zt.stop());

    it("creates, reads, updates and deletes a network in one normalised model", async () => {
      const created = await client.createNetwork(SPEC);
      assert.match(created.id, /^[0-9a-f]{16}$/);
      const want = normaliseNetworkConfig(SPEC);
      assert.equal(created.name, want.name);
      assert.deepEqual(created.routes, want.routes);
      assert.deepEqual(created.ipAssignmentPools, want.ipAssignmentPools);
      assert.deepEqual(created.dns, want.dns);
      assert.equal(created.v4AutoAssign, true);
      if (backend === "central") assert.equal(created.description, "the build network");
      else assert.equal(created.description, undefined, "the controller stores no description");

      const got = await client.getNetwork(created.id);
      assert.deepEqual(got, created);
      assert.ok((await client.listNetworks()).includes(created.id));

      const upd = await client.updateNetwork(created.id, { name: "renamed", private: false });
      assert.equal(upd.name, "renamed");
      assert.equal(upd.private, false);
      assert.deepEqual(upd.routes, want.routes, "a partial update keeps other fields");

      assert.equal(await client.deleteNetwork(created.id), true);
      assert.equal(await client.getNetwork(created.id), undefined, "404 on get reads as 'not found'");
      assert.equal(await client.deleteNetwork(created.id), false, "deleting twice is not an error");
    });

    it("normalises a fresh network's defaults (dns never null)", async () => {
      const n = await client.createNetwork({
        ...SPEC,
        dns: { domain: "", servers: [] },
        routes: [],
        ipAssignmentPools: [],
      });
      assert.deepEqual(n.dns, { domain: "", servers: [] });
      assert.deepEqual(n.routes, []);
    });

    it("pre-authorises a member by upsert; auto IP appears once the node asks for its config", async () => {
      const net = await client.createNetwork(SPEC);
      assert.equal(await client.getMember(net.id, MEMBER), undefined);
      const m = await client.upsertMember(net.id, MEMBER, { authorized: true, name: "host1" });
      assert.equal(m.authorized, true);
      assert.equal(m.name, "host1");
      assert.deepEqual(m.ipAssignments, []);
      assert.deepEqual(await client.listMembers(net.id), [MEMBER]);
      const r = await fetch(`${zt.url}/_agent/config`, {
        method: "POST",
        body: JSON.stringify({ nwid: net.id, nodeId: MEMBER }),
      });
      assert.equal(r.status, 200);
      const after = await client.getMember(net.id, MEMBER);
      // The first free address of the first pool, in the order the pools were sent.
      assert.deepEqual(after?.ipAssignments, ["10.147.17.100"]);
      // Only Central reports when it last heard from the node.
      if (backend === "central") assert.ok((after?.lastSeen ?? 0) > 0);
      const deauth = await client.upsertMember(net.id, MEMBER, { authorized: false });
      assert.equal(deauth.authorized, false);
      assert.equal(deauth.name, "host1", "a partial upsert keeps the name");
      assert.equal(await client.deleteMember(net.id, MEMBER), true);
      assert.equal(await client.getMember(net.id, MEMBER), undefined);
    });

    it("rides out a 429 storm and 5xx errors with backoff", async () => {
      zt.setFault({ status: 429, count: 4, retryAfterS: 0 });
      zt.setFault({ status: 503, count: 1 });
      const before = zt.requestLog.length;
      const nets = await client.listNetworks();
      assert.ok(Array.isArray(nets));
      const calls = zt.requestLog.slice(before);
      assert.deepEqual(
        calls.map((c) => c.status),
        [429, 429, 429, 429, 503, 200],
      );
    });

    it("gives up on a storm longer than its attempts, with a clear 429 message", async () => {
      zt.setFault({ status: 429, count: 50, retryAfterS: 0 });
      try {
        await assert.rejects(client.listNetworks(), (err: unknown) => {
          assert.ok(err instanceof ZerotierApiError);
          assert.equal(err.status, 429);
          assert.match(err.message, /rate limited/);
          return true;
        });
      } finally {
        zt.clearFaults();
      }
    });

    it("401: names the step and what to check, never the token, and does not retry", async () => {
      const bad = new ZerotierClient({
        backend,
        apiUrl: apiUrl(),
        token: "wrong-token-abcdef",
        label: 'ZerotierNetwork "x"',
      });
      const before = zt.requestLog.length;
      await assert.rejects(bad.listNetworks(), (err: unknown) => {
        assert.ok(err instanceof ZerotierApiError);
        assert.equal(err.status, 401);
        assert.match(err.message, /ZerotierNetwork "x": GET .*network failed: HTTP 401 .*refused the token/);
        assert.match(err.message, /Check: /);
        assert.doesNotMatch(err.message, /wrong-token-abcdef/);
        return true;
      });
      assert.equal(zt.requestLog.length - before, 1, "401 is not retried");
    });

    it("404 on update names the object and suggests refresh", async () => {
      if (backend === "controller") return; // the controller upserts networks on POST
      await assert.rejects(
        client.updateNetwork("ffffffffffffffff", { name: "x" }),
        /HTTP 404 network not found.*refresh/,
      );
    });

    it("connection refused is an error naming the URL, after bounded retries", async () => {
      const dead = new ZerotierClient({
        backend,
        apiUrl: "http://127.0.0.1:1",
        token: TOKEN,
        attempts: 2,
        minDelayMs: 5,
      });
      await assert.rejects(dead.listNetworks(), /no answer from http:\/\/127\.0\.0\.1:1.*Check: apiUrl/);
    });

    it("traces every call, POST/DELETE as writes, without arguments", async () => {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zt-trace-")), "trace.jsonl");
      process.env.G8OS_TRACE_FILE = file;
      try {
        const n = await client.createNetwork(SPEC);
        await client.getNetwork(n.id);
        await client.deleteNetwork(n.id);
      } finally {
        delete process.env.G8OS_TRACE_FILE;
      }
      const events = fs
        .readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { system: string; op: string; write: boolean });
      assert.ok(events.every((e) => e.system === "zerotier"));
      assert.deepEqual(
        events.filter((e) => e.op.endsWith(" network")).map((e) => [e.op, e.write]),
        [
          ["POST network", true],
          ["GET network", false],
          ["DELETE network", true],
        ],
      );
      assert.doesNotMatch(fs.readFileSync(file, "utf8"), new RegExp(TOKEN));
    });
  });
}

describe("ZeroTier client: rate-limit pacing (central)", () => {
  it("waits for the window reset instead of hammering when x-ratelimit-remaining hits 0", async () => {
    const zt = await startZerotierStandIn({ token: TOKEN, rateLimitPerSecond: 2 });
    try {
      const client = new ZerotierClient({
        backend: "central",
        apiUrl: zt.centralUrl,
        token: TOKEN,
        minDelayMs: 5,
      });
      for (let i = 0; i < 6; i++) await client.listNetworks();
      const statuses = zt.requestLog.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 6);
      assert.equal(
        statuses.filter((s) => s === 429).length,
        0,
        `paced calls are never limited: ${statuses.join(",")}`,
      );
    } finally {
      await zt.stop();
    }
  });
});
