/**
 * Pins the HTTP stand-in to the facts (/work/shared/facts/zerotier.md): both APIs, both auth forms,
 * error shapes, upserts, and "auto-assigned IPs only after the node asks for its config".
 * Raw fetch on purpose: these tests check the wire format, not our client.
 */
import { strict as assert } from "assert";
import { startZerotierStandIn, type ZerotierStandIn } from "../testbed/zerotier/standin";

const TOKEN = "standin-token-0123456789";
const MEMBER = "a1b2c3d4e5";

async function call(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

describe("ZeroTier stand-in: contract", () => {
  let zt: ZerotierStandIn;
  before(async () => {
    zt = await startZerotierStandIn({ token: TOKEN, readOnlyToken: "readonly-token-987654" });
  });
  after(async () => zt.stop());

  describe("Central API v1", () => {
    const auth = { authorization: `token ${TOKEN}` };

    it("accepts `token` and `bearer` auth, refuses others with 401 and a {type,message} body", async () => {
      assert.equal((await call(`${zt.centralUrl}/status`, "GET", auth)).status, 200);
      assert.equal(
        (await call(`${zt.centralUrl}/status`, "GET", { authorization: `bearer ${TOKEN}` })).status,
        200,
      );
      const r = await call(`${zt.centralUrl}/network`, "GET", { authorization: "token wrong" });
      assert.equal(r.status, 401);
      assert.equal(typeof (r.json as { message?: unknown }).message, "string");
      // The controller header means nothing to Central.
      assert.equal((await call(`${zt.centralUrl}/network`, "GET", { "x-zt1-auth": TOKEN })).status, 401);
    });

    it("sends rate-limit headers", async () => {
      const r = await call(`${zt.centralUrl}/network`, "GET", auth);
      assert.equal(r.headers.get("x-ratelimit-limit"), "100");
      assert.ok(Number(r.headers.get("x-ratelimit-remaining")) < 100);
      assert.ok(Number(r.headers.get("x-ratelimit-reset")) >= Math.floor(Date.now() / 1000));
    });

    it("creates a network from a config-wrapped body; POST is a partial update", async () => {
      const c = await call(`${zt.centralUrl}/network`, "POST", auth, {
        description: "d1",
        config: {
          name: "n1",
          routes: [{ target: "10.147.17.0/24", via: null }],
          dns: { domain: "zt.example", servers: ["10.147.17.1"] },
        },
      });
      assert.equal(c.status, 200);
      const n = c.json as { id: string; description: string; config: Record<string, unknown> };
      assert.match(n.id, /^[0-9a-f]{16}$/);
      assert.ok(n.id.startsWith(zt.controllerAddress));
      assert.equal(n.config.name, "n1");
      assert.deepEqual(n.config.dns, { domain: "zt.example", servers: ["10.147.17.1"] });
      const u = await call(`${zt.centralUrl}/network/${n.id}`, "POST", auth, { config: { private: false } });
      const un = u.json as { description: string; config: Record<string, unknown> };
      assert.equal(un.config.private, false);
      assert.equal(un.config.name, "n1", "fields not sent are kept");
      assert.equal(un.description, "d1");
      assert.deepEqual(un.config.routes, [{ target: "10.147.17.0/24", via: null }]);
    });

    it("answers bad JSON with 400 {type:internal, message:JSON error}", async () => {
      const r = await call(`${zt.centralUrl}/network`, "POST", auth, "{not json");
      assert.equal(r.status, 400);
      assert.deepEqual(r.json, { type: "internal", message: "JSON error" });
    });

    it("403 for a read-only token's write, 404 for an unknown network", async () => {
      const ro = { authorization: "token readonly-token-987654" };
      assert.equal((await call(`${zt.centralUrl}/network`, "GET", ro)).status, 200);
      assert.equal((await call(`${zt.centralUrl}/network`, "POST", ro, {})).status, 403);
      assert.equal((await call(`${zt.centralUrl}/network/ffffffffffffffff`, "GET", auth)).status, 404);
    });

    it("pre-authorises a member that never joined (POST upsert); IPs come only after its config request", async () => {
      const n = (
        await call(`${zt.centralUrl}/network`, "POST", auth, {
          config: {
            name: "pools",
            v4AssignMode: { zt: true },
            routes: [{ target: "10.147.18.0/24" }],
            ipAssignmentPools: [{ ipRangeStart: "10.147.18.10", ipRangeEnd: "10.147.18.20" }],
          },
        })
      ).json as { id: string };
      assert.equal(
        (await call(`${zt.centralUrl}/network/${n.id}/member/${MEMBER}`, "GET", auth)).status,
        404,
      );
      const m = await call(`${zt.centralUrl}/network/${n.id}/member/${MEMBER}`, "POST", auth, {
        name: "h1",
        config: { authorized: true },
      });
      assert.equal(m.status, 200);
      const mj = m.json as {
        id: string;
        nodeId: string;
        networkId: string;
        name: string;
        config: Record<string, unknown>;
      };
      assert.equal(mj.id, `${n.id}-${MEMBER}`);
      assert.equal(mj.nodeId, MEMBER);
      assert.equal(mj.config.authorized, true);
      assert.deepEqual(mj.config.ipAssignments, [], "no IP before the node asks for its config");
      const list = (await call(`${zt.centralUrl}/network/${n.id}/member`, "GET", auth)).json as {
        nodeId: string;
      }[];
      assert.deepEqual(
        list.map((x) => x.nodeId),
        [MEMBER],
        "Central lists full member objects",
      );
      const agent = await call(`${zt.url}/_agent/config`, "POST", {}, { nwid: n.id, nodeId: MEMBER });
      assert.equal(agent.status, 200);
      assert.deepEqual((agent.json as { ipAssignments: string[] }).ipAssignments, ["10.147.18.10/24"]);
      const after = (await call(`${zt.centralUrl}/network/${n.id}/member/${MEMBER}`, "GET", auth)).json as {
        lastSeen: number;
        config: { ipAssignments: string[] };
      };
      assert.deepEqual(after.config.ipAssignments, ["10.147.18.10"]);
      assert.ok(after.lastSeen > 0);
    });

    it("DELETE removes the network", async () => {
      const n = (await call(`${zt.centralUrl}/network`, "POST", auth, { config: { name: "gone" } })).json as {
        id: string;
      };
      assert.equal((await call(`${zt.centralUrl}/network/${n.id}`, "DELETE", auth)).status, 200);
      assert.equal((await call(`${zt.centralUrl}/network/${n.id}`, "GET", auth)).status, 404);
    });
  });

  describe("self-hosted controller", () => {
    const auth = { "x-zt1-auth": TOKEN };

    it("accepts X-ZT1-Auth and Bearer; 401 with body {} otherwise", async () => {
      const st = await call(`${zt.url}/controller`, "GET", auth);
      assert.equal(st.status, 200);
      assert.equal((st.json as { controller: boolean }).controller, true);
      assert.equal(
        (await call(`${zt.url}/controller`, "GET", { authorization: `Bearer ${TOKEN}` })).status,
        200,
      );
      const bad = await call(`${zt.url}/controller/network`, "GET", { "x-zt1-auth": "nope" });
      assert.equal(bad.status, 401);
      assert.equal(bad.text, "{}");
      const status = (await call(`${zt.url}/status`, "GET", auth)).json as { address: string };
      assert.equal(status.address, zt.controllerAddress);
    });

    it("creates via <address>______ with a random suffix; objects are flat; member list is {id: revision}", async () => {
      const c = await call(`${zt.url}/controller/network/${zt.controllerAddress}______`, "POST", auth, {
        name: "ctl",
        v4AssignMode: { zt: true },
        routes: [{ target: "10.147.19.0/24", via: null }],
        ipAssignmentPools: [{ ipRangeStart: "10.147.19.5", ipRangeEnd: "10.147.19.6" }],
      });
      const n = c.json as { id: string; nwid: string; name: string; config?: unknown; dns: unknown };
      assert.match(n.id, new RegExp(`^${zt.controllerAddress}[0-9a-f]{6}$`));
      assert.equal(n.nwid, n.id);
      assert.equal(n.name, "ctl");
      assert.equal(n.config, undefined, "no config wrapper");
      assert.deepEqual(n.dns, [], "dns stays [] until set, like DB::initNetwork");
      assert.equal(
        (await call(`${zt.url}/controller/network/ffffffffff______`, "POST", auth, {})).status,
        400,
      );
      assert.ok(((await call(`${zt.url}/controller/network`, "GET", auth)).json as string[]).includes(n.id));

      const m = (
        await call(`${zt.url}/controller/network/${n.id}/member/${MEMBER}`, "POST", auth, {
          authorized: true,
        })
      ).json as { id: string; address: string; nwid: string; authorized: boolean; revision: number };
      assert.equal(m.address, MEMBER);
      assert.equal(m.authorized, true);
      const list = (await call(`${zt.url}/controller/network/${n.id}/member`, "GET", auth)).json;
      assert.deepEqual(list, { [MEMBER]: m.revision });

      await call(`${zt.url}/_agent/config`, "POST", {}, { nwid: n.id, nodeId: MEMBER });
      const other = await call(`${zt.url}/controller/network/${n.id}/member/b1b2c3d4e5`, "POST", auth, {
        authorized: true,
      });
      assert.equal(other.status, 200);
      const cfg2 = await call(`${zt.url}/_agent/config`, "POST", {}, { nwid: n.id, nodeId: "b1b2c3d4e5" });
      assert.deepEqual(
        (cfg2.json as { ipAssignments: string[] }).ipAssignments,
        ["10.147.19.6/24"],
        "next free address",
      );

      const del = await call(`${zt.url}/controller/network/${n.id}/member/${MEMBER}`, "DELETE", auth);
      assert.equal((del.json as { address: string }).address, MEMBER, "DELETE returns the deleted object");
      const dn = await call(`${zt.url}/controller/network/${n.id}`, "DELETE", auth);
      assert.equal((dn.json as { id: string }).id, n.id);
      assert.equal((await call(`${zt.url}/controller/network/${n.id}`, "GET", auth)).status, 404);
    });

    it("agent config: NOT_FOUND, ACCESS_DENIED for unauthorised members (member record created)", async () => {
      const nf = await call(
        `${zt.url}/_agent/config`,
        "POST",
        {},
        { nwid: "ffffffffffffff00", nodeId: MEMBER },
      );
      assert.equal(nf.status, 404);
      assert.equal((nf.json as { status: string }).status, "NOT_FOUND");
      const n = (
        await call(`${zt.url}/controller/network/${zt.controllerAddress}______`, "POST", auth, { name: "p" })
      ).json as { id: string };
      const denied = await call(`${zt.url}/_agent/config`, "POST", {}, { nwid: n.id, nodeId: MEMBER });
      assert.equal((denied.json as { status: string }).status, "ACCESS_DENIED");
      const m = (await call(`${zt.url}/controller/network/${n.id}/member/${MEMBER}`, "GET", auth)).json as {
        authorized: boolean;
      };
      assert.equal(m.authorized, false);
    });
  });

  describe("fault injection", () => {
    it("POST /_fault makes the next N calls fail with the status (429 with Retry-After)", async () => {
      const f = await call(`${zt.url}/_fault`, "POST", {}, { status: 429, count: 2, retryAfterS: 3 });
      assert.equal(f.status, 200);
      const auth = { authorization: `token ${TOKEN}` };
      const a = await call(`${zt.centralUrl}/network`, "GET", auth);
      assert.equal(a.status, 429);
      assert.equal(a.headers.get("retry-after"), "3");
      assert.equal((await call(`${zt.centralUrl}/network`, "GET", auth)).status, 429);
      assert.equal((await call(`${zt.centralUrl}/network`, "GET", auth)).status, 200);
    });
  });

  describe("rate limit", () => {
    it("answers 429 with Retry-After once the per-second budget is spent", async () => {
      const small = await startZerotierStandIn({ token: TOKEN, rateLimitPerSecond: 3 });
      try {
        const auth = { authorization: `token ${TOKEN}` };
        const statuses: number[] = [];
        // 8 calls in a burst: at most 3 per second pass; a second boundary may reset the budget once.
        const results = await Promise.all(
          Array.from({ length: 8 }, () => call(`${small.centralUrl}/network`, "GET", auth)),
        );
        for (const r of results) statuses.push(r.status);
        assert.ok(statuses.filter((s) => s === 429).length >= 2, `statuses ${statuses.join(",")}`);
        const limited = results.find((r) => r.status === 429)!;
        assert.equal(limited.headers.get("retry-after"), "1");
        assert.equal(limited.headers.get("x-ratelimit-remaining"), "0");
      } finally {
        await small.stop();
      }
    });
  });
});
