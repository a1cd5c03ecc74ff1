/**
 * ZerotierNetwork + ZerotierMember through the engine harness (real dynamic-provider host, JSON
 * state), against the stand-in on loopback, for both backends: create, no-op, update, drift repair,
 * deletion outside, check failures, secrets in state, destroy.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { Harness, type RunResult } from "../harness";
import { ZerotierClient } from "../../providers/zerotier/client";
import { startZerotierStandIn, type ZerotierStandIn } from "../testbed/zerotier/standin";

const TOKEN = "harness-zt-token-4be81c9d";
const MEMBER = "abcdef0123";

function ops(r: RunResult): Record<string, string> {
  return Object.fromEntries(r.steps.map((s) => [s.urn.split("::").pop()!, s.op]));
}

for (const backend of ["controller", "central"] as const) {
  describe(`ZeroTier providers through the engine harness (${backend})`, function () {
    this.timeout(300_000);
    let zt: ZerotierStandIn;
    let h: Harness;
    let client: ZerotierClient;

    before(async () => {
      zt = await startZerotierStandIn({ token: TOKEN });
      const apiUrl = backend === "central" ? zt.centralUrl : zt.url;
      client = new ZerotierClient({ backend, apiUrl, token: TOKEN });
      h = new Harness({
        program: path.join(__dirname, "programs", "network-member.ts"),
        stack: `zt-${backend}`,
        config: {
          "zt:backend": backend,
          "zt:apiUrl": apiUrl,
          "zt:token": { secret: TOKEN },
          "zt:memberId": MEMBER,
        },
      });
    });
    after(async () => {
      await h?.close();
      await zt?.stop();
    });

    it("up creates the network and a pre-authorised member", async () => {
      const r = await h.upOk();
      assert.equal(ops(r).build, "create");
      assert.equal(ops(r).host1, "create");
      const id = r.outputs.networkId as string;
      assert.match(id, /^[0-9a-f]{16}$/);
      assert.equal(r.outputs.memberAuthorized, true);
      const net = await client.getNetwork(id);
      assert.equal(net?.name, "g8os-build");
      assert.deepEqual(net?.dns, { domain: "build.g8os.test", servers: ["10.147.17.1"] });
      assert.equal((await client.getMember(id, MEMBER))?.authorized, true);
    });

    it("the token is never in plaintext in the state", () => {
      assert.doesNotMatch(h.stateText(), new RegExp(TOKEN));
    });

    it("a second up is a no-op: every step 'same', no API writes", async () => {
      const p = await h.preview();
      assert.ok(!p.failed, p.errors.join("\n"));
      assert.deepEqual(
        Object.values(ops(p)).filter((o) => o !== "same"),
        [],
      );
      const writes = zt.writeCount();
      const r = await h.upOk();
      assert.deepEqual(
        Object.values(ops(r)).filter((o) => o !== "same"),
        [],
      );
      assert.equal(zt.writeCount(), writes);
    });

    it("renaming the network is an in-place update", async () => {
      h.setConfig("zt:networkName", "g8os-build-2");
      const r = await h.upOk();
      assert.equal(ops(r).build, "update");
      assert.equal(ops(r).host1, "same");
      assert.equal((await client.getNetwork(r.outputs.networkId as string))?.name, "g8os-build-2");
    });

    it("member deauthorised outside: refresh reports it, up re-authorises", async () => {
      const id = (await h.upOk()).outputs.networkId as string;
      await client.upsertMember(id, MEMBER, { authorized: false });
      const rf = await h.refresh();
      assert.ok(!rf.failed, rf.errors.join("\n"));
      assert.equal(ops(rf).host1, "refresh-update");
      const r = await h.upOk();
      assert.equal(ops(r).host1, "update");
      assert.equal((await client.getMember(id, MEMBER))?.authorized, true);
    });

    it("network deleted outside: refresh reports it (and drops its member), up re-creates both", async () => {
      const old = (await h.upOk()).outputs.networkId as string;
      await client.deleteNetwork(old);
      const rf = await h.refresh();
      assert.ok(!rf.failed, rf.errors.join("\n"));
      // Central assigns ids itself: a new network. The controller re-creates it under the same id,
      // so hosts that only accept SSH over it get back in untouched.
      assert.equal(ops(rf).build, backend === "central" ? "refresh-delete" : "refresh-update");
      assert.equal(ops(rf).host1, "refresh-delete");
      const r = await h.upOk();
      assert.equal(ops(r).build, backend === "central" ? "create" : "update");
      assert.equal(ops(r).host1, "create");
      const id = r.outputs.networkId as string;
      if (backend === "central") assert.notEqual(id, old);
      else assert.equal(id, old);
      assert.equal((await client.getMember(id, MEMBER))?.authorized, true);
    });

    it("bad inputs fail check naming the field: malformed network id, pool outside its route", async () => {
      h.setConfig("zt:networkIdOverride", "not-a-network");
      h.setConfig("zt:pools", JSON.stringify([{ start: "10.9.0.1", end: "10.9.0.20" }]));
      const p = await h.preview();
      assert.ok(p.failed);
      const text = p.errors.join("\n");
      assert.match(text, /networkId/);
      assert.match(text, /16 lowercase hex/);
      assert.match(text, /ipAssignmentPools\[0\]/);
      assert.match(text, /not inside any route/);
      assert.doesNotMatch(text + p.log, new RegExp(TOKEN));
    });

    it("destroy deletes the member and the network", async () => {
      h.setConfig("zt:networkIdOverride", "");
      h.setConfig("zt:pools", JSON.stringify([{ start: "10.147.17.10", end: "10.147.17.99" }]));
      const id = (await h.upOk()).outputs.networkId as string;
      const d = await h.destroy();
      assert.ok(!d.failed, d.errors.join("\n"));
      assert.equal(await client.getNetwork(id), undefined);
    });
  });
}
