/**
 * Pins the HTTP stand-in to the real services: both APIs, both auth forms, error shapes, upserts,
 * and "auto-assigned IPs only after the node asks for its config". Each test names its source:
 * zerotier/docs `static/openapi/central/v1.json` (Central), zerotier/ZeroTierOne
 * `controller/EmbeddedNetworkController.cpp`, `controller/DB.cpp`, `controller/FileDB.cpp`,
 * `service/OneService.cpp` (controller), zerotier/go-ztcentral `client.go` (rate limits), as
 * summarised in /work/shared/facts/zerotier.md section 5 and docs/protocols/zerotier.md.
 * Raw fetch on purpose: these tests check the wire format, not our client.
 */
import { strict as assert } from "assert";
import { startZerotierStandIn, type ZerotierStandIn } from "./standin";

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

    it("accepts `token` and `bearer` auth; a bad token is 403 on GET/POST /network, 401 elsewhere (central/v1.json)", async () => {
      assert.equal((await call(`${zt.centralUrl}/status`, "GET", auth)).status, 200);
      assert.equal(
        (await call(`${zt.centralUrl}/status`, "GET", { authorization: `bearer ${TOKEN}` })).status,
        200,
      );
      // central/v1.json lists 403 (and no 401) as the error of GET and POST /network.
      const r = await call(`${zt.centralUrl}/network`, "GET", { authorization: "token wrong" });
      assert.equal(r.status, 403);
      assert.equal(typeof (r.json as { message?: unknown }).message, "string");
      assert.equal(
        (await call(`${zt.centralUrl}/network`, "POST", { authorization: "token wrong" }, {})).status,
        403,
      );
      // ... and 401 for the per-network paths.
      const one = await call(`${zt.centralUrl}/network/ffffffffffffffff`, "GET", {
        authorization: "token x",
      });
      assert.equal(one.status, 401);
      // The controller header means nothing to Central.
      assert.equal((await call(`${zt.centralUrl}/status`, "GET", { "x-zt1-auth": TOKEN })).status, 401);
    });

    it("sends rate-limit headers; X-Ratelimit-Reset is an HTTP date (go-ztcentral client.go)", async () => {
      const r = await call(`${zt.centralUrl}/network`, "GET", auth);
      assert.equal(r.headers.get("x-ratelimit-limit"), "100");
      assert.ok(Number(r.headers.get("x-ratelimit-remaining")) < 100);
      const reset = r.headers.get("x-ratelimit-reset") ?? "";
      assert.match(reset, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      assert.ok(Date.parse(reset) >= Date.now() - 1000);
    });

    it("renders the nulls central/v1.json allows, when asked: null fields, or config: null", async () => {
      const n = (await call(`${zt.centralUrl}/network`, "POST", auth, { config: {} })).json as { id: string };
      await call(`${zt.centralUrl}/network/${n.id}/member/${MEMBER}`, "POST", auth, { config: {} });
      zt.setCentralNulls("empty");
      try {
        const net = (await call(`${zt.centralUrl}/network/${n.id}`, "GET", auth)).json as {
          description: unknown;
          config: Record<string, unknown>;
        };
        assert.equal(net.description, null);
        for (const f of ["name", "routes", "ipAssignmentPools", "v4AssignMode", "dns"])
          assert.equal(net.config[f], null, f);
        const m = (await call(`${zt.centralUrl}/network/${n.id}/member/${MEMBER}`, "GET", auth)).json as {
          name: unknown;
          config: Record<string, unknown>;
        };
        assert.equal(m.name, null);
        assert.equal(m.config.ipAssignments, null);
        assert.equal(m.config.tags, null);
        zt.setCentralNulls("config");
        const c = (await call(`${zt.centralUrl}/network/${n.id}`, "GET", auth)).json as { config: unknown };
        assert.equal(c.config, null);
      } finally {
        zt.setCentralNulls("none");
      }
      const plain = (await call(`${zt.centralUrl}/network/${n.id}`, "GET", auth)).json as {
        config: Record<string, unknown>;
      };
      assert.deepEqual(plain.config.routes, [], "default rendering keeps empty lists");
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
      const given = (agent.json as { ipAssignments: string[] }).ipAssignments;
      assert.equal(given.length, 1);
      assert.match(
        given[0],
        /^10\.147\.18\.(1\d|20)\/24$/,
        "an address of the pool, with the route's prefix",
      );
      const after = (await call(`${zt.centralUrl}/network/${n.id}/member/${MEMBER}`, "GET", auth)).json as {
        lastSeen: number;
        config: { ipAssignments: string[] };
      };
      assert.deepEqual(after.config.ipAssignments, [given[0].split("/")[0]]);
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

      // Pool .5-.6: start + counter % (end - start) is always .5 (the end of a pool is never picked),
      // so the first member gets .5 and a second one nothing (EmbeddedNetworkController.cpp).
      const cfg1 = await call(`${zt.url}/_agent/config`, "POST", {}, { nwid: n.id, nodeId: MEMBER });
      assert.deepEqual((cfg1.json as { ipAssignments: string[] }).ipAssignments, ["10.147.19.5/24"]);
      const other = await call(`${zt.url}/controller/network/${n.id}/member/b1b2c3d4e5`, "POST", auth, {
        authorized: true,
      });
      assert.equal(other.status, 200);
      const cfg2 = await call(`${zt.url}/_agent/config`, "POST", {}, { nwid: n.id, nodeId: "b1b2c3d4e5" });
      assert.deepEqual((cfg2.json as { ipAssignments: string[] }).ipAssignments, [], "no other address");

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

  describe("self-hosted controller: behaviours read from ZeroTierOne's source", () => {
    const auth = { "x-zt1-auth": TOKEN };
    const ctl = (p: string): string => `${zt.url}/controller${p}`;

    async function network(body: Record<string, unknown>): Promise<string> {
      const r = await call(ctl("/network"), "POST", auth, body);
      assert.equal(r.status, 200);
      return (r.json as { id: string }).id;
    }
    async function joinIps(nwid: string, nodeId: string): Promise<string[]> {
      await call(ctl(`/network/${nwid}/member/${nodeId}`), "POST", auth, { authorized: true });
      const r = await call(`${zt.url}/_agent/config`, "POST", {}, { nwid, nodeId });
      return ((r.json as { ipAssignments?: string[] }).ipAssignments ?? []).map((x) => x.split("/")[0]);
    }
    const n = (ip: string): number => ip.split(".").reduce((a, b) => a * 256 + Number(b), 0);

    it("POST /controller/network without an id creates a network with a random id under this controller", async () => {
      const a = await network({ name: "a" });
      const b = await network({ name: "b" });
      assert.match(a, new RegExp(`^${zt.controllerAddress}[0-9a-f]{6}$`));
      assert.notEqual(a, b);
    });

    it("accepts the token as ?auth= too (OneService.cpp authCheck)", async () => {
      assert.equal((await call(`${ctl("/network")}?auth=${TOKEN}`, "GET", {})).status, 200);
      const bad = await call(`${ctl("/network")}?auth=wrong-token`, "GET", {});
      assert.equal(bad.status, 401);
      assert.equal(bad.text, "{}");
    });

    it("ids match [0-9a-fA-F]: upper-case network and member ids name the lower-case records", async () => {
      const id = await network({ name: "case" });
      const got = await call(ctl(`/network/${id.toUpperCase()}`), "GET", auth);
      assert.equal(got.status, 200);
      assert.equal((got.json as { id: string }).id, id);
      const m = await call(ctl(`/network/${id.toUpperCase()}/member/ABCDEF0123`), "POST", auth, {});
      assert.equal((m.json as { id: string }).id, "abcdef0123");
      assert.deepEqual(Object.keys((await call(ctl(`/network/${id}/member`), "GET", auth)).json as object), [
        "abcdef0123",
      ]);
      const created = await call(
        ctl(`/network/${zt.controllerAddress.toUpperCase()}______`),
        "POST",
        auth,
        {},
      );
      assert.match((created.json as { id: string }).id, new RegExp(`^${zt.controllerAddress}[0-9a-f]{6}$`));
    });

    it("malformed JSON and a non-string ipAssignments entry answer 500 {error:500, description}", async () => {
      const id = await network({ name: "bad-input" });
      const bad = await call(ctl(`/network/${id}`), "POST", auth, "{not json");
      assert.equal(bad.status, 500);
      const j = bad.json as { error: number; description: string };
      assert.equal(j.error, 500);
      assert.equal(typeof j.description, "string");
      const nonString = await call(ctl(`/network/${id}/member/${MEMBER}`), "POST", auth, {
        ipAssignments: ["10.1.1.1", 5],
      });
      assert.equal(nonString.status, 500);
      assert.equal((nonString.json as { error: number }).error, 500);
      assert.equal(
        (await call(ctl(`/network/${id}/member/${MEMBER}`), "GET", auth)).status,
        404,
        "nothing saved",
      );
    });

    it("a 404 has an empty body", async () => {
      const r = await call(ctl("/network/ffffffffffffff01"), "GET", auth);
      assert.equal(r.status, 404);
      assert.equal(r.text, "");
      const id = await network({});
      const m = await call(ctl(`/network/${id}/member/0123456789`), "GET", auth);
      assert.equal(m.status, 404);
      assert.equal(m.text, "");
    });

    it("revision starts at 1 and grows only when a record really changes (DB.cpp / FileDB.cpp save)", async () => {
      const c = await call(ctl("/network"), "POST", auth, { name: "rev" });
      const id = (c.json as { id: string; revision: number }).id;
      assert.equal((c.json as { revision: number }).revision, 1);
      const same = await call(ctl(`/network/${id}`), "POST", auth, { name: "rev" });
      assert.equal((same.json as { revision: number }).revision, 1, "same values: no new revision");
      const changed = await call(ctl(`/network/${id}`), "POST", auth, { name: "rev2" });
      assert.equal((changed.json as { revision: number }).revision, 2);

      const m1 = await call(ctl(`/network/${id}/member/${MEMBER}`), "POST", auth, { authorized: true });
      assert.equal((m1.json as { revision: number }).revision, 1);
      const m2 = await call(ctl(`/network/${id}/member/${MEMBER}`), "POST", auth, { authorized: true });
      assert.equal((m2.json as { revision: number }).revision, 1);
      const m3 = await call(ctl(`/network/${id}/member/${MEMBER}`), "POST", auth, { authorized: false });
      assert.equal((m3.json as { revision: number }).revision, 2);
      assert.deepEqual((await call(ctl(`/network/${id}/member`), "GET", auth)).json, { [MEMBER]: 2 });
    });

    it("keeps IPv6 routes, pools and member ipAssignments (network and member POST)", async () => {
      const id = await network({
        routes: [
          { target: "fd00:1234::/64", via: null },
          { target: "10.1.0.0/16", via: null },
          { target: "10.2.0.0/16", via: "fd00:1234::1" },
        ],
        ipAssignmentPools: [{ ipRangeStart: "fd00:1234::1", ipRangeEnd: "fd00:1234::ff" }],
      });
      const net = (await call(ctl(`/network/${id}`), "GET", auth)).json as {
        routes: unknown;
        ipAssignmentPools: unknown;
      };
      assert.deepEqual(net.routes, [
        { target: "fd00:1234::/64", via: null },
        { target: "10.1.0.0/16", via: null },
        { target: "10.2.0.0/16", via: null }, // a via of the other family is dropped
      ]);
      assert.deepEqual(net.ipAssignmentPools, [
        { ipRangeStart: "fd00:1234::1", ipRangeEnd: "fd00:1234::ff" },
      ]);
      const m = await call(ctl(`/network/${id}/member/${MEMBER}`), "POST", auth, {
        ipAssignments: ["fd00:1234::5", "10.1.0.5", "not-an-ip"],
      });
      assert.deepEqual((m.json as { ipAssignments: string[] }).ipAssignments, ["fd00:1234::5", "10.1.0.5"]);
    });

    describe("IPv4 auto-assignment (EmbeddedNetworkController.cpp, when the member asks for its config)", () => {
      it("depends on the member address: not the pool's first free address", async () => {
        const id = await network({
          v4AssignMode: { zt: true },
          routes: [{ target: "10.147.30.0/24" }],
          ipAssignmentPools: [{ ipRangeStart: "10.147.30.1", ipRangeEnd: "10.147.30.201" }],
        });
        for (const member of ["0000000064", "0000000032"]) {
          const [ip] = await joinIps(id, member);
          assert.ok(n(ip) > n("10.147.30.1") && n(ip) <= n("10.147.30.201"), `${member} got ${ip}`);
        }
      });

      it("skips addresses ending in .255", async () => {
        // Low 32 bits 5 and a pool of 16: the first candidate is .250 + 5 = .255.
        const id = await network({
          v4AssignMode: { zt: true },
          routes: [{ target: "10.147.30.0/23" }],
          ipAssignmentPools: [{ ipRangeStart: "10.147.30.250", ipRangeEnd: "10.147.31.10" }],
        });
        const [ip] = await joinIps(id, "0000000005");
        assert.ok(ip, "an address was assigned");
        assert.doesNotMatch(ip, /\.255$/);
        assert.ok(n(ip) >= n("10.147.30.250") && n(ip) <= n("10.147.31.10"));
      });

      it("only from pools inside a route (one with `via` counts too)", async () => {
        const id = await network({
          v4AssignMode: { zt: true },
          routes: [
            { target: "10.147.33.0/24", via: null },
            { target: "10.200.0.0/16", via: "10.147.33.1" },
          ],
          ipAssignmentPools: [
            { ipRangeStart: "10.99.0.1", ipRangeEnd: "10.99.0.50" },
            { ipRangeStart: "10.200.5.1", ipRangeEnd: "10.200.5.50" },
          ],
        });
        const ips = await joinIps(id, "00000000aa");
        assert.equal(ips.length, 1);
        assert.ok(n(ips[0]) >= n("10.200.5.1") && n(ips[0]) <= n("10.200.5.50"), ips[0]);
        const outside = await network({
          v4AssignMode: { zt: true },
          routes: [{ target: "10.147.34.0/24" }],
          ipAssignmentPools: [{ ipRangeStart: "10.99.0.1", ipRangeEnd: "10.99.0.50" }],
        });
        assert.deepEqual(
          await joinIps(outside, "00000000aa"),
          [],
          "a pool outside every route gives nothing",
        );
      });

      it("skips addresses other members hold; none for a member already holding one in a route", async () => {
        const id = await network({
          v4AssignMode: { zt: true },
          routes: [{ target: "10.147.35.0/24" }],
          ipAssignmentPools: [{ ipRangeStart: "10.147.35.10", ipRangeEnd: "10.147.35.20" }],
        });
        // Low 32 bits 3, pool of 10: the first candidate is .13; another member holds it.
        await call(ctl(`/network/${id}/member/1111111111`), "POST", auth, {
          ipAssignments: ["10.147.35.13"],
        });
        const [ip] = await joinIps(id, "0000000003");
        assert.ok(ip && ip !== "10.147.35.13", `got ${ip}`);
        assert.ok(n(ip) >= n("10.147.35.10") && n(ip) < n("10.147.35.20"));
        await call(ctl(`/network/${id}/member/2222222222`), "POST", auth, {
          ipAssignments: ["10.147.35.100"],
        });
        assert.deepEqual(await joinIps(id, "2222222222"), ["10.147.35.100"]);
      });
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

    it("a 429 without retryAfterS carries no Retry-After, as Central may send it (facts section 5)", async () => {
      zt.setFault({ status: 429, count: 1 });
      const a = await call(`${zt.centralUrl}/network`, "GET", { authorization: `token ${TOKEN}` });
      assert.equal(a.status, 429);
      assert.equal(a.headers.get("retry-after"), null);
      assert.ok(a.headers.get("x-ratelimit-reset"), "the rate-limit headers are still sent");
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
