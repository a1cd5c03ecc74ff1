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
  backoffDelayMs,
  cidrContains,
  normaliseNetworkConfig,
  parseRateLimitReset,
  parseRetryAfter,
  type NetworkConfig,
} from "../../providers/zerotier/client";
import { parseIPv4 } from "../../providers/shared/validate";
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
      // One address from a pool, inside the network's own route; which one is the controller's
      // choice (it depends on the member address), so only its range is checked.
      assert.equal(after?.ipAssignments.length, 1);
      const ip = parseIPv4(after!.ipAssignments[0])!;
      assert.ok(
        SPEC.ipAssignmentPools.some((p) => ip >= parseIPv4(p.start)! && ip <= parseIPv4(p.end)!),
        `${after!.ipAssignments[0]} lies in a pool`,
      );
      assert.ok(cidrContains("10.147.17.0/24", after!.ipAssignments[0]));
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
      await assert.rejects(bad.getNetwork("ffffffffffffffff"), (err: unknown) => {
        assert.ok(err instanceof ZerotierApiError);
        assert.equal(err.status, 401);
        assert.match(
          err.message,
          /ZerotierNetwork "x": GET .*network\/f+ failed: HTTP 401 .*refused the token/,
        );
        assert.match(err.message, /Check: /);
        assert.doesNotMatch(err.message, /wrong-token-abcdef/);
        return true;
      });
      assert.equal(zt.requestLog.length - before, 1, "401 is not retried");
    });

    it("a bad token on the network list: an auth error either way (Central's spec says 403 there)", async () => {
      const bad = new ZerotierClient({ backend, apiUrl: apiUrl(), token: "wrong-token-abcdef" });
      const before = zt.requestLog.length;
      await assert.rejects(bad.listNetworks(), (err: unknown) => {
        assert.ok(err instanceof ZerotierApiError);
        assert.equal(err.status, backend === "central" ? 403 : 401);
        assert.match(err.message, backend === "central" ? /API token is current/ : /authtoken\.secret/);
        assert.doesNotMatch(err.message, /wrong-token-abcdef/);
        return true;
      });
      assert.equal(zt.requestLog.length - before, 1, "auth errors are not retried");
    });

    it("a 429 without Retry-After backs off exponentially (not back-to-back retries)", async () => {
      const slow = new ZerotierClient({ backend, apiUrl: apiUrl(), token: TOKEN, minDelayMs: 40 });
      zt.setFault({ status: 429, count: 3 });
      const before = zt.requestLog.length;
      await slow.listNetworks();
      const calls = zt.requestLog.slice(before);
      assert.deepEqual(
        calls.map((c) => c.status),
        [429, 429, 429, 200],
      );
      // Waits are 40 ms * 2^(n-1), jittered down to half at most: >= 20, 40, 80 ms.
      const gaps = calls.slice(1).map((c, i) => c.at - calls[i].at);
      gaps.forEach((g, i) => assert.ok(g >= 20 * 2 ** i - 2, `gap ${i} is ${g} ms: ${gaps.join(",")}`));
    });

    it("a 429's Retry-After is a floor for the wait", async () => {
      const c = new ZerotierClient({ backend, apiUrl: apiUrl(), token: TOKEN, minDelayMs: 5 });
      zt.setFault({ status: 429, count: 1, retryAfterS: 1 });
      const before = zt.requestLog.length;
      await c.listNetworks();
      const calls = zt.requestLog.slice(before);
      assert.equal(calls.length, 2);
      assert.ok(calls[1].at - calls[0].at >= 990, `waited ${calls[1].at - calls[0].at} ms`);
    });

    it(`a 429 advises ${backend === "central" ? "a paid plan (Central's own limit)" : "no paid plan (a self-hosted controller has none)"}`, async () => {
      const c = new ZerotierClient({ backend, apiUrl: apiUrl(), token: TOKEN, minDelayMs: 1, attempts: 2 });
      zt.setFault({ status: 429, count: 2 });
      await assert.rejects(c.listNetworks(), (err: unknown) => {
        assert.ok(err instanceof ZerotierApiError);
        assert.equal(err.status, 429);
        if (backend === "central") assert.match(err.message, /paid Central plan/);
        else assert.doesNotMatch(err.message, /paid|plan/);
        return true;
      });
    });

    it("a controller 500 {error, description} for a rejected body is reported, not retried", async () => {
      if (backend === "central") return; // Central answers bad bodies with 400 {type, message}
      const net = await client.createNetwork(SPEC);
      const before = zt.requestLog.length;
      // ipAssignments entries must be strings: the controller's JSON handling throws on a number.
      await assert.rejects(
        client.request("POST", `/controller/network/${net.id}/member/${MEMBER}`, "member", {
          ipAssignments: [5],
        }),
        (err: unknown) => {
          assert.ok(err instanceof ZerotierApiError);
          assert.equal(err.status, 500);
          assert.match(err.message, /could not process the member sent: type must be string/);
          assert.match(err.message, /Check: the values sent/);
          return true;
        },
      );
      assert.equal(zt.requestLog.length - before, 1, "not retried");
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
  for (const format of ["http-date", "unix-seconds"] as const) {
    it(`waits for the window reset (X-Ratelimit-Reset as ${format}) instead of hammering when x-ratelimit-remaining hits 0`, async () => {
      const zt = await startZerotierStandIn({
        token: TOKEN,
        rateLimitPerSecond: 2,
        rateLimitResetFormat: format,
      });
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
  }
});

describe("ZeroTier client: nulls Central's spec allows", () => {
  let zt: ZerotierStandIn;
  before(async () => {
    zt = await startZerotierStandIn({ token: TOKEN });
  });
  after(async () => zt.stop());

  for (const mode of ["empty", "config"] as const) {
    it(`reads networks and members rendered with ${mode === "config" ? "config: null" : "null fields"}`, async () => {
      const client = new ZerotierClient({ backend: "central", apiUrl: zt.centralUrl, token: TOKEN });
      const n = await client.createNetwork({
        name: "",
        private: true,
        ipAssignmentPools: [],
        routes: [],
        v4AutoAssign: false,
        dns: { domain: "", servers: [] },
      });
      await client.upsertMember(n.id, MEMBER, { authorized: true });
      zt.setCentralNulls(mode);
      try {
        const got = await client.getNetwork(n.id);
        assert.deepEqual(got, {
          id: n.id,
          name: "",
          description: "",
          private: true,
          ipAssignmentPools: [],
          routes: [],
          v4AutoAssign: false,
          dns: { domain: "", servers: [] },
          rulesSource: "accept;",
        });
        const m = await client.getMember(n.id, MEMBER);
        assert.deepEqual(m?.ipAssignments, []);
        assert.equal(m?.name, "");
        // With config: null the authorisation is unknown; read as not authorised (the safe side).
        assert.equal(m?.authorized, mode === "empty");
        assert.deepEqual(await client.listMembers(n.id), [MEMBER]);
        assert.ok((await client.listNetworks()).includes(n.id));
      } finally {
        zt.setCentralNulls("none");
      }
    });
  }
});

describe("ZeroTier client: rate-limit header parsing and backoff", () => {
  const now = Date.parse("2024-08-06T20:53:40Z");

  it("Retry-After: delay seconds or an HTTP date; absent or garbage is undefined, never NaN", () => {
    assert.equal(parseRetryAfter("3", now), 3000);
    assert.equal(parseRetryAfter("0", now), 0);
    assert.equal(parseRetryAfter("Tue, 06 Aug 2024 20:53:48 GMT", now), 8000);
    assert.equal(parseRetryAfter("Tue, 06 Aug 2024 20:53:00 GMT", now), 0, "a past date waits 0");
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter("soon", now), undefined);
  });

  it("X-Ratelimit-Reset: HTTP date (go-ztcentral), Unix seconds, or seconds from now", () => {
    assert.equal(
      parseRateLimitReset("Tue, 06 Aug 2024 20:53:48 UTC", now),
      Date.parse("2024-08-06T20:53:48Z"),
    );
    assert.equal(parseRateLimitReset(String(now / 1000 + 2), now), now + 2000);
    assert.equal(parseRateLimitReset("5", now), now + 5000);
    assert.equal(parseRateLimitReset(null, now), undefined);
    assert.equal(parseRateLimitReset("later", now), undefined);
  });

  it("backoff doubles with jitter, is bounded, and honours the server's wait as a floor", () => {
    assert.equal(
      backoffDelayMs(1, 100, 10_000, undefined, () => 0),
      50,
    );
    assert.equal(
      backoffDelayMs(1, 100, 10_000, undefined, () => 1),
      100,
    );
    assert.equal(
      backoffDelayMs(4, 100, 10_000, undefined, () => 1),
      800,
    );
    assert.equal(
      backoffDelayMs(30, 100, 10_000, undefined, () => 1),
      10_000,
      "bounded by max",
    );
    assert.equal(
      backoffDelayMs(1, 100, 10_000, 0, () => 0),
      50,
      "Retry-After: 0 still backs off",
    );
    assert.equal(
      backoffDelayMs(1, 100, 10_000, 3000, () => 0),
      3000,
    );
    assert.equal(
      backoffDelayMs(1, 100, 10_000, 60_000, () => 0),
      10_000,
      "a far reset is capped",
    );
  });
});
