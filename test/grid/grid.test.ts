/**
 * The grid stack (index.ts, stack grid-1) through the engine harness against three core0 v0.9.0
 * emulators of different sizes (their capacity capped by the grid file: the emulators report this
 * machine), with plist contents brotli-compressed in an offline js-ipfs daemon. All on 127.0.0.1.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomUUID } from "crypto";
import { Core0Client } from "../../providers/core0/client";
import { Harness, RunResult } from "../harness";
import { Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import { rootPlist } from "../core0/root-plist";

const PASSWORD = "grid-pw-" + randomUUID();
const SIZES = {
  big: { memoryMb: 600, cpu: 2 },
  mid: { memoryMb: 400, cpu: 2 },
  small: { memoryMb: 200, cpu: 1 },
};
type NodeName = keyof typeof SIZES;

const changed = (r: RunResult) =>
  r.steps
    .filter((s) => s.op !== "same" && !/pulumi:Stack$/.test(s.type))
    .map((s) => `${s.type.split(":").pop()} ${s.urn.split("::").pop()} ${s.op}`)
    .sort();
const where = (r: RunResult) =>
  Object.fromEntries(
    Object.entries(r.outputs.placement as Record<string, { node: string }>).map(([a, p]) => [a, p.node]),
  );

describe("grid: placement, monitoring and app lifecycle on several core0 nodes", function () {
  this.timeout(600_000);
  let ipfs: IpfsDaemon;
  const nodes = {} as Record<NodeName, Core0Emulator>;
  const clients = {} as Record<NodeName, Core0Client>;
  let dir: string;
  let plist: string;
  let h: Harness;
  let gridFile: string;

  const app = (name: string, memoryMb: number, cpu: number, more: object = {}) => ({
    name,
    plist: `file://${plist}`,
    memoryMb,
    cpu,
    restartLimit: 2,
    processes: [{ name: "/bin/sleep", args: ["100000"] }],
    ...more,
  });
  const writeGrid = (apps: object[]) =>
    fs.writeFileSync(
      gridFile,
      JSON.stringify({
        network: "8056c2e21c000001",
        nodes: (Object.keys(SIZES) as NodeName[]).map((n) => ({
          name: n,
          address: nodes[n].address,
          port: nodes[n].port,
          ...SIZES[n],
        })),
        apps,
      }),
    );
  const baseApps = () => [
    app("cache", 100, 0, { antiAffinity: ["web"] }),
    app("db", 250, 1),
    app("web", 300, 1),
  ];
  const containerOf = (appName: string) =>
    h.state().find((s) => /core0:Container$/.test(s.type) && s.urn.endsWith(`grid-1-${appName}`));

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-grid-harness-"));
    ipfs = await startIpfsDaemon();
    for (const n of Object.keys(SIZES) as NodeName[]) {
      nodes[n] = await startCore0Emulator({
        password: PASSWORD,
        ipfsApi: ipfs.apiUrl,
        ipfsFetchTimeoutMs: 1500,
      });
      clients[n] = new Core0Client({ host: nodes[n].address, port: nodes[n].port, password: PASSWORD });
    }
    plist = await rootPlist(dir, ipfs.apiUrl, true, ["/bin/sh", "/bin/sleep"]);
    gridFile = path.join(dir, "grid.json");
    writeGrid(baseApps());
    h = new Harness({
      stack: "grid-1",
      stateFile: path.join(dir, "grid-1.json"),
      config: { "g8os:gridFile": gridFile, "g8os:gridRedisPassword": { secret: PASSWORD } },
    });
  });
  after(async () => {
    await h?.close();
    for (const c of Object.values(clients)) await c.close();
    for (const n of Object.values(nodes)) await n.stop();
    await ipfs?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("preview shows where each app goes and why, from the grid file's capacities", async () => {
    const p = await h.previewOk();
    assert.deepEqual(where(p), { cache: "big", db: "big", web: "mid" });
    const placement = p.outputs.placement as Record<string, { reason: string }>;
    assert.match(
      placement.web.reason,
      /most free: 400 MiB .*not big: 250 MiB \/ 1 CPU free, runs cache \(antiAffinity\)/,
    );
  });

  it("up installs each app's container on its node", async () => {
    const r = await h.upOk();
    assert.deepEqual(where(r), { cache: "big", db: "big", web: "mid" });
    assert.equal(nodes.big.containerCount(), 2);
    assert.equal(nodes.mid.containerCount(), 1);
    assert.equal(nodes.small.containerCount(), 0);
    const web = containerOf("web")!.outputs as { processes: { running: boolean }[]; containerId: number };
    assert.equal(web.processes.length, 1);
    assert.ok(web.processes[0].running);
  });

  it("an app added moves nothing; the same file again changes nothing", async () => {
    writeGrid([app("aaa", 150, 0), ...baseApps()]);
    const p = await h.previewOk();
    assert.deepEqual(where(p), { aaa: "big", cache: "big", db: "big", web: "mid" });
    assert.deepEqual(changed(p), ["Container grid-1-aaa create", "GridPlacement grid-1-placement update"]);
    await h.upOk();
    assert.equal(nodes.big.containerCount(), 3);
    const again = await h.previewOk();
    assert.deepEqual(changed(again), []);
  });

  it("an app that fits nowhere fails the preview with one message: the app, its needs, each node's free capacity", async () => {
    writeGrid([app("aaa", 150, 0), ...baseApps(), app("huge", 500, 1)]);
    const p = await h.preview();
    assert.ok(p.failed);
    const text = p.errors.join("\n");
    assert.match(
      text,
      /app huge fits on no node: it needs 500 MiB, 1 CPU; big: 100 MiB \/ 1 CPU free, 100 MiB free; mid: 100 MiB \/ 1 CPU free, 100 MiB free; small: 200 MiB \/ 1 CPU free, 200 MiB free\. Fix:/,
    );
    assert.equal((text.match(/app huge/g) ?? []).length, 1, text);
    writeGrid([app("aaa", 150, 0), ...baseApps()]);
  });

  it("a service killed inside its container is restarted by refresh, and reported", async () => {
    const before = containerOf("web")!.outputs as { processes: { jobId: string }[]; containerId: number };
    const kill = await clients.mid.corex.dispatchAndWait(before.containerId, {
      command: "core.kill",
      arguments: { id: before.processes[0].jobId },
    });
    assert.equal(kill.state, "SUCCESS", JSON.stringify(kill));
    await h.refreshOk();
    const after = containerOf("web")!.outputs as {
      processes: { jobId: string; running: boolean; restarts: number }[];
      events: string[];
    };
    assert.equal(after.processes[0].restarts, 1);
    assert.ok(after.processes[0].running);
    assert.notEqual(after.processes[0].jobId, before.processes[0].jobId);
    assert.match(
      after.events.join("\n"),
      /startCommands\[0\] \(\/bin\/sleep\) had ended: restarted \(1 of 2\)/,
    );
    const st = await clients.mid.corex.dispatchAndWait(before.containerId, {
      command: "process.state",
      arguments: { id: after.processes[0].jobId },
    });
    assert.equal(st.state, "SUCCESS", "the restarted service runs");
  });

  it("destroy removes every container", async () => {
    await h.destroyOk();
    for (const n of Object.values(nodes)) assert.equal(n.containerCount(), 0);
  });
});
