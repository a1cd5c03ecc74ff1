/**
 * The ZerotierNetwork and ZerotierMember providers, called the way the dynamic-provider host calls
 * them: each provider object is first closure-serialised by Pulumi and loaded back with
 * require-from-string (what `@pulumi/pulumi/cmd/dynamic-provider` does), then driven through
 * check/create/diff/read/update/delete against the stand-in, for both backends.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { UNKNOWN } from "../../providers/shared/dynamic";
import {
  zerotierMemberProvider,
  zerotierNetworkProvider,
  checkNetworkInputs,
  checkMemberInputs,
} from "../../providers/zerotier";
import { startZerotierStandIn, type ZerotierStandIn } from "../testbed/zerotier/standin";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
type Props = Record<string, unknown>;

const TOKEN = "provider-test-token-77aa11";
const NODE = "deadbeef01";

async function roundTrip(p: pulumi.dynamic.ResourceProvider): Promise<Provider> {
  const sf = await pulumi.runtime.serializeFunction(() => p, { allowSecrets: true });
  const requireFromString = require("require-from-string") as (code: string) => { handler: () => Provider };
  return requireFromString(sf.text).handler();
}

function properties(failures: { property: string }[]): string[] {
  return failures.map((f) => f.property).sort();
}

describe("ZeroTier providers: check", () => {
  const conn = { backend: "central", apiUrl: "https://api.zerotier.com/api/v1", token: TOKEN } as const;

  it("names the field and the fix for bad routes, pools and DNS", () => {
    const failures = checkNetworkInputs({
      ...conn,
      name: "n",
      routes: [{ target: "10.1.0.0/33" }, { target: "10.2.0.5/24" }, { target: "10.3.0.0/24", via: "nope" }],
      ipAssignmentPools: [
        { start: "10.3.0.20", end: "10.3.0.10" },
        { start: "10.9.0.1", end: "10.9.0.9" },
        { start: "10.3.0.300", end: "10.3.0.4" },
      ],
      dns: { domain: "zt.example.com", servers: ["1.2.3"] },
    });
    assert.deepEqual(properties(failures), [
      "dns.servers[0]",
      "ipAssignmentPools[0]",
      "ipAssignmentPools[1]",
      "ipAssignmentPools[2].start",
      "routes[0].target",
      "routes[1].target",
      "routes[2].via",
    ]);
    const byProp = Object.fromEntries(failures.map((f) => [f.property, f.reason]));
    assert.match(byProp["routes[0].target"], /CIDR like 10\.147\.17\.0\/24/);
    assert.match(byProp["routes[1].target"], /use the network address \(10\.2\.0\.0\/24\)/);
    assert.match(
      byProp["ipAssignmentPools[0]"],
      /start 10\.3\.0\.20 is after end 10\.3\.0\.10\. Fix: swap them/,
    );
    assert.match(byProp["ipAssignmentPools[1]"], /not inside any route.*10\.9\.0\.0\/24/);
    for (const f of failures) assert.match(f.reason, /\S\. Fix: \S/, f.property);
  });

  it("fails flowRules on the controller backend (it ignores rulesSource) and hidden members there", () => {
    const f = checkNetworkInputs({
      ...conn,
      backend: "controller",
      apiUrl: "http://127.0.0.1:9993",
      name: "n",
      flowRules: "drop;",
    });
    assert.deepEqual(properties(f), ["flowRules"]);
    assert.match(f[0].reason, /ignores rulesSource.*remove flowRules, or use backend "central"/);
    const m = checkMemberInputs({
      ...conn,
      backend: "controller",
      networkId: "8056c2e21c000001",
      memberId: NODE,
      hidden: true,
    });
    assert.deepEqual(properties(m), ["hidden"]);
  });

  it("malformed ids, bad IPs and bad connection inputs; reasons never quote the token", () => {
    const f = checkMemberInputs({
      backend: "hosted" as "central",
      apiUrl: "ftp://x",
      token: "",
      networkId: "8056C2E21C00000",
      memberId: "xyz",
      ipAssignments: ["10.0.0.1/24"],
      waitForIp: { timeoutMs: 5 },
    });
    assert.deepEqual(properties(f), [
      "apiUrl",
      "backend",
      "ipAssignments[0]",
      "memberId",
      "networkId",
      "token",
      "waitForIp.timeoutMs",
    ]);
    const byProp = Object.fromEntries(f.map((x) => [x.property, x.reason]));
    assert.match(byProp.networkId, /16 lowercase hex.*networkId output of a ZerotierNetwork/);
    assert.match(byProp.memberId, /zerotier-cli info/);
    const withToken = checkNetworkInputs({ ...conn, name: "", token: TOKEN });
    assert.ok(withToken.every((x) => !x.reason.includes(TOKEN)));
  });

  it("skips unknown values at preview", () => {
    const f = checkMemberInputs({ ...conn, networkId: UNKNOWN, memberId: NODE });
    assert.deepEqual(f, []);
    const n = checkNetworkInputs({
      ...conn,
      name: "n",
      routes: UNKNOWN as never,
      ipAssignmentPools: [{ start: "10.0.0.1", end: "10.0.0.2" }],
    });
    assert.deepEqual(n, []);
  });
});

for (const backend of ["central", "controller"] as const) {
  describe(`ZeroTier providers: lifecycle (${backend}, serialised providers)`, () => {
    let zt: ZerotierStandIn;
    let net: Provider;
    let mem: Provider;
    let conn: { backend: typeof backend; apiUrl: string; token: string };

    before(async () => {
      zt = await startZerotierStandIn({ token: TOKEN });
      conn = { backend, apiUrl: backend === "central" ? zt.centralUrl : zt.url, token: TOKEN };
      net = await roundTrip(zerotierNetworkProvider);
      mem = await roundTrip(zerotierMemberProvider);
    });
    after(async () => zt.stop());

    const netArgs = (over: Props = {}): Props => ({
      ...conn,
      name: "build",
      description: "build network",
      routes: [{ target: "10.214.0.0/24" }],
      ipAssignmentPools: [{ start: "10.214.0.10", end: "10.214.0.99" }],
      dns: { domain: "zt.g8os.test", servers: ["10.214.0.254"] },
      ...over,
    });

    /** One auto-assigned address from netArgs' pool; which one is the controller's choice. */
    function assertPoolIp(ips: unknown): void {
      assert.ok(Array.isArray(ips) && ips.length === 1, `one address: ${JSON.stringify(ips)}`);
      const last = Number(/^10\.214\.0\.(\d+)$/.exec(String(ips[0]))?.[1]);
      assert.ok(last >= 10 && last <= 99, `${ips[0]} lies in the pool 10.214.0.10-99`);
    }

    async function checked(p: Provider, news: Props, olds: Props = {}): Promise<Props> {
      const r = await p.check(olds, news);
      assert.deepEqual(r.failures ?? [], []);
      return r.inputs as Props;
    }

    it("network: create, no-op diff, rename is an update, token change writes nothing", async () => {
      const inputs = await checked(net, netArgs());
      const { id, outs } = await net.create(inputs);
      assert.match(id, /^[0-9a-f]{16}$/);
      assert.equal(outs.networkId, id);
      assert.equal(outs.description, "build network");
      assert.deepEqual(outs.routes, [{ target: "10.214.0.0/24", via: null }]);
      assert.deepEqual(outs.dns, { domain: "zt.g8os.test", servers: ["10.214.0.254"] });

      // Same program again: read back from the API, check, diff: no changes.
      const read = await net.read(id, outs);
      assert.deepEqual(read.props, outs);
      const same = await net.diff(id, read.props, await checked(net, netArgs(), inputs));
      assert.equal(same.changes, false);

      const renamed = await checked(net, netArgs({ name: "build-2" }), inputs);
      const d = await net.diff(id, outs, renamed);
      assert.equal(d.changes, true);
      assert.deepEqual(d.replaces, []);
      const upd = await net.update(id, outs, renamed);
      assert.equal(upd.outs.name, "build-2");

      const writes = zt.writeCount();
      const rotated = await checked(net, netArgs({ name: "build-2", token: TOKEN }), renamed);
      const dt = await net.diff(id, { ...upd.outs, token: "old-token-value" }, rotated);
      assert.equal(dt.changes, true, "a new token is recorded");
      assert.deepEqual(dt.replaces, [], "a token change alone never replaces");
      await net.update(id, { ...upd.outs, token: "old-token-value" }, rotated);
      assert.equal(zt.writeCount(), writes, "a token-only update writes nothing");

      const swap = await net.diff(id, upd.outs, {
        ...rotated,
        backend: backend === "central" ? "controller" : "central",
      });
      assert.deepEqual(swap.replaces, ["backend"]);
      await net.delete(id, upd.outs);
    });

    it("network: unsorted input routes/pools and API defaults cause no perpetual diff", async () => {
      const args = netArgs({
        routes: [{ target: "10.214.0.0/24" }, { target: "10.50.0.0/16", via: "10.214.0.1" }],
        ipAssignmentPools: [
          { start: "10.214.0.50", end: "10.214.0.60" },
          { start: "10.214.0.10", end: "10.214.0.20" },
        ],
        dns: undefined,
      });
      const inputs = await checked(net, args);
      const { id, outs } = await net.create(inputs);
      const read = await net.read(id, outs);
      const again = await checked(net, args, inputs);
      assert.equal((await net.diff(id, read.props, again)).changes, false);
      await net.delete(id, outs);
    });

    it("network deleted outside: Central drops it (new network on up); the controller keeps the id and re-creates it in place", async () => {
      const inputs = await checked(net, netArgs());
      const { id, outs } = await net.create(inputs);
      const del = await fetch(
        backend === "central" ? `${zt.centralUrl}/network/${id}` : `${zt.url}/controller/network/${id}`,
        {
          method: "DELETE",
          headers: backend === "central" ? { authorization: `token ${TOKEN}` } : { "x-zt1-auth": TOKEN },
        },
      );
      assert.equal(del.status, 200);
      const read = await net.read(id, outs);
      if (backend === "central") {
        assert.equal(read.id, undefined);
        const again = await net.create(inputs);
        assert.notEqual(again.id, id);
        await net.delete(again.id, again.outs);
      } else {
        // Hosts locked to this network get back in without anyone touching them: same id.
        assert.equal(read.id, id);
        assert.equal((read.props as { deleted?: boolean }).deleted, true);
        const d = await net.diff(id, read.props, inputs);
        assert.equal(d.changes, true);
        const up = await net.update(id, read.props, inputs);
        assert.equal(up.outs.networkId, id);
        await net.delete(id, up.outs);
      }
    });

    it("member: pre-authorised, deauthorised outside -> read reports it, update repairs; deleted -> read drops it", async () => {
      const n = await net.create(await checked(net, netArgs()));
      const margs = { ...conn, networkId: n.id, memberId: NODE, name: "host1" };
      const mi = await checked(mem, margs);
      const { id, outs } = await mem.create(mi);
      assert.equal(id, `${n.id}-${NODE}`);
      assert.equal(outs.authorized, true);
      assert.deepEqual(outs.assignedIps, []);
      assert.equal(outs.ipAssignments, undefined, "auto mode keeps no fixed list");

      // Someone deauthorises the member in the UI.
      const client = new (require("../../providers/zerotier/client").ZerotierClient)(conn);
      await client.upsertMember(n.id, NODE, { authorized: false });
      const refreshed = await mem.read(id, outs);
      assert.equal(refreshed.props.authorized, false, "refresh reports the deauthorisation");
      const d = await mem.diff(id, refreshed.props, await checked(mem, margs, mi));
      assert.equal(d.changes, true);
      assert.deepEqual(d.replaces, []);
      const repaired = await mem.update(id, refreshed.props, mi);
      assert.equal(repaired.outs.authorized, true);
      assert.equal((await client.getMember(n.id, NODE)).authorized, true);

      // The node asks for its config: an auto IP appears and shows in assignedIps, without a diff.
      await fetch(`${zt.url}/_agent/config`, {
        method: "POST",
        body: JSON.stringify({ nwid: n.id, nodeId: NODE }),
      });
      const withIp = await mem.read(id, repaired.outs);
      assertPoolIp(withIp.props.assignedIps);
      assert.equal((await mem.diff(id, withIp.props, mi)).changes, false);

      await client.deleteMember(n.id, NODE);
      assert.equal((await mem.read(id, withIp.props)).id, undefined);
      const back = await mem.create(mi);
      assert.equal(back.outs.authorized, true);
      await mem.delete(back.id, back.outs);
      assert.equal(await client.getMember(n.id, NODE), undefined);
      await net.delete(n.id, n.outs);
    });

    it("member: fixed ipAssignments turn auto-assignment off; drift outside is repaired", async () => {
      const n = await net.create(await checked(net, netArgs()));
      const mi = await checked(mem, {
        ...conn,
        networkId: n.id,
        memberId: NODE,
        ipAssignments: ["10.214.0.200"],
      });
      const { id, outs } = await mem.create(mi);
      assert.deepEqual(outs.ipAssignments, ["10.214.0.200"]);
      const cfg = (await (
        await fetch(`${zt.url}/_agent/config`, {
          method: "POST",
          body: JSON.stringify({ nwid: n.id, nodeId: NODE }),
        })
      ).json()) as { ipAssignments: string[] };
      assert.deepEqual(cfg.ipAssignments, ["10.214.0.200/24"], "no auto address on top of the fixed one");
      const client = new (require("../../providers/zerotier/client").ZerotierClient)(conn);
      await client.upsertMember(n.id, NODE, { ipAssignments: ["10.214.0.201"] });
      const r = await mem.read(id, outs);
      assert.equal((await mem.diff(id, r.props, mi)).changes, true);
      const fixed = await mem.update(id, r.props, mi);
      assert.deepEqual(fixed.outs.assignedIps, ["10.214.0.200"]);
      await net.delete(n.id, n.outs);
    });

    it("member waitForIp: resolves once the node asks for its config; a timeout names network, member and what to check", async () => {
      const n = await net.create(await checked(net, netArgs()));
      const mi = await checked(mem, {
        ...conn,
        networkId: n.id,
        memberId: NODE,
        waitForIp: { timeoutMs: 20_000 },
      });
      // The node joins a little later (stands for zerotier-one's first config request).
      const logStart = zt.requestLog.length;
      const joined = (async () => {
        for (let i = 0; i < 250; i++) {
          const m = zt.requestLog
            .slice(logStart)
            .find((r) => r.method === "POST" && r.path.endsWith(`/member/${NODE}`));
          if (m) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await fetch(`${zt.url}/_agent/config`, {
          method: "POST",
          body: JSON.stringify({ nwid: n.id, nodeId: NODE }),
        });
      })();
      const { outs } = await mem.create(mi);
      await joined;
      assertPoolIp(outs.assignedIps);

      const other = "cafebabe02";
      const slow = await checked(mem, {
        ...conn,
        networkId: n.id,
        memberId: other,
        waitForIp: { timeoutMs: 1000 },
      });
      await assert.rejects(mem.create(slow), (err: Error & { id?: string; properties?: Props }) => {
        assert.match(
          err.message,
          new RegExp(`ZerotierMember "${n.id}/${other}": wait for IP failed: no IP after 1 s`),
        );
        assert.match(err.message, /last seen: authorized=true, lastSeen=never/);
        assert.match(err.message, new RegExp(`node ${other} has joined network ${n.id}`));
        assert.equal(err.id, `${n.id}-${other}`, "partial create: the member is recorded");
        assert.equal(err.properties?.authorized, true);
        return true;
      });
      await net.delete(n.id, n.outs);
    });

    it("API errors reach the user with resource, step and hint, without the token", async () => {
      const inputs = await checked(net, netArgs({ token: "not-the-token-1234" }));
      await assert.rejects(net.create(inputs), (err: Error) => {
        assert.ok(err instanceof Error, "a real Error even after closure serialisation");
        // Central's spec answers 403 for a bad token on POST /network; the controller 401.
        assert.match(
          err.message,
          new RegExp(`ZerotierNetwork "build": .*HTTP ${backend === "central" ? 403 : 401}`),
        );
        assert.doesNotMatch(err.message, /not-the-token-1234/);
        return true;
      });
    });
  });
}
