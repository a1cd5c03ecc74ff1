/**
 * Contract tests of the core0 v0.9.0 emulator: one per fact, each citing where v0.9.0 says so
 * (threefoldtech/0-core@v0.9.0, commit ec93f6f, and /work/shared/facts/core0-protocol.md
 * "v0.9.0 exactly"). They speak raw redis (RPUSH core:default with hand-written JSON,
 * BRPOPLPUSH result:<id>), never the product client. Own redis (inside the emulator) and own
 * js-ipfs daemon on loopback; brotli content is made here with Node's zlib.
 */
import * as assert from "assert";
import { randomUUID } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import type { Redis } from "ioredis";
import { Core0Emulator, startCore0Emulator } from "./core0-emulator";
import { ipfsAdd, IpfsDaemon, startIpfsDaemon } from "./ipfs";
import { TS_REGISTER } from "../ts-register-path";

const IoRedis = require("ioredis") as typeof import("ioredis").default;

function connect(node: Core0Emulator, password?: string): Redis {
  return new IoRedis({
    host: node.address,
    port: node.port,
    password,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  });
}

/** RPUSHes a hand-written command; returns its id. */
async function send(r: Redis, cmd: Record<string, unknown> | string): Promise<string> {
  const text = typeof cmd === "string" ? cmd : JSON.stringify(cmd);
  await r.rpush("core:default", text);
  return typeof cmd === "string" ? "" : String(cmd.id);
}

/** BRPOPLPUSH result:<id> result:<id> (the v0.9 client's read), raw text; undefined on timeout. */
async function rawResult(r: Redis, id: string, timeoutS = 20): Promise<string | undefined> {
  const v = await r.brpoplpush(`result:${id}`, `result:${id}`, timeoutS);
  return v ?? undefined;
}

async function result(r: Redis, id: string, timeoutS = 20): Promise<Record<string, unknown>> {
  const raw = await rawResult(r, id, timeoutS);
  assert.ok(raw, `no result for ${id} within ${timeoutS} s`);
  return JSON.parse(raw!) as Record<string, unknown>;
}

/** Sends one inline redis command on a fresh socket, returns the first reply line. */
function resp(node: Core0Emulator, line: string): Promise<string> {
  const net = require("net") as typeof import("net");
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: node.address, port: node.port }, () => sock.write(line + "\r\n"));
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.includes("\r\n")) {
        sock.destroy();
        resolve(buf.split("\r\n")[0]);
      }
    });
    sock.on("error", reject);
  });
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");

interface Cmd {
  id: string;
  [key: string]: unknown;
}

function system(name: string, args: string[] = [], extra: Record<string, unknown> = {}): Cmd {
  return {
    id: randomUUID(),
    command: "core.system",
    arguments: { name, args, ...extra },
    queue: "",
    tags: "",
  };
}

describe("core0 v0.9.0 emulator contract (raw redis)", function () {
  this.timeout(120_000);
  let ipfs: IpfsDaemon;
  let node: Core0Emulator;
  let r: Redis;

  before(async () => {
    ipfs = await startIpfsDaemon();
    node = await startCore0Emulator({ ipfsApi: ipfs.apiUrl, decodeErrorPauseMs: 0 });
    r = connect(node);
  });
  after(async () => {
    r?.disconnect();
    await node?.stop();
    await ipfs?.stop();
  });

  describe("results (base/pm/core/result.go, base/sinkclient.go)", () => {
    it('core.ping: SUCCESS, level 20, data the JSON of "PONG <Go time>", keys in JobResult order', async () => {
      const id = await send(r, { id: randomUUID(), command: "core.ping", arguments: {}, tags: "" });
      const raw = (await rawResult(r, id))!;
      const res = JSON.parse(raw) as Record<string, unknown>;
      // base/builtin/ping.go: fmt.Sprintf("PONG %s", time.Now()); builtinprocess.go JSON-encodes it.
      assert.match(JSON.parse(String(res.data)), /^PONG \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
      assert.equal(res.level, 20);
      assert.equal(res.state, "SUCCESS");
      // runner.go always sets Streams to [stdout, stderr] once a process ran; critical is omitempty.
      assert.deepEqual(Object.keys(res), [
        "id",
        "command",
        "data",
        "streams",
        "level",
        "state",
        "starttime",
        "time",
        "tags",
      ]);
      assert.deepEqual(res.streams, ["", ""]);
      assert.equal(res.tags, "");
      assert.ok(Math.abs(Number(res.starttime) - Date.now()) < 60_000, "starttime is epoch ms");
    });

    it("the result list result:<id> has EXPIRE 300 and BRPOPLPUSH leaves it readable again", async () => {
      const id = await send(r, { id: randomUUID(), command: "core.ping", arguments: {} });
      const first = await rawResult(r, id);
      const ttl = await r.ttl(`result:${id}`);
      assert.ok(ttl > 290 && ttl <= 300, `ttl ${ttl}`);
      assert.equal(await rawResult(r, id, 1), first);
      assert.equal(await r.llen(`result:${id}`), 1);
    });

    it("a command without id runs but its result is not pushed (sinkclient.go Respond needs an id)", async () => {
      const f = path.join(os.tmpdir(), `noid-${randomUUID()}`);
      try {
        await send(r, { command: "core.system", arguments: { name: "touch", args: [f] } });
        for (let i = 0; i < 50 && !fs.existsSync(f); i++) await new Promise((res) => setTimeout(res, 100));
        assert.ok(fs.existsSync(f), "the job ran");
        await new Promise((res) => setTimeout(res, 300));
        assert.equal(await r.exists("result:"), 0);
      } finally {
        fs.rmSync(f, { force: true });
      }
    });

    it("result tags echo the command's tags string (pm.go resultCallback)", async () => {
      const id = await send(r, { id: randomUUID(), command: "core.ping", arguments: {}, tags: "app=web" });
      assert.equal((await result(r, id)).tags, "app=web");
    });

    it("Go's encoder escapes <, > and & in strings (encoding/json HTML-safe default)", async () => {
      const id = await send(r, { id: randomUUID(), command: "core.ping", arguments: {}, tags: "<a&b>" });
      const raw = (await rawResult(r, id))!;
      assert.ok(raw.includes('"tags":"\\u003ca\\u0026b\\u003e"'), raw);
    });
  });

  describe("command decoding (base/pm/core/command.go, base/sink.go)", () => {
    it("a command whose tags is a JSON list is dropped: no result at all", async () => {
      const id = randomUUID();
      await send(r, { id, command: "core.ping", arguments: {}, tags: ["a", "b"] });
      assert.equal(await rawResult(r, id, 2), undefined);
      assert.ok(node.log().some((l) => l.includes("cannot unmarshal array into Go value of type string")));
    });

    it("a non-integer max_time or a string id makes the command undecodable too", async () => {
      const a = randomUUID();
      await send(r, { id: a, command: "core.ping", arguments: {}, max_time: 1.5 });
      await send(r, `{"id": 42, "command": "core.ping", "arguments": {}}`);
      assert.equal(await rawResult(r, a, 2), undefined);
    });

    it("field names match case-insensitively and unknown fields are ignored, as Go's decoder does", async () => {
      const id = randomUUID();
      await send(r, `{"ID": "${id}", "Command": "core.ping", "arguments": {}, "whatever": [1]}`);
      assert.equal((await result(r, id)).state, "SUCCESS");
    });

    it("after an undecodable command the sink pauses 10 s when the previous error was < 10 s ago", async () => {
      const slow = await startCore0Emulator({ ipfsApi: ipfs.apiUrl }); // default pause 10000 ms
      const c = connect(slow);
      try {
        await send(c, `{"id": 1}`); // within 10 s of the sink's start: pause
        const id = await send(c, { id: randomUUID(), command: "core.ping", arguments: {} });
        const t0 = Date.now();
        await result(c, id, 30);
        assert.ok(Date.now() - t0 >= 8_000, `answered after ${Date.now() - t0} ms`);
      } finally {
        c.disconnect();
        await slow.stop();
      }
    });
  });

  describe("process manager (base/pm/pm.go, runner.go, queue.go)", () => {
    it('unknown command: UNKNOWN_CMD, data "", level 0, starttime and time 0, no streams', async () => {
      for (const command of ["job.list", "zerotier.list", "corex.find", "aggregator.query", "process.list"]) {
        const id = await send(r, { id: randomUUID(), command, arguments: {}, tags: "t" });
        const raw = await rawResult(r, id);
        assert.equal(
          raw,
          JSON.stringify({
            id,
            command,
            data: "",
            level: 0,
            state: "UNKNOWN_CMD",
            starttime: 0,
            time: 0,
            tags: "t",
          }),
        );
      }
    });

    it('a job id that is still running answers DUPILICATE_ID (sic) with data "duplicate job id"', async () => {
      const cmd = system("sleep", ["1"]);
      await send(r, cmd);
      await new Promise((res) => setTimeout(res, 200));
      await send(r, cmd);
      const dup = (await r.blpop(`result:${cmd.id}`, 10))![1];
      assert.deepEqual(JSON.parse(dup), {
        id: cmd.id,
        command: "core.system",
        data: "duplicate job id",
        level: 0,
        state: "DUPILICATE_ID",
        starttime: 0,
        time: 0,
        tags: "",
      });
      const done = JSON.parse((await r.blpop(`result:${cmd.id}`, 10))![1]) as Record<string, unknown>;
      assert.equal(done.state, "SUCCESS");
    });

    it("commands sharing a queue run one after another", async () => {
      const a = { ...system("sleep", ["0.5"]), queue: "q-" + randomUUID() };
      const b = { ...system("true"), queue: a.queue };
      await send(r, a);
      await send(r, b);
      const ra = await result(r, String(a.id));
      const rb = await result(r, String(b.id));
      assert.ok(Number(rb.starttime) >= Number(ra.starttime) + Number(ra.time), "b started after a ended");
    });

    it("an unknown command on a queue never releases it: later commands on that queue never run", async () => {
      const queue = "stall-" + randomUUID();
      const bad = { id: randomUUID(), command: "job.list", arguments: {}, queue };
      const next = { ...system("true"), queue };
      await send(r, bad);
      await send(r, next);
      assert.equal((await result(r, bad.id)).state, "UNKNOWN_CMD");
      assert.equal(await rawResult(r, String(next.id), 2), undefined);
    });

    it("max_jobs: with every slot taken the node takes no further command until a job ends", async () => {
      const one = await startCore0Emulator({ ipfsApi: ipfs.apiUrl, decodeErrorPauseMs: 0, maxJobs: 1 });
      const c = connect(one);
      try {
        const slow = system("sleep", ["1"]);
        await send(c, slow);
        const ping = await send(c, { id: randomUUID(), command: "core.ping", arguments: {} });
        const rp = await result(c, ping);
        const rs = await result(c, slow.id);
        assert.ok(
          Number(rp.starttime) >= Number(rs.starttime) + Number(rs.time),
          "ping ran after the sleep ended",
        );
      } finally {
        c.disconnect();
        await one.stop();
      }
    });

    it("a builtin's argument of the wrong Go type is an ERROR with Go's decoder text", async () => {
      const id = await send(r, {
        id: randomUUID(),
        command: "corex.dispatch",
        arguments: { container: "1", command: { command: "core.ping", arguments: {} } },
      });
      const res = await result(r, id);
      assert.deepEqual(
        [res.state, res.data, res.level],
        ["ERROR", JSON.stringify("json: cannot unmarshal string into Go value of type uint16"), 20],
      );
    });

    it("max_time: the process is stopped and the state is TIMEOUT", async () => {
      const cmd = { ...system("sleep", ["30"]), max_time: 1 };
      const t0 = Date.now();
      await send(r, cmd);
      const res = await result(r, String(cmd.id));
      assert.equal(res.state, "TIMEOUT");
      assert.ok(Date.now() - t0 < 10_000);
    });

    it("core.kill {id}: the job ends KILLED; core.kill answers true", async () => {
      const job = system("sleep", ["30"]);
      await send(r, job);
      await new Promise((res) => setTimeout(res, 300));
      const k = await send(r, { id: randomUUID(), command: "core.kill", arguments: { id: job.id } });
      assert.equal((await result(r, k)).data, "true");
      assert.equal((await result(r, String(job.id))).state, "KILLED");
    });

    it("process.state lists running jobs with their command; an unknown id is an ERROR", async () => {
      const job = system("sleep", ["2"]);
      await send(r, job);
      await new Promise((res) => setTimeout(res, 300));
      const id = await send(r, { id: randomUUID(), command: "process.state", arguments: { id: job.id } });
      const stats = JSON.parse(String((await result(r, id)).data)) as Array<Record<string, unknown>>;
      assert.equal((stats[0].cmd as Record<string, unknown>).id, job.id);
      assert.deepEqual(Object.keys(stats[0]), ["cmd", "cpu", "rss", "vms", "swap", "debug"]);
      const bad = await send(r, { id: randomUUID(), command: "process.state", arguments: { id: "nope" } });
      const res = await result(r, bad);
      assert.equal(res.state, "ERROR");
      assert.equal(res.data, JSON.stringify("Process with id 'nope' doesn't exist"));
    });
  });

  describe("runner restarts and node-wide failures (runner.go, pm.go, core0/builtin/reboot.go)", () => {
    it("max_restart N: a failing job runs N times, 1 s apart, and reports the last run", async () => {
      const f = path.join(os.tmpdir(), `runs-${randomUUID()}`);
      const cmd = { ...system("sh", ["-c", `echo x >> ${f}; echo run; exit 1`]), max_restart: 3 };
      try {
        await send(r, cmd);
        const res = await result(r, cmd.id, 30);
        assert.equal(res.state, "ERROR");
        assert.deepEqual(res.streams, ["run\n", ""]);
        assert.equal(fs.readFileSync(f, "utf8"), "x\nx\nx\n");
      } finally {
        fs.rmSync(f, { force: true });
      }
    });

    it("recurring_period: the job reruns until killed, then ends KILLED", async () => {
      const f = path.join(os.tmpdir(), `recur-${randomUUID()}`);
      const cmd = { ...system("sh", ["-c", `echo x >> ${f}`]), recurring_period: 1 };
      try {
        await send(r, cmd);
        await new Promise((res) => setTimeout(res, 2500));
        await send(r, { id: randomUUID(), command: "core.kill", arguments: { id: cmd.id } });
        assert.equal((await result(r, cmd.id)).state, "KILLED");
        assert.ok(fs.readFileSync(f, "utf8").length >= 4, "ran at least twice");
      } finally {
        fs.rmSync(f, { force: true });
      }
    });

    it("a builtin given no arguments dereferences nil: core0 panics and the node answers nothing more", async () => {
      const dead = await startCore0Emulator({ ipfsApi: ipfs.apiUrl, decodeErrorPauseMs: 0 });
      const c = connect(dead);
      try {
        const k = await send(c, { id: randomUUID(), command: "core.kill" });
        assert.equal(await rawResult(c, k, 2), undefined);
        const p = await send(c, { id: randomUUID(), command: "core.ping", arguments: {} });
        assert.equal(await rawResult(c, p, 2), undefined);
        assert.ok(dead.log().some((l) => l.includes("panic")));
      } finally {
        c.disconnect();
        await dead.stop();
      }
    });

    it("core.killall deadlocks v0.9.0's process manager: no answer, no later command runs", async () => {
      const stuck = await startCore0Emulator({ ipfsApi: ipfs.apiUrl, decodeErrorPauseMs: 0 });
      const c = connect(stuck);
      try {
        const k = await send(c, { id: randomUUID(), command: "core.killall", arguments: {} });
        assert.equal(await rawResult(c, k, 2), undefined);
        const p = await send(c, { id: randomUUID(), command: "core.ping", arguments: {} });
        assert.equal(await rawResult(c, p, 2), undefined);
      } finally {
        c.disconnect();
        await stuck.stop();
      }
    });

    it("stopping the emulator leaves no job behind, even one that ignores SIGTERM", async () => {
      const n = await startCore0Emulator({ ipfsApi: ipfs.apiUrl, decodeErrorPauseMs: 0 });
      const c = connect(n);
      let pid = 0;
      try {
        const job = system(process.execPath, [
          "-e",
          "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)",
        ]);
        await send(c, job);
        await new Promise((res) => setTimeout(res, 500));
        const st = await send(c, { id: randomUUID(), command: "process.state", arguments: { id: job.id } });
        pid = Number((JSON.parse(String((await result(c, st)).data)) as Array<{ debug: string }>)[0].debug);
        assert.ok(pid > 0);
      } finally {
        c.disconnect();
        await n.stop();
      }
      await new Promise((res) => setTimeout(res, 300));
      assert.throws(() => process.kill(pid, 0), /ESRCH/);
    });

    it("core.reboot never answers; the node comes back empty (redis is in its RAM)", async () => {
      const rb = await startCore0Emulator({ ipfsApi: ipfs.apiUrl, decodeErrorPauseMs: 0, rebootMs: 500 });
      const c = connect(rb);
      try {
        const before = await send(c, { id: randomUUID(), command: "core.ping", arguments: {} });
        await result(c, before);
        const job = system("sleep", ["30"]);
        await send(c, job);
        const boot = await send(c, { id: randomUUID(), command: "core.reboot", arguments: {} });
        assert.equal(await rawResult(c, boot, 2), undefined);
        const after = await send(c, { id: randomUUID(), command: "core.ping", arguments: {} });
        assert.equal((await result(c, after)).state, "SUCCESS");
        assert.equal(await c.exists(`result:${before}`), 0);
        assert.equal(await c.exists(`result:${job.id}`), 0);
      } finally {
        c.disconnect();
        await rb.stop();
      }
    });
  });

  describe("core.system (base/pm/process/systemprocess.go, base/pm/stream)", () => {
    it("stdin is []byte: base64 on the wire; plain text is not base64 and gives no stdin", async () => {
      const good = system("cat", [], { stdin: b64("hello\n") });
      const plain = system("cat", [], { stdin: "hello" });
      await send(r, good);
      await send(r, plain);
      assert.deepEqual((await result(r, String(good.id))).streams, ["hello\n", ""]);
      assert.deepEqual((await result(r, String(plain.id))).streams, ["", ""]);
    });

    it("env replaces the environment: nothing from the node is added", async () => {
      const cmd = system("/usr/bin/env", [], { env: { ONLY: "this" } });
      await send(r, cmd);
      assert.deepEqual((await result(r, String(cmd.id))).streams, ["ONLY=this\n", ""]);
    });

    it("NN::text sets level/data, levels 1/2 stay in the streams, 9 sets critical, others are dropped", async () => {
      const script =
        'echo plain; echo "20::{\\"a\\":1}"; echo 3::for-loggers; echo 9::bad; echo oops >&2; echo 50::x';
      const cmd = system("sh", ["-c", script]);
      await send(r, cmd);
      const res = await result(r, String(cmd.id));
      assert.equal(res.level, 20);
      assert.equal(res.data, '{"a":1}');
      assert.equal(res.critical, "bad");
      // level 50 from a process is turned into stderr (systemprocess.go msgInterceptor); stdout and
      // stderr are read concurrently, so only the set of stderr lines is certain.
      const [out, err] = res.streams as string[];
      assert.equal(out, "plain\n");
      assert.deepEqual(err.split("\n").filter(Boolean).sort(), ["oops", "x"]);
    });

    it("NN::: ... ::: is one multi-line message (empty lines are skipped); an unclosed block is lost", async () => {
      const cmd = system("sh", [
        "-c",
        "printf '20:::first\\n\\nsecond\\n:::\\nafter\\n21:::never closed\\n'",
      ]);
      await send(r, cmd);
      const res = await result(r, String(cmd.id));
      assert.equal(res.data, "first\nsecond");
      assert.equal(res.level, 20);
      assert.deepEqual(res.streams, ["after\n", ""]);
    });

    it("streams keep the last 1000 lines, each ending with \\n", async () => {
      const cmd = system("seq", ["1", "1500"]);
      await send(r, cmd);
      const out = ((await result(r, String(cmd.id))).streams as string[])[0];
      const lines = out.split("\n");
      assert.equal(lines.length, 1001);
      assert.equal(lines[0], "501");
      assert.equal(lines[999], "1500");
    });

    it("a non-zero exit is ERROR with streams; a spawn failure is ERROR with Go's plain text and no streams", async () => {
      const bad = system("sh", ["-c", "echo err >&2; exit 3"]);
      const missing = system("no-such-binary-here");
      const nodir = system("true", [], { dir: "/no/such/dir" });
      for (const c of [bad, missing, nodir]) await send(r, c);
      const rb = await result(r, String(bad.id));
      assert.equal(rb.state, "ERROR");
      assert.deepEqual(rb.streams, ["", "err\n"]);
      const rm = await result(r, String(missing.id));
      assert.equal(rm.state, "ERROR");
      assert.equal(rm.data, 'exec: "no-such-binary-here": executable file not found in $PATH');
      assert.equal(rm.streams, undefined);
      assert.equal(rm.level, 0);
      assert.equal((await result(r, String(nodir.id))).data, "chdir /no/such/dir: no such file or directory");
    });

    it("bash is the g8os.toml extension: its script is arguments.stdin; a `script` key is ignored", async () => {
      const ok = { id: randomUUID(), command: "bash", arguments: { stdin: "echo hi from bash\n" } };
      const ignored = { id: randomUUID(), command: "bash", arguments: { script: "echo never" } };
      await send(r, ok);
      await send(r, ignored);
      assert.deepEqual((await result(r, ok.id)).streams, ["hi from bash\n", ""]);
      const ri = await result(r, ignored.id);
      assert.equal(ri.state, "SUCCESS");
      assert.deepEqual(ri.streams, ["", ""]);
    });
  });

  describe("info.* (base/builtin/get_*_info.go, vendored shirou/gopsutil structs)", () => {
    const info = async (command: string): Promise<unknown> =>
      JSON.parse(String((await result(r, await send(r, { id: randomUUID(), command, arguments: {} }))).data));

    it("info.mem/cpu/os/nic/disk have exactly the JSON fields of v0.9.0's gopsutil", async () => {
      const keys = (o: unknown): string[] => Object.keys(o as object);
      assert.deepEqual(keys(await info("info.mem")), [
        "total",
        "available",
        "used",
        "usedPercent",
        "free",
        "active",
        "inactive",
        "wired",
        "buffers",
        "cached",
      ]);
      assert.deepEqual(keys(((await info("info.cpu")) as unknown[])[0]), [
        "cpu",
        "vendorId",
        "family",
        "model",
        "stepping",
        "physicalId",
        "coreId",
        "cores",
        "modelName",
        "mhz",
        "cacheSize",
        "flags",
      ]);
      assert.deepEqual(keys(await info("info.os")), [
        "hostname",
        "uptime",
        "bootTime",
        "procs",
        "os",
        "platform",
        "platformFamily",
        "platformVersion",
        "virtualizationSystem",
        "virtualizationRole",
      ]);
      const nic = ((await info("info.nic")) as Array<Record<string, unknown>>)[0];
      assert.deepEqual(keys(nic), ["mtu", "name", "hardwareaddr", "flags", "addrs"]);
      assert.deepEqual(keys(((await info("info.disk")) as unknown[])[0]), [
        "device",
        "mountpoint",
        "fstype",
        "opts",
      ]);
    });
  });

  describe("bridges (core0/builtin/bridge.go)", () => {
    it("bridge.list starts with core-0; create adds, delete removes, an unknown name is Link not found", async () => {
      const name = "br" + Math.floor(Math.random() * 1e6);
      const list = async (): Promise<string[]> =>
        JSON.parse(
          String(
            (await result(r, await send(r, { id: randomUUID(), command: "bridge.list", arguments: {} })))
              .data,
          ),
        );
      assert.deepEqual(await list(), ["core-0"]);
      const c = await result(
        r,
        await send(r, { id: randomUUID(), command: "bridge.create", arguments: { name } }),
      );
      assert.equal(c.data, "null");
      assert.deepEqual(await list(), ["core-0", name]);
      await result(r, await send(r, { id: randomUUID(), command: "bridge.delete", arguments: { name } }));
      const gone = await result(
        r,
        await send(r, { id: randomUUID(), command: "bridge.delete", arguments: { name } }),
      );
      assert.equal(gone.state, "ERROR");
      assert.equal(gone.data, JSON.stringify("Link not found"));
    });
  });

  describe("redis auth (core0/conf/redis.toml: no password in the stock image)", () => {
    it("the default node needs no AUTH", async () => {
      const c = connect(node);
      try {
        assert.equal(await c.ping(), "PONG");
      } finally {
        c.disconnect();
      }
    });

    it("a node configured with a password answers redis' own NOAUTH / WRONGPASS", async () => {
      const pw = "pw-" + randomUUID();
      const locked = await startCore0Emulator({ ipfsApi: ipfs.apiUrl, password: pw });
      const right = connect(locked, pw);
      try {
        // Plain RESP over a socket: the replies are redis' own error lines.
        assert.equal(await resp(locked, "RPUSH core:default {}"), "-NOAUTH Authentication required.");
        assert.match(await resp(locked, "AUTH wrong"), /^-WRONGPASS /);
        const id = await send(right, { id: randomUUID(), command: "core.ping", arguments: {} });
        assert.equal((await result(right, id)).state, "SUCCESS");
      } finally {
        right.disconnect();
        await locked.stop();
      }
    });
  });

  describe("containers (core0/containers/*.go, vendored g8os/fs, coreX)", () => {
    let tmp: string;
    let plistOk: string;
    const brotli = (b: Buffer): Buffer =>
      zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
    const line = (p: string, hash: string, size: number, mode: string, type: number): string =>
      `${p}|${hash}|${size}|root|root|${mode}|${type}|1480000000|1480000000|`;
    const create = async (args: Record<string, unknown>): Promise<Record<string, unknown>> =>
      result(r, await send(r, { id: randomUUID(), command: "corex.create", arguments: args, tags: "" }), 60);
    const dispatch = async (
      container: number,
      command: Record<string, unknown>,
    ): Promise<Record<string, unknown>> => {
      const res = await result(
        r,
        await send(r, { id: randomUUID(), command: "corex.dispatch", arguments: { container, command } }),
      );
      if (res.state !== "SUCCESS") return res;
      return result(r, JSON.parse(String(res.data)) as string, 30);
    };

    before(async function () {
      if (process.getuid?.() !== 0) this.skip(); // containers are chrooted: root only (the emulator says so)
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "core0-contract-"));
      // A minimal root: dash and its loader/libc, plus /proc (coreX mounts proc there).
      const files: Array<[string, string]> = [
        ["/bin/sh", fs.realpathSync("/bin/dash")],
        ["/lib/x86_64-linux-gnu/libc.so.6", fs.realpathSync("/lib/x86_64-linux-gnu/libc.so.6")],
        ["/lib64/ld-linux-x86-64.so.2", fs.realpathSync("/lib64/ld-linux-x86-64.so.2")],
      ];
      const lines: string[] = ["/proc||0|root|root|0555|4|1480000000|1480000000|"];
      for (const [inRoot, host] of files) {
        const body = fs.readFileSync(host);
        lines.push(line(inRoot, await ipfsAdd(ipfs.apiUrl, brotli(body)), body.length, "0755", 2));
      }
      const plainHash = await ipfsAdd(ipfs.apiUrl, "#!/bin/sh\necho plain\n");
      lines.push(line("/bin/plain", plainHash, 21, "0755", 2));
      const script = Buffer.from("#!/bin/sh\necho from-script\n");
      lines.push(line("/bin/app", await ipfsAdd(ipfs.apiUrl, brotli(script)), script.length, "0755", 2));
      plistOk = path.join(tmp, "ok.plist");
      fs.writeFileSync(plistOk, lines.join("\n") + "\n");
    });
    after(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("plist lines need >= 10 | fields: a header/comment line fails corex.create with ParseLine's text", async () => {
      const p = path.join(tmp, "header.plist");
      fs.writeFileSync(p, "# plist v1\n" + fs.readFileSync(plistOk, "utf8"));
      const res = await create({ root: `file://${p}` });
      assert.equal(res.state, "ERROR");
      assert.equal(
        res.data,
        JSON.stringify("Flist item: malformed line, at least 10 fields expected, 1 found\n"),
      );
    });

    it("a blank line inside a plist is an error (meta.ParseLine: Cannot parse empty lines)", async () => {
      const p = path.join(tmp, "blank.plist");
      fs.writeFileSync(p, fs.readFileSync(plistOk, "utf8").replace("\n", "\n\n"));
      assert.equal((await create({ root: p })).data, JSON.stringify("Cannot parse empty lines\n"));
    });

    it("a missing plist file and a bad URL scheme fail with Go's texts", async () => {
      assert.equal(
        (await create({ root: "file:///no/such.plist" })).data,
        JSON.stringify("stat /no/such.plist: no such file or directory"),
      );
      assert.equal(
        (await create({ root: "ftp://x/y.plist" })).data,
        JSON.stringify("invalid plist url ftp://x/y.plist"),
      );
      assert.equal((await create({})).data, JSON.stringify("root plist is required"));
    });

    it("create -> id; the container sees only its plist (chroot); brotli content runs; list/dispatch/terminate", async () => {
      // v1.1 arguments (nics, name, hostname) are not part of v0.9's struct: ignored, not rejected.
      const res = await create({
        root: `file://${plistOk}`,
        nics: [{ type: "default" }],
        name: "x",
        hostname: "h",
      });
      assert.equal(res.state, "SUCCESS", String(res.data));
      const id = Number(res.data);
      assert.ok(Number.isInteger(id) && id >= 1);
      try {
        const listed = JSON.parse(
          String(
            (await result(r, await send(r, { id: randomUUID(), command: "corex.list", arguments: {} }))).data,
          ),
        ) as Record<string, Record<string, unknown>>;
        assert.deepEqual(Object.keys(listed[String(id)]), ["cpu", "rss", "vms", "swap", "debug"]);
        // Only what the plist gave (plus core0's redis.socket and coreX bind-mount points).
        const ls = await dispatch(id, {
          command: "core.system",
          arguments: { name: "sh", args: ["-c", "echo /*"] },
        });
        assert.equal(ls.state, "SUCCESS", JSON.stringify(ls));
        assert.deepEqual(ls.streams, ["/bin /coreX /lib /lib64 /proc /redis.socket\n", ""]);
        const app = await dispatch(id, { command: "core.system", arguments: { name: "/bin/app" } });
        assert.deepEqual(app.streams, ["from-script\n", ""]);
        // The inner command's tags are the route ("main", the sink key in g8os.toml).
        assert.equal(app.tags, "main");
      } finally {
        const t = await result(
          r,
          await send(r, { id: randomUUID(), command: "corex.terminate", arguments: { container: id } }),
        );
        assert.equal(t.data, "null");
      }
      const after = await result(
        r,
        await send(r, { id: randomUUID(), command: "corex.list", arguments: {} }),
      );
      assert.ok(!(String(id) in JSON.parse(String(after.data))), "gone from corex.list once terminated");
      // The container runner core-<id> reports its end like any job, at result:core-<id>.
      const end = await result(r, `core-${id}`);
      assert.deepEqual([end.command, end.state], ["", "KILLED"]);
    });

    it("dispatch replaces the caller's id with a fresh uuid; bash does not exist inside a container", async () => {
      const id = Number((await create({ root: plistOk })).data);
      try {
        const mine = randomUUID();
        const d = await result(
          r,
          await send(r, {
            id: randomUUID(),
            command: "corex.dispatch",
            arguments: { container: id, command: { id: mine, command: "core.ping", arguments: {} } },
          }),
        );
        const inner = JSON.parse(String(d.data)) as string;
        assert.notEqual(inner, mine);
        assert.match(inner, /^[0-9a-f-]{36}$/);
        assert.equal((await result(r, inner)).state, "SUCCESS");
        // coreX registers only base builtins and core.system: no extensions (coreX/bootstrap).
        assert.equal(
          (await dispatch(id, { command: "bash", arguments: { stdin: "echo x" } })).state,
          "UNKNOWN_CMD",
        );
      } finally {
        await send(r, { id: randomUUID(), command: "corex.terminate", arguments: { container: id } });
      }
    });

    it("an inner command without arguments makes coreX panic: the container ends with ERROR", async () => {
      const id = Number((await create({ root: plistOk })).data);
      const d = await result(
        r,
        await send(r, {
          id: randomUUID(),
          command: "corex.dispatch",
          arguments: { container: id, command: { command: "core.kill" } },
        }),
      );
      assert.equal(d.state, "SUCCESS");
      assert.equal(await rawResult(r, JSON.parse(String(d.data)) as string, 2), undefined);
      assert.equal((await result(r, `core-${id}`)).state, "ERROR");
    });

    it("non-brotli content: create succeeds, running the file fails (EIO) and core0 logs the brotli error", async () => {
      const id = Number((await create({ root: plistOk })).data);
      try {
        const res = await dispatch(id, { command: "core.system", arguments: { name: "/bin/plain" } });
        assert.equal(res.state, "ERROR");
        assert.equal(res.data, "fork/exec /bin/plain: input/output error");
        assert.ok(
          node.log().some((l) => l.includes("/bin/plain") && l.includes("brotli: stream is corrupted")),
        );
      } finally {
        await send(r, { id: randomUUID(), command: "corex.terminate", arguments: { container: id } });
      }
    });

    it("a program missing from the plist is not found inside the container, even if the host has it", async () => {
      const id = Number((await create({ root: plistOk })).data);
      try {
        const res = await dispatch(id, { command: "core.system", arguments: { name: "cat" } });
        assert.equal(res.data, 'exec: "cat": executable file not found in $PATH');
      } finally {
        await send(r, { id: randomUUID(), command: "corex.terminate", arguments: { container: id } });
      }
    });

    it("a plist without /proc: coreX cannot mount proc and exits; the container is gone", async () => {
      const p = path.join(tmp, "noproc.plist");
      fs.writeFileSync(p, fs.readFileSync(plistOk, "utf8").split("\n").slice(1).join("\n"));
      const id = Number((await create({ root: p })).data);
      const end = await result(r, `core-${id}`);
      assert.equal(end.state, "ERROR");
      const d = await result(
        r,
        await send(r, {
          id: randomUUID(),
          command: "corex.dispatch",
          arguments: { container: id, command: { command: "core.ping", arguments: {} } },
        }),
      );
      assert.equal(d.data, JSON.stringify("container does not exist"));
    });

    it("terminate of an unknown id is SUCCESS null; dispatch to 0 / unknown ids are ERRORs", async () => {
      const t = await result(
        r,
        await send(r, { id: randomUUID(), command: "corex.terminate", arguments: { container: 999 } }),
      );
      assert.deepEqual([t.state, t.data], ["SUCCESS", "null"]);
      const zero = await result(
        r,
        await send(r, {
          id: randomUUID(),
          command: "corex.dispatch",
          arguments: { container: 0, command: {} },
        }),
      );
      assert.deepEqual([zero.state, zero.data], ["ERROR", JSON.stringify("invalid container id")]);
      const none = await result(
        r,
        await send(r, {
          id: randomUUID(),
          command: "corex.dispatch",
          arguments: { container: 999, command: {} },
        }),
      );
      assert.deepEqual([none.state, none.data], ["ERROR", JSON.stringify("container does not exist")]);
    });

    it("create validates mounts, ports and bridges with core0's texts before using an id", async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ mount: { "rel/dir": "/data" } }, "host path 'rel/dir' must be absolute"],
        [{ mount: { [tmp]: "data" } }, "guest path 'data' must be absolute"],
        [{ mount: { "/no/such/dir": "/data" } }, "host path '/no/such/dir' does not exist"],
        [{ port: { "70000": 80 } }, "invalid host port '70000'"],
        [{ port: { "80": -1 } }, "invalid guest port '-1'"],
        [{ network: { bridge: [["nosuchbr0", "none"]] } }, "Link not found"],
        [{ port: { x: 1 } }, "json: cannot unmarshal number x into Go value of type int"],
      ];
      for (const [extra, msg] of cases) {
        const res = await create({ root: plistOk, ...extra });
        assert.deepEqual([res.state, res.data], ["ERROR", JSON.stringify(msg)], JSON.stringify(extra));
      }
    });

    it("container ids count from 1 on a fresh node", async () => {
      const fresh = await startCore0Emulator({ ipfsApi: ipfs.apiUrl, decodeErrorPauseMs: 0 });
      const c = connect(fresh);
      try {
        for (const want of [1, 2]) {
          const id = await send(c, {
            id: randomUUID(),
            command: "corex.create",
            arguments: { root: plistOk },
          });
          assert.equal((await result(c, id, 60)).data, String(want));
        }
      } finally {
        c.disconnect();
        await fresh.stop();
      }
      assert.equal(fresh.containerCount(), 0);
    });

    it("dir is inside the container; a host directory mount is a bind mount, undone at terminate", async () => {
      const host = fs.mkdtempSync(path.join(tmp, "hostdir-"));
      fs.writeFileSync(path.join(host, "shared.txt"), "x");
      const id = Number((await create({ root: plistOk, mount: { [host]: "/data" } })).data);
      const target = path.join(node.containersDir, `container-${id}`, "data");
      try {
        const pwd = await dispatch(id, {
          command: "core.system",
          arguments: { name: "sh", args: ["-c", "pwd"], dir: "/lib" },
        });
        assert.deepEqual(pwd.streams, ["/lib\n", ""]);
        const ls = await dispatch(id, {
          command: "core.system",
          arguments: { name: "sh", args: ["-c", "echo /data/*"] },
        });
        assert.deepEqual(ls.streams, ["/data/shared.txt\n", ""]);
        assert.ok(fs.readFileSync("/proc/self/mounts", "utf8").includes(` ${target} `));
      } finally {
        await send(r, { id: randomUUID(), command: "corex.terminate", arguments: { container: id } });
      }
      await result(r, `core-${id}`);
      for (let i = 0; i < 50 && fs.readFileSync("/proc/self/mounts", "utf8").includes(target); i++)
        await new Promise((res) => setTimeout(res, 100));
      assert.ok(!fs.readFileSync("/proc/self/mounts", "utf8").includes(target), "bind mount removed");
      assert.ok(fs.existsSync(path.join(host, "shared.txt")), "host files untouched");
    });

    it("an http(s) plist is used whatever the status: a 404 page is parsed as a plist", async () => {
      const res = await create({ root: `${node.nodeIpfsApi}/missing.plist` });
      assert.equal(
        res.data,
        JSON.stringify("Flist item: malformed line, at least 10 fields expected, 1 found\n"),
      );
    });

    it("a hash the IPFS API cannot serve: create succeeds, the download error is core0's", async () => {
      const p = path.join(tmp, "badhash.plist");
      fs.writeFileSync(
        p,
        fs.readFileSync(plistOk, "utf8") + line("/bin/gone", "QmNotAHash", 3, "0755", 2) + "\n",
      );
      const id = Number((await create({ root: p })).data);
      try {
        const res = await dispatch(id, { command: "core.system", arguments: { name: "/bin/gone" } });
        assert.equal(res.data, "fork/exec /bin/gone: input/output error");
        assert.ok(
          node.log().some((l) => /\/bin\/gone.*response error: \d{3} /.test(l)),
          node.log().join("\n"),
        );
      } finally {
        await send(r, { id: randomUUID(), command: "corex.terminate", arguments: { container: id } });
      }
    });

    it("run without root, corex.create fails and says containers need root (no unconfined run)", async function () {
      const { spawnSync } = require("child_process") as typeof import("child_process");
      if (spawnSync("runuser", ["--help"]).status !== 0) this.skip();
      const root = path.join(__dirname, "../..");
      const out = spawnSync(
        "runuser",
        [
          "-u",
          "nobody",
          "--",
          process.execPath,
          "-r",
          TS_REGISTER,
          path.join(__dirname, "core0-emulator.nonroot.fixture.ts"),
        ],
        { cwd: root, encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH ?? "", HOME: "/tmp" } },
      );
      assert.equal(out.status, 0, out.stderr);
      const res = JSON.parse(out.stdout.trim()) as Record<string, unknown>;
      assert.equal(res.state, "ERROR");
      assert.equal(
        res.data,
        JSON.stringify(
          "core0 emulator: containers run chrooted and need root; this process runs as uid 65534",
        ),
      );
    });

    it("content is read with a path-style POST /api/v0/cat/<hash> on the node's IPFS API", async () => {
      const hash = await ipfsAdd(ipfs.apiUrl, "abc");
      const pathStyle = await fetch(`${node.nodeIpfsApi}/api/v0/cat/${hash}`, { method: "POST" });
      assert.equal(await pathStyle.text(), "abc");
      const query = await fetch(`${node.nodeIpfsApi}/api/v0/cat?arg=${hash}`, { method: "POST" });
      assert.equal(query.status, 404);
    });
  });
});
