/**
 * The core0 client, two ways:
 * 1. Its wire format, checked against a real redis-server (requirepass) on 127.0.0.1 where the test
 *    plays a core0 v0.9.0 node: it pops each command from `core:default`, compares its JSON with
 *    what threefoldtech/0-core @v0.9.0 decodes (`base/pm/core/command.go`,
 *    `base/pm/process/systemprocess.go`, `core0/g8os.toml`, `core0/containers/manager.go`) and
 *    answers with results shaped like v0.9.0's (`base/pm/core/result.go`: no `streams`/`critical`
 *    when empty, tags a string). Needs no emulator.
 * 2. Against the core0 emulator (real redis, real offline js-ipfs, all on 127.0.0.1), with
 *    expectations taken from /work/shared/facts/core0-protocol.md ("v0.9.0 exactly").
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { randomUUID } from "crypto";
import type { Redis } from "ioredis";
import {
  Core0AuthError,
  Core0Client,
  Core0JobError,
  type Core0Result,
  Core0TimeoutError,
} from "../../providers/core0/client";
import { IpfsClient } from "../../providers/ipfs/client";
import {
  buildPlistFromDirectory,
  coreXRequiredEntries,
  serializePlist,
  storeBrotli,
} from "../../providers/plist";
import { InputError } from "../../providers/shared/errors";
import { pollUntil } from "../../providers/shared/retry";
import { Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import { freePort, RedisServer, startRedisServer } from "../testbed/redis";

const WIRE_PASSWORD = "wire-pw-" + randomUUID();
const PASSWORD = "pw-" + randomUUID();

describe("core0 client wire format against a scripted v0.9.0 node (real redis, no emulator)", function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let pop: Redis;
  let push: Redis;
  let client: Core0Client;
  let later: Core0Client;

  before(async () => {
    redis = await startRedisServer({ password: WIRE_PASSWORD });
    const IoRedis = require("ioredis") as typeof import("ioredis").default;
    pop = new IoRedis({ host: redis.host, port: redis.port, password: WIRE_PASSWORD });
    push = new IoRedis({ host: redis.host, port: redis.port, password: WIRE_PASSWORD });
    client = new Core0Client({
      host: redis.host,
      port: redis.port,
      password: WIRE_PASSWORD,
      timeoutMs: 5000,
    });
    later = new Core0Client({
      host: redis.host,
      port: redis.port,
      password: WIRE_PASSWORD,
      timeoutMs: 5000,
      protocol: "v1.2",
    });
  });
  after(async () => {
    await client?.close();
    await later?.close();
    pop?.disconnect();
    push?.disconnect();
    await redis?.stop();
  });
  afterEach(async () => assert.equal(await push.llen("core:default"), 0, "no command left unread"));

  /** The next command the client pushed, as raw JSON text and parsed. */
  const next = async (): Promise<{ raw: string; cmd: Record<string, unknown> }> => {
    const r = await pop.blpop("core:default", 5);
    assert.ok(r, "a command was pushed");
    return { raw: r[1], cmd: JSON.parse(r[1]) as Record<string, unknown> };
  };
  /** Answers like core0 v0.9.0: RPUSH result:<id> + EXPIRE 300. */
  const answer = async (id: string, r: Partial<Core0Result>): Promise<void> => {
    await push.rpush(`result:${id}`, JSON.stringify(r));
    await push.expire(`result:${id}`, 300);
  };
  const builtin = (cmd: Record<string, unknown>, value: unknown, state = "SUCCESS") => ({
    id: cmd.id as string,
    command: cmd.command as string,
    data: JSON.stringify(value),
    level: 20,
    state: state as Core0Result["state"],
    starttime: Date.now(),
    time: 1,
    tags: cmd.tags as string,
  });

  it("a deadline passing while RPUSH still waits rejects the call only: no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    const c = new Core0Client({
      host: redis.host,
      port: redis.port,
      password: WIRE_PASSWORD,
      timeoutMs: 5000,
    });
    try {
      const warm = c.ping(); // connects the client before the pause
      const first = await next();
      await answer(first.cmd.id as string, builtin(first.cmd, "PONG"));
      assert.equal(await warm, "PONG");
      // Writes are held 400 ms: the RPUSH outlives the 100 ms deadline (a node slow to take it).
      await push.call("CLIENT", "PAUSE", "400", "WRITE");
      await assert.rejects(c.ping({ timeoutMs: 100 }), /no result within/);
      await next(); // the command, pushed once the pause ended
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await c.close();
    }
  });

  it("a command is v0.9.0's Command: tags a string, no stream, max_time only when set", async () => {
    const p = client.ping();
    const { cmd } = await next();
    assert.deepEqual(Object.keys(cmd).sort(), ["arguments", "command", "id", "queue", "tags"]);
    assert.equal(cmd.command, "core.ping");
    assert.deepEqual(cmd.arguments, {});
    assert.equal(cmd.tags, "");
    assert.equal(cmd.queue, "");
    assert.match(cmd.id as string, /^[0-9a-f-]{36}$/);
    await answer(cmd.id as string, builtin(cmd, "PONG 0.9.0"));
    assert.equal(await p, "PONG 0.9.0");

    const q = client.run("core.ping", {}, { tags: "app1", maxTime: 7, queue: "q1" });
    const second = (await next()).cmd;
    assert.equal(second.tags, "app1");
    assert.equal(second.max_time, 7);
    assert.equal(second.queue, "q1");
    await answer(second.id as string, builtin(second, "PONG"));
    assert.equal((await q).tags, "app1", "result tags are the string echoed");
  });

  it("core.system: stdin is base64 (Go []byte), env and dir as given", async () => {
    const p = client.system("cat", ["-n"], { stdin: "héllo\n", env: { A: "1" }, dir: "/tmp" });
    const { cmd } = await next();
    assert.deepEqual(cmd.arguments, {
      name: "cat",
      args: ["-n"],
      dir: "/tmp",
      stdin: Buffer.from("héllo\n").toString("base64"),
      env: { A: "1" },
    });
    await answer(cmd.id as string, {
      id: cmd.id as string,
      command: "core.system",
      data: "",
      streams: ["     1\théllo\n", ""],
      level: 0,
      state: "SUCCESS",
      starttime: Date.now(),
      time: 3,
      tags: "",
    });
    const r = await p;
    assert.equal(r.state, "SUCCESS");
    assert.equal(r.stdout, "     1\théllo\n");
    assert.equal(r.code, undefined, "v0.9.0 reports no exit code");
  });

  it("bash: the script is sent as {stdin} (the g8os.toml extension); a separate stdin is refused", async () => {
    const p = client.bash("echo hi; exit 3");
    const { cmd } = await next();
    assert.equal(cmd.command, "bash");
    assert.deepEqual(cmd.arguments, { stdin: "echo hi; exit 3" });
    // A non-zero exit: state ERROR, streams kept; no `code` field in v0.9.0.
    await answer(cmd.id as string, {
      id: cmd.id as string,
      command: "bash",
      data: "",
      streams: ["hi\n", ""],
      level: 0,
      state: "ERROR",
      starttime: Date.now(),
      time: 4,
      tags: "",
    });
    const r = await p;
    assert.equal(r.state, "ERROR");
    assert.equal(r.stdout, "hi\n");
    assert.throws(
      () => client.bashArgs("cat", "input"),
      (e: unknown) => e instanceof InputError && /bash reads the script itself from stdin/.test(e.message),
    );
  });

  it("results without streams/critical, NN:: levels, spawn errors, UNKNOWN_CMD, DUPILICATE_ID", async () => {
    // A process that printed `20::{"a":1}`: the node already set level 20 and data; no streams.
    const p1 = client.call<{ a: number }>("core.system", client.systemArgs("sh"));
    const c1 = (await next()).cmd;
    await answer(c1.id as string, {
      id: c1.id as string,
      command: "core.system",
      data: '{"a":1}',
      level: 20,
      state: "SUCCESS",
      starttime: 1,
      time: 1,
      tags: "",
    });
    assert.deepEqual(await p1, { a: 1 });
    const s1 = await client.result(c1.id as string);
    assert.equal(s1.streams, undefined);

    // Level 30 (`30::text`): data is text, not JSON.
    const p2 = client.call<string>("core.system", client.systemArgs("sh"));
    const c2 = (await next()).cmd;
    await answer(c2.id as string, { ...builtin(c2, null), data: "[not json", level: 30 });
    assert.equal(await p2, "[not json");

    // Spawn failure: ERROR with the plain Go error text (not JSON-quoted), no streams.
    const p3 = client.system("/no/such/binary");
    const c3 = (await next()).cmd;
    const spawnErr = 'exec: "/no/such/binary": stat /no/such/binary: no such file or directory';
    await answer(c3.id as string, { ...builtin(c3, null, "ERROR"), data: spawnErr, level: 0 });
    const r3 = await p3;
    assert.equal(r3.state, "ERROR");
    assert.equal(r3.stdout, "");
    assert.equal(r3.stderr, "");
    const p3b = assert.rejects(
      client.call("core.system", client.systemArgs("/no/such/binary")),
      (e: unknown) => e instanceof Core0JobError && e.message.includes(spawnErr),
    );
    const c3b = (await next()).cmd;
    await answer(c3b.id as string, { ...builtin(c3b, null, "ERROR"), data: spawnErr, level: 0 });
    await p3b;

    // A built-in's error: JSON-encoded text at level 20.
    const p4 = client.call("corex.dispatch", { container: 9, command: { command: "core.ping" } });
    p4.catch(() => undefined); // checked below, after the answer
    const c4 = (await next()).cmd;
    await answer(c4.id as string, builtin(c4, "container does not exist", "ERROR"));
    await assert.rejects(p4, /state ERROR: container does not exist/);

    // UNKNOWN_CMD: data "", level 0, starttime/time 0.
    const p5 = client.call("core.frobnicate");
    p5.catch(() => undefined);
    const c5 = (await next()).cmd;
    await answer(c5.id as string, {
      id: c5.id as string,
      command: "core.frobnicate",
      data: "",
      level: 0,
      state: "UNKNOWN_CMD",
      starttime: 0,
      time: 0,
      tags: "",
    });
    await assert.rejects(
      p5,
      /command core\.frobnicate .*state UNKNOWN_CMD: the node has no command core\.frobnicate/,
    );

    const id = randomUUID();
    const p6 = client.call("core.ping", {}, { id });
    p6.catch(() => undefined);
    const c6 = (await next()).cmd;
    await answer(id, { ...builtin(c6, null, "DUPILICATE_ID"), data: "", level: 0 });
    await assert.rejects(p6, new RegExp(`DUPILICATE_ID: a job with id ${id} is already running`));
  });

  it("corex: create sends v0.9.0 arguments only; dispatch returns core0's inner id; terminate", async () => {
    const p = client.corex.create({
      root: "file:///opt/app.plist",
      mount: { "/data": "/data" },
      network: { zerotier: "8056c2e21c000001", bridge: [["br0", "dhcp"]] },
      port: { "8080": 80 },
    });
    const { cmd } = await next();
    assert.deepEqual(cmd.arguments, {
      root: "file:///opt/app.plist",
      mount: { "/data": "/data" },
      network: { zerotier: "8056c2e21c000001", bridge: [["br0", "dhcp"]] },
      port: { "8080": 80 },
    });
    assert.equal(cmd.tags, "");
    await answer(cmd.id as string, builtin(cmd, 1));
    assert.equal(await p, 1);

    const list = client.corex.list();
    const lc = (await next()).cmd;
    await answer(
      lc.id as string,
      builtin(lc, { "1": { cpu: 0.5, rss: 1024, vms: 4096, swap: 0, debug: "" } }),
    );
    assert.deepEqual(await list, { "1": { cpu: 0.5, rss: 1024, vms: 4096, swap: 0, debug: "" } });

    // dispatch: the inner command carries no id of ours; core0 makes one and answers it in data.
    const innerId = randomUUID();
    const d = client.corex.dispatchAndWait(1, {
      command: "core.system",
      arguments: client.systemArgs("ls", ["/"]),
    });
    const dc = (await next()).cmd;
    assert.deepEqual(dc.arguments, {
      container: 1,
      command: {
        command: "core.system",
        arguments: { name: "ls", args: ["/"], dir: "", stdin: "", env: {} },
        queue: "",
        tags: "",
      },
    });
    await answer(dc.id as string, builtin(dc, innerId));
    await answer(innerId, {
      id: innerId,
      command: "core.system",
      data: "",
      streams: ["bin\n", ""],
      level: 0,
      state: "SUCCESS",
      starttime: 1,
      time: 1,
      tags: "core-1",
    });
    const inner = await d;
    assert.equal(inner.id, innerId);
    assert.equal((inner.streams as string[])[0], "bin\n");

    // terminate of an unknown id: v0.9.0 answers SUCCESS with null (a no-op).
    const t = client.corex.terminate(42);
    const tc = (await next()).cmd;
    assert.deepEqual(tc.arguments, { container: 42 });
    await answer(tc.id as string, builtin(tc, null));
    assert.equal(await t, null);
  });

  it("refuses, without sending anything: later-only commands, core.killall, list tags, v1.2 create keys", async () => {
    const refusals: Array<[string, () => Promise<unknown>, RegExp]> = [
      ["job.list", () => client.job.list(), /command job\.list: does not exist in core0 v0\.9\.0/],
      ["job.kill", () => client.job.kill("x"), /job\.kill: does not exist/],
      ["corex.find", () => client.corex.find(["a"]), /corex\.find: does not exist/],
      ["zerotier.list", () => client.zerotier.list(), /zerotier\.list: does not exist/],
      ["zerotier.join", () => client.zerotier.join("8056c2e21c000001"), /zerotier\.join: does not exist/],
      ["aggregator.query", () => client.aggregator.query(), /aggregator\.query: does not exist/],
      ["process.list", () => client.run("process.list"), /process\.list: does not exist/],
      ["core.killall", () => client.run("core.killall"), /core\.killall: is never sent: it deadlocks/],
      ["killall v1.2", () => later.run("core.killall"), /core\.killall: is never sent/],
      [
        "list tags",
        () => client.run("core.ping", {}, { tags: ["a", "b"] }),
        /tags: is a list, but core0 v0\.9\.0 reads tags as one string/,
      ],
      [
        "prepared list tags",
        () => client.send({ id: randomUUID(), command: "core.ping", arguments: {}, queue: "", tags: ["a"] }),
        /tags: is a list/,
      ],
      [
        "create nics",
        () => client.corex.create({ root: "file:///p", nics: [{ type: "default" }], hostname: "h" }),
        /corex\.create: nics, hostname: does not exist in core0 v0\.9\.0's corex\.create/,
      ],
      [
        "create tags",
        () => client.corex.create({ root: "file:///p" }, ["app"]),
        /corex\.create: tags: does not exist/,
      ],
    ];
    for (const [what, fn, re] of refusals) {
      await assert.rejects(fn(), (e: unknown) => e instanceof InputError && re.test(e.message), what);
    }
    assert.equal(await push.llen("core:default"), 0, "nothing was sent");
  });

  it('protocol "v1.2" (explicit): list tags, plain stdin, bash {script, stdin}, later commands sent', async () => {
    const p = later.bash("cat", "in");
    const c = (await next()).cmd;
    assert.deepEqual(c.arguments, { script: "cat", stdin: "in" });
    assert.equal(c.tags, null);
    assert.equal(c.stream, false);
    await answer(c.id as string, { ...builtin(c, null), data: "", level: 0, tags: null });
    await p;

    const s = later.system("cat", [], { stdin: "plain" }, { tags: "one" });
    const sc = (await next()).cmd;
    assert.equal((sc.arguments as Record<string, unknown>).stdin, "plain");
    assert.deepEqual(sc.tags, ["one"]);
    await answer(sc.id as string, { ...builtin(sc, null), data: "", level: 0, tags: ["one"] });
    await s;

    const j = later.job.list();
    const jc = (await next()).cmd;
    assert.equal(jc.command, "job.list");
    await answer(jc.id as string, builtin(jc, []));
    assert.deepEqual(await j, []);

    const cr = later.corex.create({ root: "file:///p", hostname: "h" }, ["app"]);
    const crc = (await next()).cmd;
    assert.deepEqual(crc.tags, ["app"]);
    assert.deepEqual(crc.arguments, { root: "file:///p", hostname: "h" });
    await answer(crc.id as string, builtin(crc, 3));
    assert.equal(await cr, 3);
  });
});

describe("core0 client against the emulator (real redis, real js-ipfs)", function () {
  this.timeout(120_000);
  let ipfs: IpfsDaemon;
  let node: Core0Emulator;
  let client: Core0Client;
  let tmp: string;

  before(async () => {
    ipfs = await startIpfsDaemon();
    node = await startCore0Emulator({ password: PASSWORD, ipfsApi: ipfs.apiUrl, ipfsFetchTimeoutMs: 1500 });
    client = new Core0Client({ host: node.address, port: node.port, password: PASSWORD, timeoutMs: 20_000 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-core0-test-"));
  });
  after(async () => {
    await client?.close();
    await node?.stop();
    await ipfs?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A command built by hand, bypassing the client's v0.9.0 refusals (to probe the node). */
  const rawCommand = (command: string, args: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    command,
    arguments: args,
    queue: "",
    tags: "",
  });
  // client.send refuses later-only commands: probe the node through a v1.2-mode client (string tags).
  const probe = () =>
    new Core0Client({ host: node.address, port: node.port, password: PASSWORD, protocol: "v1.2" });

  describe("built-ins", () => {
    it("ping answers PONG", async () => {
      assert.match(await client.ping(), /^PONG /);
    });

    it("info.* report this machine in gopsutil shapes", async () => {
      const cpu = await client.info.cpu();
      assert.equal(cpu.length, os.cpus().length);
      assert.equal(typeof cpu[0].modelName, "string");
      const mem = await client.info.mem();
      const memTotal = Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
      assert.equal(mem.total, memTotal);
      assert.ok(mem.available > 0 && mem.available <= mem.total);
      const nics = await client.info.nic();
      assert.ok(
        nics.find((n) => n.name === "lo"),
        "lo is listed",
      );
      const info = await client.info.os();
      assert.equal(info.hostname, os.hostname());
    });

    it("unknown command -> UNKNOWN_CMD (data empty, level 0); call() throws naming node and command", async () => {
      const r = await client.run("core.frobnicate");
      assert.equal(r.state, "UNKNOWN_CMD");
      assert.equal(r.data, "");
      assert.equal(r.level, 0);
      assert.equal(r.streams, undefined, "no streams key");
      await assert.rejects(client.call("core.frobnicate"), (e: unknown) => {
        assert.ok(e instanceof Core0JobError);
        assert.match(
          e.message,
          new RegExp(`core0 node ${node.address}:${node.port}: command core\\.frobnicate`),
        );
        assert.match(e.message, /UNKNOWN_CMD/);
        return true;
      });
    });

    it("a later-only command is refused by the client; the node really lacks it (UNKNOWN_CMD)", async () => {
      await assert.rejects(client.job.list(), InputError);
      const p = probe();
      try {
        for (const command of ["job.list", "corex.find", "zerotier.list", "aggregator.query"]) {
          assert.equal((await p.send(rawCommand(command))).state, "UNKNOWN_CMD", command);
        }
      } finally {
        await p.close();
      }
    });
  });

  describe("processes", () => {
    it("bash runs the script (sent as stdin); stdout, stderr; a non-zero exit is ERROR", async () => {
      const ok = await client.bash("echo got it; echo warn >&2");
      assert.equal(ok.state, "SUCCESS");
      assert.equal(ok.stdout, "got it\n");
      assert.equal(ok.stderr, "warn\n");
      const bad = await client.bash("exit 7");
      assert.equal(bad.state, "ERROR");
    });

    it("core.system: base64 stdin reaches the process; args, dir, env", async () => {
      const cat = await client.system("cat", [], { stdin: "hello\nworld\n" });
      assert.equal(cat.state, "SUCCESS");
      assert.equal(cat.stdout, "hello\nworld\n");
      const r = await client.system("/bin/sh", ["-c", 'pwd; echo "$GREETING"'], {
        dir: tmp,
        env: { GREETING: "hi" },
      });
      assert.equal(r.state, "SUCCESS");
      assert.equal(r.stdout, `${fs.realpathSync(tmp)}\nhi\n`);
    });

    it("a binary that cannot start: ERROR with plain error text, no streams", async () => {
      const missing = await client.system("/no/such/binary");
      assert.equal(missing.state, "ERROR");
      assert.equal(missing.result.streams, undefined);
      assert.match(missing.result.data, /no such file/);
      assert.ok(!missing.result.data.startsWith('"'), "not JSON-quoted");
    });

    it("20:: output sets level 20 and data (call() decodes it); the line leaves the stream", async () => {
      const r = await client.run("bash", client.bashArgs("echo before; echo '20::{\"a\":1}'; echo after"));
      assert.equal(r.state, "SUCCESS");
      assert.equal(r.level, 20);
      assert.equal(r.data, '{"a":1}');
      assert.equal((r.streams ?? [])[0], "before\nafter\n");
      assert.deepEqual(await client.call("bash", client.bashArgs("echo '20::{\"b\":[2]}'")), { b: [2] });
    });

    it("max_time kills the job with TIMEOUT", async () => {
      // core.system, not bash: core0 kills the process it started, and the result waits for the
      // output pipes to close (base/pm/runner.go), which a grandchild of bash would hold open.
      const started = Date.now();
      const r = await client.run("core.system", client.systemArgs("sleep", ["30"]), { maxTime: 1 });
      assert.equal(r.state, "TIMEOUT");
      assert.ok(Date.now() - started < 10_000, "killed after about max_time");
    });

    it("jobs on one queue run one after another", async () => {
      const file = path.join(tmp, "queue.log");
      const script = (n: number): string => `echo start${n} >> ${file}; sleep 0.3; echo end${n} >> ${file}`;
      await Promise.all([
        client.run("bash", client.bashArgs(script(1)), { queue: "q1" }),
        client.run("bash", client.bashArgs(script(2)), { queue: "q1" }),
      ]);
      const lines = fs.readFileSync(file, "utf8").trim().split("\n");
      assert.ok(
        lines.join(",") === "start1,end1,start2,end2" || lines.join(",") === "start2,end2,start1,end1",
        `not serialized: ${lines.join(",")}`,
      );
    });

    it("a job id already running answers DUPILICATE_ID", async () => {
      const id = randomUUID();
      const marker = path.join(tmp, `running-${id}`);
      const other = new Core0Client({ host: node.address, port: node.port, password: PASSWORD });
      try {
        const first = client.run("bash", client.bashArgs(`touch ${marker}; sleep 1; echo first`), { id });
        await pollUntil(async () => (fs.existsSync(marker) ? true : undefined), {
          timeoutMs: 10_000,
          intervalMs: 20,
          what: "first job running",
        });
        // The duplicate's answer lands in the same result list, ahead of the real one.
        const dup = await other.run("core.ping", {}, { id });
        assert.equal(dup.state, "DUPILICATE_ID");
        assert.equal(dup.level, 0);
        await first;
      } finally {
        await other.close();
      }
    });

    it("many commands in flight on one client all get their own results", async () => {
      const ids = Array.from({ length: 200 }, () => randomUUID());
      const results = await Promise.all(ids.map((id) => client.run("core.ping", {}, { id })));
      assert.deepEqual(
        results.map((r) => r.id),
        ids,
      );
      assert.ok(results.every((r) => r.state === "SUCCESS"));
    });
  });

  describe("results, passwords, unreachable nodes", () => {
    it("a result can be read again until it expires", async () => {
      const short = await startCore0Emulator({
        password: PASSWORD,
        ipfsApi: ipfs.apiUrl,
        resultTtlSeconds: 1,
      });
      const c = new Core0Client({ host: short.address, port: short.port, password: PASSWORD });
      const Redis = require("ioredis") as typeof import("ioredis").default;
      const raw = new Redis({ host: short.address, port: short.port, password: PASSWORD });
      try {
        const id = randomUUID();
        const r = await c.run("core.ping", {}, { id });
        assert.equal((await c.result(id)).id, r.id, "re-readable: BRPOPLPUSH puts it back");
        assert.ok((await raw.ttl(`result:${id}`)) <= 1, "TTL set by the node");
        await pollUntil(async () => ((await raw.exists(`result:${id}`)) === 0 ? true : undefined), {
          timeoutMs: 5000,
          intervalMs: 100,
          what: "result expiry",
        });
        await assert.rejects(c.result(id, { timeoutMs: 1500 }), (e: unknown) => {
          assert.ok(e instanceof Core0TimeoutError);
          assert.match(e.message, new RegExp(`${short.address}:${short.port}.*job ${id}`));
          return true;
        });
      } finally {
        raw.disconnect();
        await c.close();
        await short.stop();
      }
    });

    it("a wrong password is a clear error without the password in it", async () => {
      const wrong = "not-the-" + PASSWORD;
      const c = new Core0Client({ host: node.address, port: node.port, password: wrong, timeoutMs: 5000 });
      try {
        await assert.rejects(c.ping(), (e: unknown) => {
          assert.ok(e instanceof Core0AuthError);
          assert.match(e.message, new RegExp(`core0 node ${node.address}:${node.port}: command core\\.ping`));
          assert.match(e.message, /password/);
          assert.ok(!e.message.includes(wrong) && !e.message.includes(PASSWORD));
          return true;
        });
      } finally {
        await c.close();
      }
      const none = new Core0Client({ host: node.address, port: node.port, timeoutMs: 5000 });
      try {
        await assert.rejects(none.ping(), Core0AuthError);
      } finally {
        await none.close();
      }
    });

    it("a node that is down gives a timeout error naming node and command", async () => {
      const port = await freePort();
      const c = new Core0Client({ host: "127.0.0.1", port, password: PASSWORD, timeoutMs: 1500 });
      try {
        await assert.rejects(c.info.os(), (e: unknown) => {
          assert.ok(e instanceof Core0TimeoutError);
          assert.match(e.message, new RegExp(`core0 node 127\\.0\\.0\\.1:${port}: command info\\.os`));
          assert.match(e.message, /unreachable/);
          assert.ok(!e.message.includes(PASSWORD));
          return true;
        });
      } finally {
        await c.close();
      }
    });
  });

  describe("containers (corex, v0.9.0 arguments, brotli content)", () => {
    let plistPath: string;
    const appBody = "#!/bin/sh\necho app says hi\n";
    const cfgBody = "port=8080\n";

    before(async function () {
      this.timeout(120_000);
      // A minimal root: processes run chrooted into it, so /bin/sh and /bin/cat come with the
      // libraries ldd lists; the plist is made by the product's walker and stored brotli in IPFS.
      const tree = path.join(tmp, "rootfs");
      const copyIn = (abs: string): void => {
        const dst = path.join(tree, abs);
        fs.mkdirSync(path.dirname(dst), { recursive: true });
        if (!fs.existsSync(dst)) fs.copyFileSync(fs.realpathSync(abs), dst);
        fs.chmodSync(dst, fs.statSync(abs).mode & 0o7777);
      };
      for (const bin of ["/bin/sh", "/bin/cat"]) {
        copyIn(bin);
        const ldd = require("child_process").execFileSync("ldd", [bin], { encoding: "utf8" }) as string;
        for (const m of ldd.matchAll(/(\/\S+\.so[.\d]*)/g)) copyIn(m[1]);
      }
      fs.mkdirSync(path.join(tree, "etc"), { recursive: true });
      fs.writeFileSync(path.join(tree, "bin/app"), appBody, { mode: 0o755 });
      fs.writeFileSync(path.join(tree, "etc/app.conf"), cfgBody, { mode: 0o600 });
      fs.writeFileSync(path.join(tree, "bin/su-helper"), "setuid\n");
      fs.chmodSync(path.join(tree, "bin/su-helper"), 0o4755);
      fs.mkdirSync(path.join(tree, "var/lib/empty"), { recursive: true });
      fs.chmodSync(path.join(tree, "var/lib/empty"), 0o711);
      fs.mkdirSync(path.join(tree, "proc"));
      const store = new IpfsClient(ipfs.apiUrl);
      const entries = await buildPlistFromDirectory(
        tree,
        async (abs) => (await storeBrotli(fs.createReadStream(abs), (c) => store.addStream(c))).cid,
      );
      assert.deepEqual(coreXRequiredEntries(entries, 0), [], "the root has /proc for coreX");
      plistPath = path.join(tmp, "app.plist");
      fs.writeFileSync(plistPath, serializePlist(entries));
    });

    it("create answers ids counting from 1; list is {id: stats}; dispatch runs in the root; terminate", async () => {
      const before = Object.keys(await client.corex.list());
      const id = await client.corex.create({ root: `file://${plistPath}`, port: { "18080": 80 } });
      assert.equal(typeof id, "number");
      assert.ok(id >= 1);
      const list = await client.corex.list();
      assert.deepEqual(Object.keys(list).sort(), [...before, String(id)].sort());
      const stats = list[String(id)];
      if (stats) {
        for (const k of ["cpu", "rss", "vms", "swap"] as const) assert.equal(typeof stats[k], "number", k);
      }

      const run = await client.corex.dispatchAndWait(id, {
        command: "core.system",
        arguments: client.systemArgs("/bin/app"),
      });
      assert.equal(run.state, "SUCCESS");
      assert.equal((run.streams ?? [])[0], "app says hi\n");
      const conf = await client.corex.dispatchAndWait(id, {
        command: "core.system",
        arguments: client.systemArgs("/bin/sh", [
          "-c",
          "cat /etc/app.conf; test -d /var/lib/empty && echo dir",
        ]),
      });
      assert.equal(conf.state, "SUCCESS", JSON.stringify(conf));
      assert.equal((conf.streams ?? [])[0], "port=8080\ndir\n");
      // What the reader makes of the plist's modes (docs/core0-plist.md): file modes incl. setuid
      // are applied; directory modes come from the backend (0755), whatever the plist says (711).
      const root = path.join(node.containersDir, `container-${id}`);
      const mode = (rel: string): number => fs.statSync(path.join(root, rel)).mode & 0o7777;
      assert.equal(mode("bin/app"), 0o755);
      assert.equal(mode("etc/app.conf"), 0o600);
      assert.equal(mode("bin/su-helper"), 0o4755);
      assert.ok(fs.statSync(path.join(root, "var/lib/empty")).isDirectory());
      assert.equal(mode("var/lib/empty"), 0o755, "directory mode from the backend, not the plist's 711");
      const fromStdin = await client.corex.dispatchAndWait(id, {
        command: "core.system",
        arguments: client.systemArgs("cat", [], { stdin: "via base64\n" }),
      });
      assert.equal((fromStdin.streams ?? [])[0], "via base64\n");

      await client.corex.terminate(id);
      assert.ok(!(String(id) in (await client.corex.list())), "gone from corex.list");
      assert.equal(await client.corex.terminate(id), null, "terminate of an unknown id is a no-op");
      await assert.rejects(
        client.corex.dispatch(id, { command: "core.ping", arguments: {} }),
        /state ERROR: container does not exist/,
      );
      await assert.rejects(
        client.corex.dispatch(0, { command: "core.ping", arguments: {} }),
        /state ERROR: invalid container id/,
      );
    });

    it("the inner job gets a fresh id from core0 (not one the caller put in)", async () => {
      const id = await client.corex.create({ root: `file://${plistPath}` });
      try {
        const mine = randomUUID();
        const r = await client.call<string>("corex.dispatch", {
          container: id,
          command: { id: mine, command: "core.ping", arguments: {}, queue: "", tags: "" },
        });
        assert.notEqual(r, mine);
        assert.equal((await client.result(r)).state, "SUCCESS");
      } finally {
        await client.corex.terminate(id);
      }
    });

    it("fetches the plist over http too", async () => {
      const srv = http.createServer((_req, res) => res.end(fs.readFileSync(plistPath)));
      await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
      try {
        const port = (srv.address() as import("net").AddressInfo).port;
        const id = await client.corex.create({ root: `http://127.0.0.1:${port}/app.plist` });
        const run = await client.corex.dispatchAndWait(id, {
          command: "core.system",
          arguments: client.systemArgs("/bin/app"),
        });
        assert.equal((run.streams ?? [])[0], "app says hi\n");
        await client.corex.terminate(id);
      } finally {
        srv.close();
      }
    });

    it("a malformed plist (a line with < 10 fields) fails create with ERROR; nothing is listed", async () => {
      const bad = path.join(tmp, "malformed.plist");
      fs.writeFileSync(bad, "/ok||0|root|root|755|4|1|1|\n/broken|x\n");
      const before = Object.keys(await client.corex.list()).sort();
      await assert.rejects(client.corex.create({ root: `file://${bad}` }), (e: unknown) => {
        assert.ok(e instanceof Core0JobError);
        assert.equal(e.result.state, "ERROR");
        return true;
      });
      assert.deepEqual(Object.keys(await client.corex.list()).sort(), before);
    });
  });
});
