/**
 * Core0Node + Core0Container through the engine harness (real dynamic-provider host, JSON state),
 * against the core0 emulator (real redis-server) with files in a real offline js-ipfs daemon.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomUUID } from "crypto";
import { Core0Client } from "../../providers/core0/client";
import { FILETYPE_FILE, serializePlist } from "../../providers/plist";
import { Harness, RunResult } from "../harness";
import { Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { ipfsAdd, IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";

const PASSWORD = "core0-pw-" + randomUUID();
const PROGRAM = path.join(__dirname, "programs", "container.ts");

const containerStep = (r: RunResult) => r.steps.find((s) => /core0:Container$/.test(s.type));
const changed = (r: RunResult) =>
  r.steps
    .filter((s) => s.op !== "same" && !/pulumi:Stack$/.test(s.type))
    .map((s) => `${s.type.split("/").pop()} ${s.op}`);

describe("core0: Core0Node and Core0Container through the harness", function () {
  this.timeout(300_000);
  let ipfs: IpfsDaemon;
  let node: Core0Emulator;
  let client: Core0Client;
  let dir: string;
  let goodPlist: string;
  let badPlist: string;
  const missingHash = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdH";

  const harness = (stack: string, plist: string, extra: Record<string, string> = {}): Harness =>
    new Harness({
      program: PROGRAM,
      stack,
      stateFile: path.join(dir, `${stack}.json`),
      config: {
        "g8os:core0Address": node.address,
        "g8os:core0Port": String(node.port),
        "g8os:core0Password": { secret: PASSWORD },
        "g8os:plistUrl": `file://${plist}`,
        ...extra,
      },
    });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-core0-harness-"));
    ipfs = await startIpfsDaemon();
    node = await startCore0Emulator({ password: PASSWORD, ipfsApi: ipfs.apiUrl, ipfsFetchTimeoutMs: 1500 });
    client = new Core0Client({ host: node.address, port: node.port, password: PASSWORD });
    const body = "#!/bin/sh\necho started > started.txt\n";
    const hash = await ipfsAdd(ipfs.apiUrl, body);
    const now = Math.floor(Date.now() / 1000);
    const entry = { uname: "root", gname: "root", type: FILETYPE_FILE, ctime: now, mtime: now, extended: "" };
    const entries = [{ ...entry, path: "/bin/start", hash, size: body.length, mode: 0o755 }];
    goodPlist = path.join(dir, "good.plist");
    fs.writeFileSync(goodPlist, serializePlist(entries));
    badPlist = path.join(dir, "bad.plist");
    fs.writeFileSync(
      badPlist,
      serializePlist([
        ...entries,
        { ...entry, path: "/lib/gone.so", hash: missingHash, size: 3, mode: 0o644 },
      ]),
    );
  });
  after(async () => {
    await client?.close();
    await node?.stop();
    await ipfs?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("lifecycle", () => {
    let h: Harness;
    before(() => {
      h = harness("build-1", goodPlist, { "g8os:startScript": "./bin/start" });
    });
    after(async () => h?.close());

    it("up creates the node record and the container, and runs the start commands in it", async () => {
      const r = await h.upOk();
      assert.deepEqual(changed(r).sort(), ["core0:Container create", "core0:Node create"]);
      assert.equal(r.outputs.nodeCpus, os.cpus().length);
      assert.ok((r.outputs.nodeMemory as number) > 0);
      assert.match(String(r.outputs.nodeVersion), /core0-emulator/);
      const found = await client.corex.find(["app"]);
      assert.deepEqual(Object.keys(found), [String(r.outputs.containerId)]);
      const info = found[String(r.outputs.containerId)];
      assert.deepEqual(info.container.arguments.tags, ["app", "g8os-test"]);
      assert.equal(fs.readFileSync(path.join(String(r.outputs.root), "started.txt"), "utf8"), "started\n");
    });

    it("keeps the node password out of the state in plaintext", () => {
      assert.ok(!h.stateText().includes(PASSWORD));
      const c = h.stateDecrypted().find((s) => /core0:Container$/.test(s.type));
      assert.equal((c?.outputs as Record<string, unknown>).nodePassword, PASSWORD);
    });

    it("a no-op preview changes nothing", async () => {
      const r = await h.preview();
      assert.ok(!r.failed, r.errors.join("\n"));
      assert.deepEqual(changed(r), []);
    });

    it("a changed env replaces the container (old one deleted first)", async () => {
      const before = Object.keys(await client.corex.find(["app"]));
      h.setConfig("g8os:containerEnv", JSON.stringify({ MODE: "blue" }));
      const p = await h.preview();
      assert.equal(containerStep(p)?.op, "replace");
      assert.ok(containerStep(p)?.diffs.includes("env"));
      const r = await h.upOk();
      assert.equal(containerStep(r)?.op, "replace");
      const after = await client.corex.find(["app"]);
      assert.equal(Object.keys(after).length, 1, "exactly one container carries the name");
      assert.notDeepEqual(Object.keys(after), before);
      assert.deepEqual(Object.values(after)[0].container.arguments.env, { MODE: "blue" });
    });

    it("a container terminated outside is dropped by refresh and re-created by up", async () => {
      const [id] = Object.keys(await client.corex.find(["app"]));
      await client.corex.terminate(Number(id));
      const r = await h.refreshOk();
      assert.equal(containerStep(r)?.op, "refresh-delete");
      const u = await h.upOk();
      assert.equal(containerStep(u)?.op, "create");
      assert.equal(Object.keys(await client.corex.find(["app"])).length, 1);
    });

    it("destroy terminates the container", async () => {
      await h.destroyOk();
      assert.deepEqual(await client.corex.find(["app"]), {});
      assert.equal(node.containerCount(), 0);
    });
  });

  it("a plist whose file hash is missing from IPFS fails clearly and leaves no container", async () => {
    const h = harness("build-2", badPlist);
    try {
      const r = await h.up();
      assert.ok(r.failed, "up must fail");
      const msg = r.errors.join("\n");
      assert.match(msg, /\/lib\/gone\.so/);
      assert.ok(msg.includes(missingHash), msg);
      assert.ok(!msg.includes(PASSWORD));
      assert.equal(node.containerCount(), 0);
      assert.deepEqual(await client.corex.find(["app"]), {});
      assert.ok(!h.state().some((s) => /core0:Container$/.test(s.type)), "no container in state");
    } finally {
      await h.close();
    }
  });

  it("a wrong node password fails naming the password field", async () => {
    const h = new Harness({
      program: PROGRAM,
      stack: "build-3",
      stateFile: path.join(dir, "build-3.json"),
      config: {
        "g8os:core0Address": node.address,
        "g8os:core0Port": String(node.port),
        "g8os:core0Password": { secret: "wrong-password-123" },
        "g8os:plistUrl": `file://${goodPlist}`,
      },
    });
    try {
      const r = await h.up();
      assert.ok(r.failed);
      const msg = r.errors.join("\n");
      assert.match(msg, /Core0Node "test-node": password: the core0 node .* refused it/);
      assert.ok(!msg.includes("wrong-password-123"));
    } finally {
      await h.close();
    }
  });
});
