/**
 * Core0Node + Core0Container through the engine harness (real dynamic-provider host, JSON state),
 * against the core0 emulator (real redis-server, v0.9.0 protocol) with files brotli-compressed in a
 * real offline js-ipfs daemon. All on 127.0.0.1.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomUUID } from "crypto";
import { Core0Client } from "../../providers/core0/client";
import { core0ContainerProvider } from "../../providers/core0/container";
import { Harness, RunResult } from "../harness";
import { Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { rootPlist } from "./root-plist";
import { IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";

const PASSWORD = "core0-pw-" + randomUUID();
const PROGRAM = path.join(__dirname, "programs", "container.ts");
const START = 'echo "started $MODE" > /started.txt';

const containerStep = (r: RunResult) => r.steps.find((s) => /core0:Container$/.test(s.type));
const changed = (r: RunResult) =>
  r.steps
    .filter((s) => s.op !== "same" && !/pulumi:Stack$/.test(s.type))
    .map((s) => `${s.type.split("/").pop()} ${s.op}`);

describe("core0: Core0Container check (v0.9.0 arguments)", () => {
  const base = {
    nodeAddress: "127.0.0.1",
    nodePort: 6379,
    nodePassword: "pw",
    name: "app",
    plistUrl: "file:///opt/app.plist",
  };
  it("names each bad network, mount and port field", async () => {
    const r = await core0ContainerProvider.check!(
      {},
      {
        ...base,
        zerotierNetwork: "nope",
        bridges: [{ name: "" }, { name: "br0", setup: "static" }],
        mounts: { data: "/data", "/srv": "rel" },
        ports: { "0": 80, "8080": 70000 },
      },
    );
    assert.deepEqual(
      r.failures!.map((f) => f.property),
      [
        "zerotierNetwork",
        "bridges[0].name",
        "bridges[1].setup",
        'mounts["data"]',
        'mounts["/srv"]',
        'ports["0"]',
        'ports["8080"]',
      ],
    );
  });
  it("accepts v0.9.0's network, mounts and ports and fills defaults", async () => {
    const r = await core0ContainerProvider.check!(
      {},
      {
        ...base,
        zerotierNetwork: "8056c2e21c000001",
        bridges: [
          { name: "br0", setup: "dhcp" },
          { name: "br1", setup: "10.0.0.5/24" },
        ],
        mounts: { "/data": "/data", "http://127.0.0.1/x.plist": "/opt/x" },
        ports: { "8080": 80 },
      },
    );
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.inputs.tags, []);
    assert.deepEqual(r.inputs.env, {});
    assert.equal(r.inputs.memoryMb, 0);
  });
});

describe("core0: Core0Node and Core0Container through the harness", function () {
  this.timeout(300_000);
  let ipfs: IpfsDaemon;
  let node: Core0Emulator;
  let client: Core0Client;
  let dir: string;
  let goodPlist: string;
  let noProcPlist: string;
  /** What /started.txt in container `id` says (the start command wrote it). */
  const startedText = async (id: number): Promise<string> => {
    const r = await client.corex.dispatchAndWait(id, {
      command: "core.system",
      arguments: client.systemArgs("/bin/cat", ["/started.txt"]),
    });
    return (r.streams ?? [])[0] ?? "";
  };
  const ids = async (): Promise<string[]> => Object.keys(await client.corex.list());

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
    goodPlist = await rootPlist(dir, ipfs.apiUrl, true);
    noProcPlist = await rootPlist(dir, ipfs.apiUrl, false);
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
      h = harness("build-1", goodPlist, { "g8os:startScript": START });
    });
    after(async () => h?.close());

    it("up creates the node record and the container, keeps its id, runs the start commands in it", async () => {
      const r = await h.upOk();
      assert.deepEqual(changed(r).sort(), ["core0:Container create", "core0:Node create"]);
      assert.equal(r.outputs.nodeCpus, os.cpus().length);
      assert.ok((r.outputs.nodeMemory as number) > 0);
      const id = r.outputs.containerId as number;
      assert.deepEqual(await ids(), [String(id)]);
      assert.equal(await startedText(id), "started \n");
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

    it("a changed env replaces the container (old one deleted first); the env reaches the start command", async () => {
      const [before] = await ids();
      h.setConfig("g8os:containerEnv", JSON.stringify({ MODE: "blue" }));
      const p = await h.preview();
      assert.equal(containerStep(p)?.op, "replace");
      assert.ok(containerStep(p)?.diffs.includes("env"));
      const r = await h.upOk();
      assert.equal(containerStep(r)?.op, "replace");
      const after = await ids();
      assert.deepEqual(after, [String(r.outputs.containerId)], "only the new container is left");
      assert.notEqual(after[0], before);
      assert.equal(await startedText(Number(after[0])), "started blue\n");
    });

    it("memoryMb beyond the node's available memory fails naming memoryMb; the container stays", async () => {
      const [before] = await ids();
      h.setConfig("g8os:memoryMb", String(8 * 1024 * 1024)); // 8 TiB
      try {
        const r = await h.up();
        assert.ok(r.failed);
        assert.match(
          r.errors.join("\n"),
          /memoryMb: asks for 8388608 MiB but node 127\.0\.0\.1 has \d+ MiB available/,
        );
        assert.deepEqual(await ids(), [before]);
      } finally {
        h.setConfig("g8os:memoryMb", "16");
      }
      assert.deepEqual(changed(await h.upOk()), [], "back to 16 MiB: nothing to change");
    });

    it("a container terminated outside is dropped by refresh and re-created by up", async () => {
      const [id] = await ids();
      await client.corex.terminate(Number(id));
      const r = await h.refreshOk();
      assert.equal(containerStep(r)?.op, "refresh-delete");
      const u = await h.upOk();
      assert.equal(containerStep(u)?.op, "create");
      assert.deepEqual(await ids(), [String(u.outputs.containerId)]);
    });

    it("destroy terminates the container", async () => {
      await h.destroyOk();
      assert.deepEqual(await ids(), []);
      assert.equal(node.containerCount(), 0);
    });
  });

  it("a root coreX cannot start in (no /proc) fails clearly and leaves no container", async () => {
    const h = harness("build-2", noProcPlist);
    try {
      const r = await h.up();
      assert.ok(r.failed, "up must fail");
      const msg = r.errors.join("\n");
      assert.match(msg, /corex\.list no longer shows it: its coreX exited at once/);
      assert.match(msg, /\/proc/);
      assert.ok(!msg.includes(PASSWORD));
      assert.deepEqual(await ids(), []);
      assert.ok(!h.state().some((s) => /core0:Container$/.test(s.type)), "no container in state");
    } finally {
      await h.close();
    }
  });

  it("a start command that fails fails the up naming it and terminates the container; a fixed one then creates it", async () => {
    const h = harness("build-4", goodPlist, { "g8os:startScript": "/no/such/tool --flag" });
    try {
      const r = await h.up();
      assert.ok(r.failed, "up must fail");
      const msg = r.errors.join("\n");
      assert.match(msg, /startCommands\[0\] \(\/bin\/sh\) failed: ended in state ERROR/);
      assert.match(msg, /no\/such\/tool/, "the process's stderr is shown");
      assert.ok(!h.state().some((s) => /core0:Container$/.test(s.type)), "nothing recorded");
      assert.deepEqual(await ids(), [], "the container was terminated");
      h.setConfig("g8os:startScript", START);
      const u = await h.upOk();
      assert.equal(containerStep(u)?.op, "create");
      assert.deepEqual(await ids(), [String(u.outputs.containerId)]);
      assert.equal(await startedText(u.outputs.containerId as number), "started \n");
      await h.destroyOk();
      assert.deepEqual(await ids(), []);
    } finally {
      // Whatever failed above, leave no container behind for the tests that follow.
      for (const id of await ids()) await client.corex.terminate(Number(id));
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
