/**
 * A core0 test node in a VM, for real: Core0Vm boots the testbed's core0 image
 * (test/testbed/libvirt/core0-image.ts, which meets docs/core0-image-contract.md) as a TCG guest
 * with direct kernel boot and `zerotier=<network id>`; the image reads the seed ISO the product
 * writes (redis password, ZeroTier identity), joins the private network through its node agent with
 * the identity generated on the KVM host, and starts the core0 v0.9.0 emulator as its node service
 * with its redis on the ZeroTier IP only. The stack then checks the node over redis there
 * (Core0Node). Then: preview shows no change, destroy leaves nothing on the host or controller.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Core0Client } from "../../providers/core0/client";
import { ZerotierClient } from "../../providers/zerotier/client";
import { assertNoSecrets } from "../build-host/fixtures";
import { Harness, findResource } from "../harness";
import { suffix, virshLocal, removeTestDomain } from "../libvirt/helpers";
import { useTestbed, ZT_BRIDGE } from "../testbed";
import { ensureLibvirtTestbed, VIRT_NETWORK, type LibvirtTestbed } from "../testbed/libvirt";
import { CORE0_IMAGE_READY, core0ImageKernelFlags, ensureCore0Image } from "../testbed/libvirt/core0-image";
import { requireZerotierStandIn } from "../testbed/zerotier/service";
import { libvirtGateway } from "./programs/zerotier-node-config";

const PROGRAM = path.join(__dirname, "programs", "core0-node.ts");
/** Outside the addresses the other suites use on the shared ZeroTier bridge. */
const NODE_ZT_IP = "10.214.0.211";

/** True when something accepts a TCP connection on host:port within 3 s. */
function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(3000, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

describe("a core0 test node VM on ZeroTier (harness + libvirt testbed + core0 image + ZeroTier stand-in)", function () {
  this.timeout(40 * 60_000);
  const tb = useTestbed(this, { hosts: 1 });
  let lv: LibvirtTestbed;
  let h: Harness;
  let zt: ZerotierClient;
  let dir: string;
  let ztToken = "";
  const domainName = `g8t-core0vm-${suffix()}`;
  const consoleLog = () => path.join(lv.poolDir, `${domainName}-console.log`);

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    lv = await ensureLibvirtTestbed();
    const image = await ensureCore0Image((s) => console.log(`      ${s}`));
    const info = requireZerotierStandIn(tb());
    ztToken = info.token;
    zt = new ZerotierClient({ backend: "controller", apiUrl: info.url, token: info.token, label: "test" });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-vm-core0-"));
    const {
      "g8os:kernel": _k,
      "g8os:initrd": _i,
      "g8os:cmdline": _c,
      ...kvm
    } = (await import("../testbed/libvirt")).libvirtProgramConfig(lv);
    h = new Harness({
      program: PROGRAM,
      stack: "build-1",
      stateFile: path.join(dir, "state.json"),
      config: {
        ...kvm,
        "g8os:imageUrl": `file://${lv.image.disk}`,
        "g8os:imageSha256": lv.image.sha256,
        "g8os:domainName": domainName,
        "g8os:core0Kernel": image.kernel,
        "g8os:core0Initrd": image.initrd,
        "g8os:core0KernelFlags": JSON.stringify(
          core0ImageKernelFlags({
            controllerUrl: info.url,
            controllerVia: libvirtGateway(VIRT_NETWORK.cidr),
          }),
        ),
        "g8os:zerotierApiUrl": info.url,
        "g8os:zerotierToken": { secret: info.token },
        "g8os:zerotierRoute": ZT_BRIDGE.cidr,
        "g8os:zerotierAddress": NODE_ZT_IP,
        "g8os:zerotierBridge": ZT_BRIDGE.name,
        "g8os:consoleLogPath": consoleLog(),
      },
    });
  });

  after(async () => {
    if (h) {
      await h.destroy().catch(() => undefined);
      await h.close();
    }
    await removeTestDomain(domainName, lv?.poolDir);
  });

  it("up: the node boots from the seed, joins with its pre-authorised identity, and answers redis only on its ZeroTier IP, only with the password", async () => {
    const r = await h.up();
    if (r.errors.length) {
      const tail = fs.existsSync(consoleLog())
        ? fs.readFileSync(consoleLog(), "utf8").slice(-3000)
        : "(no console log)";
      assert.fail(`up failed: ${r.errors.join("\n")}\n--- guest console (tail) ---\n${tail}`);
    }
    assert.equal(r.outputs.zerotierIp, NODE_ZT_IP);
    const networkId = String(r.outputs.networkId);
    assert.match(String(r.outputs.cmdline), new RegExp(`(^| )zerotier=${networkId}( |$)`));

    // The stack's own check ran against the booted node (Core0Node outputs from core.ping/info).
    const nodeRes = findResource(h.stateDecrypted(), "build-1-core0-1-node");
    assert.match(String(nodeRes.outputs.version), /\S/);
    assert.ok(Number(nodeRes.outputs.memoryBytes) > 0);

    // The member the stack authorised is the identity the node runs.
    const members = await zt.listMembers(networkId);
    assert.equal(members.length, 1, `one member: ${JSON.stringify(members)}`);
    const member = await zt.getMember(networkId, members[0]);
    assert.equal(member?.authorized, true);
    assert.deepEqual(member?.ipAssignments, [NODE_ZT_IP]);

    const password = String(findResource(h.stateDecrypted(), "redis-password").outputs.result);
    const c = new Core0Client({ host: NODE_ZT_IP, port: 6379, password, timeoutMs: 20_000 });
    try {
      assert.match(await c.ping(), /^PONG/);
      // The seed's meta-data names the host, but the contract lets an image ignore it (core0 v0.9
      // sets no hostname from it); the node answers info.os with its kernel's.
      assert.equal(typeof (await c.info.os()).hostname, "string");
    } finally {
      await c.close();
    }
    const wrong = new Core0Client({
      host: NODE_ZT_IP,
      port: 6379,
      password: "not-the-password",
      timeoutMs: 10_000,
    });
    await assert.rejects(() => wrong.ping(), /password|auth/i);
    await wrong.close();

    // Nothing listens on its libvirt (underlay) address.
    const lease = (await virshLocal(["domifaddr", domainName, "--source", "lease"])).stdout;
    const underlay = /(\d+\.\d+\.\d+\.\d+)\/\d+/.exec(lease)?.[1];
    assert.ok(underlay, `a lease on ${VIRT_NETWORK.name}: ${lease}`);
    assert.equal(await tcpOpen(underlay, 6379), false, `redis on the underlay address ${underlay} is closed`);

    // Secrets: never on the kernel command line or in the domain XML, never in state or the log.
    const xml = (await virshLocal(["dumpxml", domainName])).stdout;
    assert.ok(!xml.includes(password), "the redis password is not in the domain XML");
    const identity = String(findResource(h.stateDecrypted(), "zerotier-identity").outputs.identity);
    assert.ok(
      !xml.includes(identity.split(":")[3] ?? "<none>"),
      "the identity's private part is not in the domain XML",
    );
    assertNoSecrets("state", h.stateText(), {
      "redis password": password,
      "ZeroTier token": ztToken,
      "ZeroTier identity": identity,
    });
    assertNoSecrets("log", r.log, { "redis password": password, "ZeroTier token": ztToken });
    const serial = fs.readFileSync(consoleLog(), "utf8");
    assert.ok(serial.includes(CORE0_IMAGE_READY), "the image says it is ready on its console");
    assert.ok(!serial.includes(password), "the password never reaches the console");
  });

  it("preview right after up: no changes", async () => {
    const p = await h.previewOk();
    const changed = p.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn}`);
    assert.deepEqual(changed, []);
  });

  it("destroy: the domain, its seed and the member are gone", async () => {
    const networkId = String(findResource(h.stateDecrypted(), "build-1-network").outputs.networkId ?? "");
    await h.destroyOk();
    const list = (await virshLocal(["list", "--all", "--name"])).stdout;
    assert.ok(!list.split("\n").includes(domainName), `no domain ${domainName}: ${list}`);
    const left = fs.readdirSync(lv.poolDir).filter((f) => f.startsWith(domainName));
    assert.deepEqual(left, [], "no disk, seed or console log left");
    if (networkId) assert.deepEqual(await zt.listMembers(networkId).catch(() => []), []);
  });
});
