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
import * as net from "net";
import { Core0Client } from "../../providers/core0/client";
import { Harness, RunResult } from "../harness";
import { Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import { IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import { rootPlist } from "../core0/root-plist";
import { TelegramEmulator, startTelegramEmulator } from "../testbed/telegram";

const PASSWORD = "grid-pw-" + randomUUID();
const SIZES = {
  big: { memoryMb: 800, cpu: 2 },
  mid: { memoryMb: 400, cpu: 2 },
  small: { memoryMb: 350, cpu: 1 },
};
const BOT = "123456:grid-alerts-token";
const CHAT = "-1001234";

/**
 * A loopback TCP relay in front of a node's redis: closing it makes the node unreachable to the
 * grid while its containers live on (stopping an emulator would kill them), reopening brings it back.
 */
async function startRelay(target: number) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const open = async () => {
    server = net.createServer((inbound) => {
      const out = net.connect(target, "127.0.0.1");
      for (const s of [inbound, out]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => undefined);
      }
      inbound.pipe(out).pipe(inbound);
    });
    await new Promise<void>((r) => server!.listen(port, "127.0.0.1", () => r()));
    port = (server.address() as net.AddressInfo).port;
  };
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server!.close(() => r()));
  };
  await open();
  return { port: () => port, open, close };
}
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
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let telegram: TelegramEmulator;
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
        alerts: { telegramChatId: CHAT },
        health: { memory: { warn: 99, error: 100 } },
        nodes: (Object.keys(SIZES) as NodeName[]).map((n) => ({
          name: n,
          address: nodes[n].address,
          port: n === "mid" ? relay.port() : nodes[n].port,
          ...SIZES[n],
        })),
        apps,
      }),
    );
  const baseApps = () => [
    app("cache", 100, 0, { antiAffinity: ["web"] }),
    app("db", 250, 1),
    app("web", 300, 1, { failover: true }),
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
    relay = await startRelay(nodes.mid.port);
    telegram = await startTelegramEmulator();
    plist = await rootPlist(dir, ipfs.apiUrl, true, ["/bin/sh", "/bin/sleep"]);
    gridFile = path.join(dir, "grid.json");
    writeGrid(baseApps());
    h = new Harness({
      stack: "grid-1",
      stateFile: path.join(dir, "grid-1.json"),
      config: {
        "g8os:gridFile": gridFile,
        "g8os:gridRedisPassword": { secret: PASSWORD },
        "g8os:telegramBotToken": { secret: BOT },
        "g8os:telegramApiRoot": telegram.apiRoot,
      },
    });
  });
  after(async () => {
    await h?.close();
    for (const c of Object.values(clients)) await c.close();
    for (const n of Object.values(nodes)) await n.stop();
    await ipfs?.stop();
    await telegram?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("preview shows where each app goes and why, from the grid file's capacities", async () => {
    const p = await h.previewOk();
    assert.deepEqual(where(p), { cache: "big", db: "big", web: "mid" });
    const placement = p.outputs.placement as Record<string, { reason: string }>;
    assert.match(
      placement.web.reason,
      /most free: 400 MiB .*not big: 450 MiB \/ 1 CPU free, runs cache \(antiAffinity\)/,
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
    assert.deepEqual(changed(p), [
      "Container grid-1-aaa create",
      "GridJanitor grid-1-janitor update",
      "GridPlacement grid-1-placement update",
    ]);
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
      /app huge fits on no node: it needs 500 MiB, 1 CPU; big: 300 MiB \/ 1 CPU free, 300 MiB free; mid: 100 MiB \/ 1 CPU free, 100 MiB free; small: 350 MiB \/ 1 CPU free, 350 MiB free\. Fix:/,
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

  const monitor = () =>
    h.state().find((x) => /GridMonitor$/.test(x.type))!.outputs as {
      checks: Record<string, { state: string; detail: string }>;
      reports: { name: string; reachable: boolean; containers?: Record<string, { rss: number }> }[];
    };

  it("refresh monitors every node: reachable, CPU and memory load, per-container CPU/RSS; no alert while all is ok", async () => {
    await h.refreshOk();
    const m = monitor();
    for (const n of Object.keys(SIZES)) {
      assert.equal(m.checks[`${n}.redis`].state, "ok", n);
      assert.ok(["ok", "warn", "error"].includes(m.checks[`${n}.memory`].state));
      assert.equal(m.checks[`${n}.disk`].state, "unknown");
    }
    const big = m.reports.find((r) => r.name === "big")!;
    assert.equal(Object.keys(big.containers ?? {}).length, 3);
    assert.ok(Object.values(big.containers!).every((c) => c.rss > 0));
    assert.deepEqual(telegram.messages(BOT, CHAT), []);
  });

  it("a node made unreachable is reported by refresh; refresh goes on and only records the alert", async () => {
    await relay.close();
    await h.refreshOk();
    const m = monitor();
    assert.equal(m.checks["mid.redis"].state, "error");
    assert.match(m.checks["mid.redis"].detail, /not reachable: .*ECONNREFUSED/);
    const node = h.state().find((x) => /core0:Node$/.test(x.type) && x.urn.endsWith("grid-1-mid"))!;
    assert.equal((node.outputs as { reachable: boolean }).reachable, false);
    const pending = (h.state().find((x) => /GridMonitor$/.test(x.type))!.outputs as { pending: string[] })
      .pending;
    assert.match(pending.join("\n"), /mid\.redis: ok -> error/);
    assert.deepEqual(
      telegram.messages(BOT, CHAT),
      [],
      "refresh runs read twice (preview, refresh): it sends nothing",
    );
  });

  it("failover: up places the opted-in app on another fitting node, its old container waits; one alert is sent", async () => {
    const p = await h.previewOk();
    assert.equal(where(p).web, "small", JSON.stringify([p.outputs.placement, p.outputs.unreachable]));
    const placement = p.outputs.placement as Record<string, { reason: string }>;
    assert.match(placement.web.reason, /^failover: node mid did not answer/);
    const r = await h.upOk();
    assert.equal(where(r).web, "small");
    assert.equal(nodes.small.containerCount(), 1);
    assert.equal(nodes.mid.containerCount(), 1, "the old container is still on the silent node");
    const orphans = r.outputs.orphans as { app: string; node: string }[];
    assert.deepEqual(
      orphans.map((o) => `${o.app}@${o.node}`),
      ["web@mid"],
    );
    const sent = telegram.messages(BOT, CHAT);
    assert.equal(sent.length, 1, JSON.stringify(sent));
    assert.match(sent[0].text, /mid\.redis: ok -> error/);
    assert.equal(sent[0].disableNotification, false, "an error is sent with sound");
  });

  it("back again: the next up terminates the old container and moves nothing back; the recovery is alerted once", async () => {
    await relay.open();
    const r = await h.upOk();
    assert.equal(where(r).web, "small");
    assert.equal(nodes.mid.containerCount(), 0);
    assert.deepEqual(r.outputs.orphans, []);
    await h.refreshOk();
    assert.equal(monitor().checks["mid.redis"].state, "ok");
    await h.upOk();
    await h.refreshOk();
    await h.upOk();
    const sent = telegram.messages(BOT, CHAT);
    assert.equal(sent.length, 2, JSON.stringify(sent));
    assert.match(sent[1].text, /mid\.redis: error -> ok/);
  });

  it("destroy removes every container", async () => {
    await h.destroyOk();
    for (const n of Object.values(nodes)) assert.equal(n.containerCount(), 0);
  });
});
