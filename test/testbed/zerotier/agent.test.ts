/**
 * The node agent stand-in (zerotier-cli):
 * 1. locally, against an in-process API stand-in on loopback, with interfaces off: output formats,
 *    exit codes, identity on first start, status REQUESTING_CONFIGURATION -> ACCESS_DENIED -> OK;
 * 2. on a testbed host (root), over SSH with providers/zerotier/node.ts: join, authorise via the API,
 *    a real `zt...` interface with the assigned IP in the host's namespace, reachable from the root
 *    namespace over the g8t-zt0 bridge; deauthorisation takes it down.
 */
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pollUntil } from "../../../providers/shared/retry";
import { withSsh } from "../../../providers/shared/ssh";
import { ZerotierClient } from "../../../providers/zerotier/client";
import {
  parseInfo,
  waitForZerotierAddress,
  zerotierInterfaceName,
  zerotierJoin,
  zerotierLeave,
  zerotierNetworkStatus,
  zerotierNodeInfo,
} from "../../../providers/zerotier/node";
import { useTestbed } from "../index";
import { requireZerotierStandIn } from "./service";
import { startZerotierStandIn, type ZerotierStandIn } from "./standin";

const CLI = path.join(__dirname, "zerotier-cli.js");

/** In the loopback test's pool 10.147.20.50-60, with the /24 of its route. */
function inPool(cidr: string | undefined): boolean {
  const m = /^10\.147\.20\.(\d+)\/24$/.exec(cidr ?? "");
  return !!m && Number(m[1]) >= 50 && Number(m[1]) <= 60;
}
const TOKEN = "agent-test-token-31f0aa";

function cli(home: string, ...args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ZT_HOME: home }, timeout: 20_000 },
      (err, stdout) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout) });
      },
    );
  });
}

async function statusOf(home: string, nwid: string): Promise<string> {
  const r = await cli(home, "get", nwid, "status");
  return r.stdout.trim();
}

function stopAgent(home: string): void {
  const pidFile = path.join(home, "agent.pid");
  if (!fs.existsSync(pidFile)) return;
  try {
    process.kill(Number(fs.readFileSync(pidFile, "utf8")), "SIGTERM");
  } catch {
    // already gone
  }
}

describe("ZeroTier node agent stand-in (loopback, no interfaces)", () => {
  let zt: ZerotierStandIn;
  let home: string;
  let client: ZerotierClient;
  before(async () => {
    zt = await startZerotierStandIn({ token: TOKEN });
    client = new ZerotierClient({ backend: "controller", apiUrl: zt.url, token: TOKEN });
    home = fs.mkdtempSync(path.join(os.tmpdir(), "zt-home-"));
  });
  after(async () => {
    stopAgent(home);
    await zt.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it("fails like the real cli when the service is not installed", async () => {
    const r = await cli(home, "info");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^Error connecting to the ZeroTier service/);
  });

  it("generates an identity on first start; info, -j info; bad network id exits 2", async () => {
    fs.writeFileSync(
      path.join(home, "g8os-standin.json"),
      JSON.stringify({ controllerUrl: zt.url, manageInterfaces: false }),
    );
    const r = await cli(home, "info");
    assert.equal(r.code, 0);
    const info = parseInfo(r.stdout);
    assert.ok(info, r.stdout);
    assert.match(r.stdout, /^200 info [0-9a-f]{10} \d+\.\d+\.\d+ (ONLINE|OFFLINE)\n$/);
    assert.equal(fs.readFileSync(path.join(home, "identity.public"), "utf8").split(":")[0], info.nodeId);
    assert.equal(fs.statSync(path.join(home, "identity.secret")).mode & 0o777, 0o600);
    const j = JSON.parse((await cli(home, "-j", "info")).stdout) as { address: string };
    assert.equal(j.address, info.nodeId);
    assert.equal((await cli(home, "info")).stdout.split(" ")[2], info.nodeId, "the identity is kept");
    const bad = await cli(home, "join", "12345");
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /invalid network id/);
  });

  it("REQUESTING_CONFIGURATION while the controller is unreachable", async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "zt-home-"));
    try {
      fs.writeFileSync(
        path.join(other, "g8os-standin.json"),
        JSON.stringify({ controllerUrl: "http://127.0.0.1:1", manageInterfaces: false }),
      );
      assert.equal((await cli(other, "join", "8056c2e21c000001")).stdout, "200 join OK\n");
      assert.equal(await statusOf(other, "8056c2e21c000001"), "REQUESTING_CONFIGURATION");
      assert.match((await cli(other, "info")).stdout, / OFFLINE\n$/);
      assert.equal((await cli(other, "leave", "8056c2e21c000001")).stdout, "200 leave OK\n");
    } finally {
      stopAgent(other);
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it("join -> ACCESS_DENIED -> authorised -> OK with an IP; listnetworks formats; deauth; leave", async () => {
    const nodeId = parseInfo((await cli(home, "info")).stdout)!.nodeId;
    const net = await client.createNetwork({
      name: "agent-net",
      private: true,
      routes: [{ target: "10.147.20.0/24", via: null }],
      ipAssignmentPools: [{ start: "10.147.20.50", end: "10.147.20.60" }],
      v4AutoAssign: true,
      dns: { domain: "", servers: [] },
    });
    const join = await cli(home, "join", net.id);
    assert.equal(join.stdout, "200 join OK\n");
    const poll = (want: string) =>
      pollUntil(
        async () => {
          const s = await statusOf(home, net.id);
          return s === want ? s : { pending: s };
        },
        { timeoutMs: 15_000, intervalMs: 200, what: `status ${want}` },
      );
    await poll("ACCESS_DENIED");
    assert.equal(
      (await client.getMember(net.id, nodeId))?.authorized,
      false,
      "the request created the member",
    );

    await client.upsertMember(net.id, nodeId, { authorized: true });
    await poll("OK");
    const text = (await cli(home, "listnetworks")).stdout.split("\n");
    assert.equal(text[0], "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>");
    const fields = text[1].split(" ");
    assert.deepEqual(
      [fields[0], fields[1], fields[2], fields[3], fields[5], fields[6], fields[7]],
      ["200", "listnetworks", net.id, "agent-net", "OK", "PRIVATE", zerotierInterfaceName(net.id)],
    );
    // The controller picks the address from the node id (never assert an exact one): in the pool.
    const assigned = fields[8];
    assert.ok(inPool(assigned), `assigned ${assigned}`);
    assert.match(fields[4], /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const j = JSON.parse((await cli(home, "listnetworks", "-j")).stdout) as Record<string, unknown>[];
    assert.equal(j[0].portDeviceName, zerotierInterfaceName(net.id));
    assert.deepEqual(j[0].assignedAddresses, [assigned]);
    assert.equal((await cli(home, "get", net.id, "ip")).stdout, `${assigned.split("/")[0]}\n`);
    assert.match((await cli(home, "info")).stdout, / ONLINE\n$/);

    await client.upsertMember(net.id, nodeId, { authorized: false });
    await poll("ACCESS_DENIED");
    assert.deepEqual(JSON.parse((await cli(home, "listnetworks", "-j")).stdout)[0].assignedAddresses, []);

    assert.equal((await cli(home, "leave", net.id)).stdout, "200 leave OK\n");
    assert.equal((await cli(home, "listnetworks", "-j")).stdout.trim(), "[]");
    const nf = await cli(home, "get", net.id, "status");
    assert.equal(nf.code, 1);
    // With no network joined the agent exits by itself.
    await pollUntil(
      async () => (fs.existsSync(path.join(home, "agent.pid")) ? { pending: "agent running" } : true),
      {
        timeoutMs: 10_000,
        intervalMs: 200,
        what: "the agent to exit",
      },
    );
  });

  it("interface names follow LinuxEthernetTap's derivation", () => {
    const cliModule = require(CLI) as { deviceName: (n: string) => string };
    for (const nwid of ["8056c2e21c000001", "0123456789abcdef", "ffffffffffffffff"]) {
      const name = zerotierInterfaceName(nwid);
      assert.match(name, /^zt[a-z2-7]{8}$/);
      assert.equal(cliModule.deviceName(nwid), name, "agent and provider helper agree");
    }
    assert.notEqual(zerotierInterfaceName("8056c2e21c000001"), zerotierInterfaceName("8056c2e21c000002"));
  });
});

describe("ZeroTier node agent on a testbed host (root)", function () {
  const tb = useTestbed(this);

  it("join, authorise via the API -> OK with an IP on a real zt interface, reachable from the root namespace", async function () {
    this.timeout(180_000);
    const bed = tb();
    const info = requireZerotierStandIn(bed);
    const host = bed.hosts[bed.hosts.length - 1];
    const client = new ZerotierClient({ backend: "controller", apiUrl: info.url, token: info.token });
    // A slice of 10.214.0.0/24 unlikely to collide with other suites sharing the bridge.
    const base = 100 + Math.floor(Math.random() * 100);
    const net = await client.createNetwork({
      name: "testbed-agent",
      private: true,
      routes: [{ target: "10.214.0.0/24", via: null }],
      ipAssignmentPools: [{ start: `10.214.0.${base}`, end: `10.214.0.${base + 5}` }],
      v4AutoAssign: true,
      dns: { domain: "", servers: [] },
    });
    const target = {
      host: host.address,
      port: host.sshPort,
      privateKey: bed.bootstrapKey.privateKey,
      hostKeySha256: host.hostKeySha256,
    };
    try {
      await withSsh(target, { label: `TestHost "${host.name}"` }, async (s) => {
        const { nodeId } = await zerotierNodeInfo(s);
        await zerotierJoin(s, net.id);
        const first = await zerotierNetworkStatus(s, net.id);
        assert.ok(
          first && ["REQUESTING_CONFIGURATION", "ACCESS_DENIED"].includes(first.status),
          first?.status,
        );
        await pollUntil(
          async () => {
            const n = await zerotierNetworkStatus(s, net.id);
            return n?.status === "ACCESS_DENIED" ? true : { pending: String(n?.status) };
          },
          { timeoutMs: 20_000, intervalMs: 500, what: "ACCESS_DENIED before authorisation" },
        );

        await client.upsertMember(net.id, nodeId, { authorized: true });
        const got = await waitForZerotierAddress(s, net.id, { timeoutMs: 30_000, intervalMs: 500 });
        assert.equal(got.device, zerotierInterfaceName(net.id));
        // The controller picks the address from the node id: anywhere in the pool.
        const last = Number(got.address.split(".")[3]);
        assert.ok(got.address.startsWith("10.214.0.") && last >= base && last <= base + 5, got.address);

        const link = await bed.exec(host.name, `ip -o -4 addr show dev ${got.device}`);
        assert.equal(link.code, 0, link.stderr);
        assert.match(link.stdout, new RegExp(`inet ${got.address.replace(/\./g, "\\.")}/24`));
        // Reachability from the root namespace (10.214.0.254 on g8t-zt0) to the host's ZeroTier IP:
        // a TCP listener bound to that IP inside the host (ping is not installed everywhere).
        const listener = bed.exec(
          host.name,
          `timeout 20 node -e 'const s = require("net").createServer((c) => { c.end("zt-ok"); s.close(); }); s.listen(9999, "${got.address}")'`,
        );
        const reply = await pollUntil(
          () =>
            new Promise<string | undefined>((resolve) => {
              const c = require("net").connect({ host: got.address, port: 9999 }) as import("net").Socket;
              let data = "";
              c.setTimeout(2000, () => c.destroy());
              c.on("data", (d: Buffer) => (data += d.toString()));
              c.on("close", () => resolve(data || undefined));
              c.on("error", () => resolve(undefined));
            }),
          {
            timeoutMs: 15_000,
            intervalMs: 300,
            what: `TCP to ${got.address}:9999 over ${bed.ztBridge.name}`,
          },
        );
        assert.equal(reply, "zt-ok");
        // The listener closes after its one answer, or `timeout` ends it.
        await listener;

        await client.upsertMember(net.id, nodeId, { authorized: false });
        await pollUntil(
          async () => {
            const r = await bed.exec(host.name, `ip link show dev ${got.device}`);
            return r.code !== 0 ? true : { pending: "interface still up" };
          },
          { timeoutMs: 20_000, intervalMs: 500, what: "the interface to go after deauthorisation" },
        );
        assert.equal((await zerotierNetworkStatus(s, net.id))?.status, "ACCESS_DENIED");
        await zerotierLeave(s, net.id);
        assert.equal(await zerotierNetworkStatus(s, net.id), undefined);
      });
    } finally {
      await bed.exec(host.name, `zerotier-cli leave ${net.id}`);
      await client.deleteNetwork(net.id);
    }
  });
});
