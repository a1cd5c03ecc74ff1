/**
 * The many-node fleet (test/testbed/core0-emulator/fleet.ts) keeps every node's redis its own:
 * separate keyspaces, the image's password enforced per connection, commands that would reach
 * other nodes refused in order, and each node's core0 sink answering on its own queue. In-process,
 * loopback only; no product code (raw redis calls, as a node's client would make them).
 */
import { strict as assert } from "assert";
import { randomUUID } from "crypto";
import type { Redis } from "ioredis";
import { startCore0Fleet, type Core0Fleet } from "./core0-emulator/fleet";

describe("core0 emulator fleet: many independent nodes in one process", function () {
  this.timeout(60_000);
  const password = "fleet-" + randomUUID();
  let fleet: Core0Fleet;
  const conns: Redis[] = [];
  const IoRedis = require("ioredis") as typeof import("ioredis").default;
  /** A raw connection to node `i`, authenticated with `pw` (null: none). */
  const connect = (i: number, pw: string | null = password): Redis => {
    const c = new IoRedis({
      host: fleet.nodes[i].address,
      port: fleet.nodes[i].port,
      password: pw ?? undefined,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on("error", () => undefined);
    conns.push(c);
    return c;
  };

  before(async () => {
    // Monitoring-style commands read no file content: the IPFS front is never asked.
    fleet = await startCore0Fleet(3, { password, ipfsApi: "http://127.0.0.1:9" });
  });
  after(async () => {
    for (const c of conns) c.disconnect();
    await fleet?.stop();
  });

  it("each node has its own keyspace and port", async () => {
    assert.equal(new Set(fleet.nodes.map((n) => n.port)).size, 3);
    const a = connect(0);
    const b = connect(1);
    await a.rpush("only-on-0", "x");
    assert.equal(await a.llen("only-on-0"), 1);
    assert.equal(await b.llen("only-on-0"), 0);
    assert.equal(await b.dbsize(), 0);
  });

  it("the password is enforced per connection: a wrong AUTH leaves it unauthenticated", async () => {
    const c = connect(0, null);
    await assert.rejects(c.call("AUTH", "wrong"), /WRONGPASS|invalid password/);
    await assert.rejects(c.llen("only-on-0"), /NOAUTH/);
    await c.call("AUTH", password);
    assert.equal(await c.llen("only-on-0"), 1);
  });

  it("commands reaching other nodes' data are refused, in order with the others' replies", async () => {
    const c = connect(2);
    const replies = await c.pipeline().llen("q").call("SELECT", "0").call("FLUSHALL").llen("q").exec();
    assert.equal(replies?.[0][1], 0);
    assert.match(String(replies?.[1][0]), /fleet: SELECT is not multiplexed/);
    assert.match(String(replies?.[2][0]), /fleet: FLUSHALL is not multiplexed/);
    assert.equal(replies?.[3][1], 0);
    assert.equal(await connect(0).llen("only-on-0"), 1, "node 0's data is untouched");
  });

  it("each node's core0 sink answers the commands pushed to that node only", async () => {
    const c = connect(1);
    const other = connect(2);
    const id = randomUUID();
    // v0.9.0 Command (base/command.go): tags is a string.
    await c.rpush(
      "core:default",
      JSON.stringify({ id, command: "core.ping", arguments: {}, queue: "", tags: "" }),
    );
    const raw = await c.brpoplpush(`result:${id}`, `result:${id}`, 10);
    assert.ok(raw, "node 1 answered");
    assert.equal((JSON.parse(raw) as { state: string }).state, "SUCCESS");
    assert.equal(await other.exists(`result:${id}`), 0);
  });
});
