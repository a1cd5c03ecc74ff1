/**
 * The core0 client against the core0 emulator on a real redis-server (requirepass) and a real
 * offline js-ipfs daemon for container roots. Everything listens on 127.0.0.1.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { randomUUID } from "crypto";
import {
  Core0AuthError,
  Core0Client,
  Core0JobError,
  Core0TimeoutError,
  ContainerInfo,
} from "../../providers/core0/client";
import { FILETYPE_DIR, FILETYPE_FILE, PlistEntry, serializePlist } from "../../providers/plist";
import { pollUntil } from "../../providers/shared/retry";
import { Core0Emulator, EMULATOR_VERSION, startCore0Emulator } from "../testbed/core0-emulator";
import { ipfsAdd, IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import { freePort } from "../testbed/redis";

const PASSWORD = "pw-" + randomUUID();

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

  describe("built-ins", () => {
    it("ping answers PONG", async () => {
      assert.equal(await client.ping(), `PONG ${EMULATOR_VERSION}`);
    });

    it("info.* report this machine in gopsutil shapes", async () => {
      const cpu = await client.info.cpu();
      assert.equal(cpu.length, os.cpus().length);
      assert.equal(typeof cpu[0].modelName, "string");
      assert.ok(Array.isArray(cpu[0].flags));
      const mem = await client.info.mem();
      const memTotal = Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
      assert.equal(mem.total, memTotal);
      assert.ok(mem.available > 0 && mem.available <= mem.total);
      assert.ok(mem.usedPercent > 0 && mem.usedPercent < 100);
      const nics = await client.info.nic();
      const lo = nics.find((n) => n.name === "lo");
      assert.ok(lo, "lo is listed");
      assert.ok(lo!.addrs.some((a) => a.addr === "127.0.0.1/8"));
      const info = await client.info.os();
      assert.equal(info.hostname, os.hostname());
      assert.equal(info.kernelVersion, os.release());
    });

    it("aggregator.query reports CPU percent and available RAM", async () => {
      const all = await client.aggregator.query();
      assert.deepEqual(Object.keys(all).sort(), ["machine.CPU.percent", "machine.memory.ram.available"]);
      const ram = all["machine.memory.ram.available"];
      assert.ok(ram.last_value > 0);
      assert.ok(ram.current["300"].count >= 1);
      const one = await client.aggregator.query({ key: "machine.CPU.percent" });
      assert.deepEqual(Object.keys(one), ["machine.CPU.percent"]);
      assert.ok(one["machine.CPU.percent"].last_value >= 0 && one["machine.CPU.percent"].last_value <= 100);
    });

    it("zerotier.join / list / leave", async () => {
      await client.zerotier.join("8056c2e21c000001");
      const nets = await client.zerotier.list();
      assert.deepEqual(
        nets.map((n) => [n.id, n.status]),
        [["8056c2e21c000001", "OK"]],
      );
      await client.zerotier.leave("8056c2e21c000001");
      assert.deepEqual(await client.zerotier.list(), []);
      await assert.rejects(client.zerotier.join("nope"), /state ERROR: network nope is not a 16-hex/);
    });

    it("unknown command -> UNKNOWN_CMD; call() throws naming node and command", async () => {
      const r = await client.run("core.frobnicate");
      assert.equal(r.state, "UNKNOWN_CMD");
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
  });

  describe("processes and jobs", () => {
    it("bash: stdout, stderr, exit code, stdin", async () => {
      const ok = await client.bash("read x; echo got $x; echo warn >&2", "hello\n");
      assert.equal(ok.state, "SUCCESS");
      assert.equal(ok.stdout, "got hello\n");
      assert.equal(ok.stderr, "warn\n");
      assert.equal(ok.code, 0);
      const bad = await client.bash("exit 7");
      assert.equal(bad.state, "ERROR");
      assert.equal(bad.code, 7);
    });

    it("core.system: args, dir, env", async () => {
      const r = await client.system("sh", ["-c", 'pwd; echo "$GREETING"'], {
        dir: tmp,
        env: { GREETING: "hi" },
      });
      assert.equal(r.state, "SUCCESS");
      assert.equal(r.stdout, `${fs.realpathSync(tmp)}\nhi\n`);
      const missing = await client.system("/no/such/binary");
      assert.equal(missing.state, "ERROR");
    });

    it("job.list shows a running job; job.kill ends it with KILLED", async () => {
      const id = randomUUID();
      const running = client.run("bash", { script: "sleep 30" }, { id });
      const listed = await pollUntil(
        async () => ((await client.job.list(id)).length === 1 ? (await client.job.list(id))[0] : undefined),
        { timeoutMs: 10_000, intervalMs: 50, what: "job in job.list" },
      );
      assert.equal(listed.cmd.id, id);
      assert.equal(listed.cmd.command, "bash");
      assert.ok(listed.rss > 0, "a real process has a resident size");
      assert.equal(await client.job.kill(id, 9), true);
      assert.equal((await running).state, "KILLED");
      assert.deepEqual(await client.job.list(id), []);
    });

    it("max_time kills the job with TIMEOUT", async () => {
      const r = await client.run("bash", { script: "sleep 30" }, { maxTime: 1 });
      assert.equal(r.state, "TIMEOUT");
    });

    it("jobs on one queue run one after another", async () => {
      const file = path.join(tmp, "queue.log");
      const script = (n: number): string => `echo start${n} >> ${file}; sleep 0.3; echo end${n} >> ${file}`;
      await Promise.all([
        client.run("bash", { script: script(1) }, { queue: "q1" }),
        client.run("bash", { script: script(2) }, { queue: "q1" }),
      ]);
      const lines = fs.readFileSync(file, "utf8").trim().split("\n");
      assert.ok(
        lines.join(",") === "start1,end1,start2,end2" || lines.join(",") === "start2,end2,start1,end1",
        `not serialized: ${lines.join(",")}`,
      );
    });

    it("a job id already running answers DUPILICATE_ID", async () => {
      const id = randomUUID();
      const other = new Core0Client({ host: node.address, port: node.port, password: PASSWORD });
      try {
        const first = client.run("bash", { script: "sleep 1; echo first" }, { id });
        await pollUntil(async () => ((await client.job.list(id)).length ? true : undefined), {
          timeoutMs: 10_000,
          intervalMs: 50,
          what: "first job running",
        });
        // The duplicate's answer lands in the same result list, ahead of the real one.
        const dup = await other.run("core.ping", {}, { id });
        assert.equal(dup.state, "DUPILICATE_ID");
        assert.equal(dup.command, "core.ping");
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

  describe("containers (corex)", () => {
    let plistPath: string;
    const appBody = "#!/bin/sh\necho app says hi\n";
    const cfgBody = "port=8080\n";

    before(async () => {
      const now = Math.floor(Date.now() / 1000);
      const e = (p: Partial<PlistEntry> & { path: string }): PlistEntry => ({
        hash: "",
        size: 0,
        uname: "root",
        gname: "root",
        mode: 0o644,
        type: FILETYPE_FILE,
        ctime: now,
        mtime: 1500000000,
        extended: "",
        ...p,
      });
      const entries = [
        e({ path: "/bin/app", hash: await ipfsAdd(ipfs.apiUrl, appBody), size: appBody.length, mode: 0o755 }),
        e({
          path: "/etc/app.conf",
          hash: await ipfsAdd(ipfs.apiUrl, cfgBody),
          size: cfgBody.length,
          mode: 0o600,
        }),
        e({ path: "/var/lib/empty", type: FILETYPE_DIR, size: 4096, mode: 0o711 }),
      ];
      plistPath = path.join(tmp, "app.plist");
      fs.writeFileSync(plistPath, serializePlist(entries));
    });

    const rootOf = (info: ContainerInfo): string => info.container.root;

    it("create builds the root from the plist; list/find report it; dispatch runs in it; terminate removes it", async () => {
      const id = await client.corex.create(
        {
          root: `file://${plistPath}`,
          port: { "8080": 80 },
          env: { MODE: "test" },
          nics: [{ type: "default" }],
        },
        ["app1", "web"],
      );
      assert.equal(id, 1, "container ids count up from 1");
      const list = await client.corex.list();
      assert.deepEqual(Object.keys(list), ["1"]);
      const info = list["1"];
      assert.deepEqual(info.container.arguments.tags, ["app1", "web"]);
      assert.deepEqual(info.container.arguments.port, { "8080": 80 });
      assert.deepEqual(info.container.arguments.env, { MODE: "test" });
      assert.ok(info.container.pid > 0);
      const root = rootOf(info);
      assert.equal(fs.readFileSync(path.join(root, "bin/app"), "utf8"), appBody);
      assert.equal(fs.statSync(path.join(root, "bin/app")).mode & 0o777, 0o755);
      assert.equal(fs.statSync(path.join(root, "etc/app.conf")).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.join(root, "etc/app.conf")).mtimeMs, 1500000000 * 1000);
      assert.ok(fs.statSync(path.join(root, "var/lib/empty")).isDirectory());
      assert.equal(fs.statSync(path.join(root, "var/lib/empty")).mode & 0o777, 0o711);

      assert.deepEqual(Object.keys(await client.corex.find(["app1"])), ["1"]);
      assert.deepEqual(Object.keys(await client.corex.find(["app1", "web"])), ["1"]);
      assert.deepEqual(await client.corex.find(["app1", "db"]), {});

      const run = await client.corex.dispatchAndWait(1, {
        command: "core.system",
        arguments: { name: "sh", args: ["-c", "pwd; ./bin/app; cat etc/app.conf"], env: {} },
      });
      assert.equal(run.state, "SUCCESS");
      assert.equal(run.container, 1);
      assert.deepEqual((run.streams as string[])[0].split("\n"), [root, "app says hi", "port=8080", ""]);
      const inBin = await client.corex.dispatchAndWait(1, {
        command: "bash",
        arguments: { script: "pwd" },
      });
      assert.equal((inBin.streams as string[])[0], `${root}\n`);

      const second = await client.corex.create({ root: `file://${plistPath}` }, ["app2"]);
      assert.equal(second, 2);
      await client.corex.terminate(1);
      assert.ok(!fs.existsSync(root), "root removed");
      assert.deepEqual(Object.keys(await client.corex.list()), ["2"]);
      await client.corex.terminate(2);
      await assert.rejects(client.corex.terminate(2), /no container with id 2/);
      await assert.rejects(
        client.corex.dispatch(2, { command: "bash", arguments: { script: "true" } }),
        /no container with id 2/,
      );
    });

    it("fetches the plist over http too", async () => {
      const srv = http.createServer((_req, res) => res.end(fs.readFileSync(plistPath)));
      await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
      try {
        const port = (srv.address() as import("net").AddressInfo).port;
        const id = await client.corex.create({ root: `http://127.0.0.1:${port}/app.plist` }, ["viahttp"]);
        const info = (await client.corex.find(["viahttp"]))[String(id)];
        assert.equal(fs.readFileSync(path.join(rootOf(info), "bin/app"), "utf8"), appBody);
        await client.corex.terminate(id);
      } finally {
        srv.close();
      }
    });

    it("a file hash missing from IPFS -> ERROR naming file and hash, nothing left behind", async () => {
      const missing = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdH";
      const bad = path.join(tmp, "bad.plist");
      fs.writeFileSync(
        bad,
        fs.readFileSync(plistPath, "utf8") + `/opt/missing.bin|${missing}|10|root|root|644|2|1|1|\n`,
      );
      const before = node.containerCount();
      await assert.rejects(client.corex.create({ root: `file://${bad}` }, ["broken"]), (e: unknown) => {
        assert.ok(e instanceof Core0JobError);
        assert.equal(e.result.state, "ERROR");
        assert.match(e.message, /\/opt\/missing\.bin/);
        assert.ok(e.message.includes(missing));
        return true;
      });
      assert.equal(node.containerCount(), before);
      assert.deepEqual(await client.corex.find(["broken"]), {});
      const left = fs.existsSync(node.containersDir) ? fs.readdirSync(node.containersDir) : [];
      assert.deepEqual(left, [], "no container directory left behind");
    });

    it("rejects a malformed plist with its line number, and bad nics", async () => {
      const bad = path.join(tmp, "malformed.plist");
      fs.writeFileSync(bad, "/ok||4096|root|root|755|4|1|1|\n/broken|x\n");
      await assert.rejects(
        client.corex.create({ root: `file://${bad}` }),
        /line 2: has 2 fields, expected 10/,
      );
      await assert.rejects(
        client.corex.create({
          root: `file://${plistPath}`,
          nics: [{ type: "default" }, { type: "default" }],
        }),
        /only one default nic/,
      );
      await assert.rejects(
        client.corex.create({ root: `file://${plistPath}`, nics: [{ type: "bridge", name: "eth0" }] }),
        /nic name eth0 is reserved/,
      );
    });
  });
});
