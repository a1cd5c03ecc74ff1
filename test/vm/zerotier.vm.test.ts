/**
 * A build-node VM on ZeroTier, for real: a TCG guest on the libvirt testbed boots from its seed,
 * installs zerotier-one (the node-agent stand-in, see test/testbed/zerotier/guest.ts) and joins the
 * private network with the identity generated on the KVM host; the stack waits for SSH over
 * ZeroTier, closes everything else with ufw inside the guest, manages the key block and announces the
 * node on Telegram. Then: preview shows no change, destroy leaves nothing on the host or controller.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pollUntil } from "../../providers/shared/retry";
import { ZerotierClient } from "../../providers/zerotier/client";
import { withSsh } from "../../providers/shared/ssh";
import { assertNoSecrets, canLogIn, sshPortOpen } from "../build-host/fixtures";
import { Harness, findResource } from "../harness";
import { newKeyPair, suffix, virshLocal, type KeyPair, removeTestDomain } from "../libvirt/helpers";
import { useTestbed } from "../testbed";
import { ensureLibvirtTestbed, VIRT_NETWORK, type LibvirtTestbed } from "../testbed/libvirt";
import { startTelegramEmulator, type TelegramEmulator } from "../testbed/telegram";
import { requireZerotierStandIn, type ZerotierStandInInfo } from "../testbed/zerotier/service";
import { defineGuestFirewallDrills } from "./guest-firewall-drills";
import { ZEROTIER_NODE_PROGRAM, zerotierNodeConfig } from "./programs/zerotier-node-config";

const TG_TOKEN = "777002:vm-zerotier-e2e-bot-token-q4";
const TG_CHAT = "-100778";
/** Outside the addresses the build-host suites use on the shared ZeroTier bridge. */
const VM_ZT_IP = "10.214.0.201";

describe("a build-node VM on ZeroTier (harness + libvirt testbed + ZeroTier stand-in)", function () {
  this.timeout(40 * 60_000);
  const tb = useTestbed(this, { hosts: 1 });
  let lv: LibvirtTestbed;
  let h: Harness;
  let tg: TelegramEmulator;
  let zt: ZerotierClient;
  let dir: string;
  let group: KeyPair;
  let stranger: KeyPair;
  let ztToken = "";
  let ztInfo: ZerotierStandInInfo;
  const domainName = `g8t-ztvm-${suffix()}`;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    lv = await ensureLibvirtTestbed();
    const info = requireZerotierStandIn(tb());
    ztToken = info.token;
    ztInfo = info;
    zt = new ZerotierClient({ backend: "controller", apiUrl: info.url, token: info.token, label: "test" });
    tg = await startTelegramEmulator();
    group = await newKeyPair("alice@gig");
    stranger = await newKeyPair("mallory@elsewhere");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-vm-zerotier-"));
    h = new Harness({
      program: ZEROTIER_NODE_PROGRAM,
      stack: "build-1",
      stateFile: path.join(dir, "state.json"),
      config: zerotierNodeConfig({
        libvirt: lv,
        zerotier: info,
        telegram: { apiRoot: tg.apiRoot, token: TG_TOKEN, chatId: TG_CHAT },
        domainName,
        groupKey: group.publicKey,
        address: VM_ZT_IP,
      }),
    });
  });

  after(async () => {
    if (h) {
      await h.destroy().catch(() => undefined);
      await h.close();
    }
    await tg?.stop();
    await removeTestDomain(domainName, lv?.poolDir);
  });

  it("up: the guest joins with its pre-authorised identity; SSH only over ZeroTier, only with the stack's keys; announced", async () => {
    const r = await h.upOk();
    assert.equal(r.outputs.zerotierIp, VM_ZT_IP);
    const networkId = String(r.outputs.networkId);

    // The member the stack authorised is the identity the guest runs (generated on the KVM host).
    const members = await zt.listMembers(networkId);
    assert.equal(members.length, 1, `one member: ${JSON.stringify(members)}`);
    const member = await zt.getMember(networkId, members[0]);
    assert.equal(member?.authorized, true);
    assert.deepEqual(member?.ipAssignments, [VM_ZT_IP]);

    const deployKey = String(findResource(h.stateDecrypted(), "deploy-key").outputs.privateKeyOpenssh);
    assert.ok(await canLogIn(VM_ZT_IP, deployKey), "the deploy key logs in over ZeroTier");
    assert.ok(await canLogIn(VM_ZT_IP, group.privateKey), "a group key logs in over ZeroTier");
    assert.ok(!(await canLogIn(VM_ZT_IP, stranger.privateKey)), "any other key is refused");

    // Inside the guest: its ZeroTier interface carries the fixed IP, ufw is on, SSH allowed only there.
    const inside = await withSsh({ host: VM_ZT_IP, privateKey: deployKey }, { label: "test" }, async (s) => ({
      info: (await s.exec("zerotier-cli info")).stdout,
      nets: (await s.exec("zerotier-cli listnetworks")).stdout,
      ufw: (await s.exec("ufw status verbose")).stdout,
      nodeId: (await s.exec("cut -d: -f1 /var/lib/zerotier-one/identity.public")).stdout.trim(),
    }));
    assert.match(inside.info, /^200 info [0-9a-f]{10} \S+ ONLINE/);
    assert.equal(inside.nodeId, members[0], "the guest runs the identity the stack authorised");
    assert.match(inside.nets, new RegExp(`${networkId} .* OK PRIVATE zt[a-z2-7]{8} ${VM_ZT_IP}/24`));
    assert.match(inside.ufw, /Status: active/);
    assert.match(inside.ufw, /Default: deny \(incoming\)/);
    assert.match(inside.ufw, /22\/tcp on zt[a-z2-7]{8}\s+ALLOW IN/);

    // Its libvirt network address (the lease) no longer answers SSH.
    const lease = (await virshLocal(["domifaddr", domainName, "--source", "lease"])).stdout;
    const libvirtIp = /(\d+\.\d+\.\d+\.\d+)\/\d+/.exec(lease)?.[1];
    assert.ok(libvirtIp, `a lease on ${VIRT_NETWORK.name}: ${lease}`);
    assert.ok(!(await sshPortOpen(libvirtIp)), `SSH on the libvirt address ${libvirtIp} is closed`);

    const msgs = tg.messages(TG_TOKEN, TG_CHAT);
    assert.equal(msgs.length, 1, JSON.stringify(msgs));
    assert.match(msgs[0].text, /Build env 1: build-node build-1-node is up, ZeroTier IP 10\.214\.0\.201/);

    assertNoSecrets("state", h.stateText(), {
      "deploy key": deployKey,
      "ZeroTier token": ztToken,
      "Telegram token": TG_TOKEN,
      "ZeroTier identity": String(findResource(h.stateDecrypted(), "zerotier-identity").outputs.identity),
    });
    assertNoSecrets("log", r.log, {
      "deploy key": deployKey,
      "ZeroTier token": ztToken,
      "Telegram token": TG_TOKEN,
    });
  });

  it("preview right after up: no changes", async () => {
    const p = await h.previewOk();
    const changed = p.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn}`);
    assert.deepEqual(changed, []);
  });

  it("in the guest: a hand-added ufw rule is drift (refresh reports it, preview shows it, up removes it)", async () => {
    const guest = <T>(fn: (s: import("../../providers/shared/ssh").SshSession) => Promise<T>) =>
      withSsh({ host: VM_ZT_IP, privateKey: group.privateKey }, { label: "test" }, fn);
    await guest((s) => s.exec("ufw allow 2222/tcp"));

    const refreshed = await h.refreshOk();
    const fw = findResource(h.state(), "build-1-node-firewall").outputs;
    assert.deepEqual(fw.foreignRules, [
      "2222/tcp  ALLOW IN  Anywhere",
      "2222/tcp (v6)  ALLOW IN  Anywhere (v6)",
    ]);
    assert.match(refreshed.log, /firewall drift: rules g8os did not make: 2222\/tcp/);
    const p = await h.previewOk();
    const changed = p.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn.split("::").pop()}`);
    assert.deepEqual(changed, ["update build-1-node-firewall"]);
    await h.upOk();
    assert.doesNotMatch((await guest((s) => s.exec("ufw status"))).stdout, /2222/, "up removed the rule");
  });

  defineGuestFirewallDrills(() => ({
    h,
    zt,
    ztInfo,
    ztIp: VM_ZT_IP,
    leaseIp: async () => {
      const lease = (await virshLocal(["domifaddr", domainName, "--source", "lease"])).stdout;
      const ip = /(\d+\.\d+\.\d+\.\d+)\/\d+/.exec(lease)?.[1];
      assert.ok(ip, `a lease on ${VIRT_NETWORK.name}: ${lease}`);
      return ip;
    },
    firewall: "build-1-node-firewall",
    member: "build-1-node-member",
  }));

  it("a memory change restarts the guest in place (same UUID); it comes back on ZeroTier by itself, still closed elsewhere", async () => {
    const before = String(findResource(h.state(), "build-1-node-domain").outputs.uuid);
    h.setConfig("g8os:memoryMiB", "640");
    const p = await h.previewOk();
    const changed = p.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn.split("::").pop()}`);
    assert.deepEqual(changed, ["update build-1-node-domain"]);
    await h.upOk();
    const domain = findResource(h.state(), "build-1-node-domain").outputs;
    assert.equal(domain.uuid, before, "same domain, re-defined");
    assert.equal(domain.memoryMiB, 640);
    // No cloud-init this time: zerotier-one.service and ufw's saved rules bring it back.
    const deployKey = String(findResource(h.stateDecrypted(), "deploy-key").outputs.privateKeyOpenssh);
    await pollUntil(async () => ((await canLogIn(VM_ZT_IP, deployKey)) ? true : { pending: "no SSH yet" }), {
      timeoutMs: 10 * 60_000,
      intervalMs: 5000,
      what: "SSH over ZeroTier after the restart",
    });
    const ufw = await withSsh({ host: VM_ZT_IP, privateKey: deployKey }, { label: "test" }, (s) =>
      s.exec("ufw status"),
    );
    assert.match(ufw.stdout, /Status: active/);
    const lease = (await virshLocal(["domifaddr", domainName, "--source", "lease"])).stdout;
    const libvirtIp = /(\d+\.\d+\.\d+\.\d+)\/\d+/.exec(lease)?.[1];
    if (libvirtIp) assert.ok(!(await sshPortOpen(libvirtIp)), "SSH on the libvirt address stays closed");
  });

  it("recycle on ZeroTier (up --replace <generation URN>): a new VM with a new host key, same identity and IP, locked down again; nothing else changes", async () => {
    const generationUrn = findResource(h.state(), "RandomId::build-1-node-generation").urn;
    const oldKey = String((await h.previewOk()).outputs.hostKeySha256);
    assert.match(oldKey, /^SHA256:/);
    const oldDisk = String(findResource(h.state(), "LibvirtVolume::build-1-node-disk").id);
    const memberBefore = String(findResource(h.state(), "build-1-node-member").outputs.memberId);
    const r = await h.upOk({ replace: [generationUrn] });
    const changed = r.steps.filter((s) => s.op !== "same");
    for (const s of changed) assert.ok(s.urn.includes("build-1-node"), `replace touched ${s.op} ${s.urn}`);
    const ops = Object.fromEntries(changed.map((s) => [s.urn.split("::").pop(), s.op]));
    assert.equal(ops["build-1-node-firewall"], "replace", JSON.stringify(ops));
    assert.equal(ops["build-1-node-member"], undefined, "same member (identity kept)");
    assert.equal(String(findResource(h.state(), "build-1-node-member").outputs.memberId), memberBefore);
    assert.notEqual(String(findResource(h.state(), "LibvirtVolume::build-1-node-disk").id), oldDisk);
    assert.ok(!fs.existsSync(oldDisk), "the old disk is gone");
    const newKey = String(r.outputs.hostKeySha256);
    assert.notEqual(newKey, oldKey, "a recycled VM has a new host key");

    const deployKey = String(findResource(h.stateDecrypted(), "deploy-key").outputs.privateKeyOpenssh);
    const ufw = await withSsh(
      { host: VM_ZT_IP, privateKey: deployKey, hostKeySha256: newKey },
      { label: "test" },
      (s) => s.exec("ufw status"),
    );
    assert.match(ufw.stdout, /Status: active/);
    assert.ok(await canLogIn(VM_ZT_IP, group.privateKey), "the group key works on the new VM");
    const msgs = tg.messages(TG_TOKEN, TG_CHAT);
    assert.equal(msgs.length, 2, "the new VM is announced");
  });

  it("destroy: no domain, disk or seed on the host, no member on the controller", async () => {
    const networkId = String(findResource(h.state(), "build-1-network").outputs.networkId);
    await h.destroyOk();
    assert.equal((await virshLocal(["dominfo", domainName])).code === 0, false, "domain gone");
    const left = fs.readdirSync(lv.poolDir).filter((f) => f.startsWith(domainName));
    assert.deepEqual(left, [], "no disk or seed left");
    assert.equal(await zt.getNetwork(networkId).catch(() => undefined), undefined, "network gone");
  });
});
