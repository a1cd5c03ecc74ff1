/**
 * KvmHost + LibvirtVolume + CloudInitSeed + LibvirtDomain through the engine harness (real
 * dynamic-provider host over gRPC, JSON state), against the libvirt testbed. The domain starts a
 * real TCG guest; to keep the run short this program does not wait for its lease
 * (addressSource "none": real.test.ts proves lease + SSH). An in-place memory change through the
 * harness is test/vm/zerotier.vm.test.ts's (with the guest coming back on ZeroTier), so it is not
 * repeated here.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Harness, type RunResult } from "../harness";
import { ensureLibvirtTestbed, type LibvirtTestbed, libvirtProgramConfig } from "../testbed/libvirt";
import { domainExists, newKeyPair, suffix, virshLocal } from "./helpers";

const PROGRAM = path.join(__dirname, "programs", "vm.ts");
const opsOf = (r: RunResult) => Object.fromEntries(r.steps.map((s) => [s.type.split(":").pop(), s.op]));

describe("libvirt through the engine harness", function () {
  this.timeout(20 * 60_000);
  let tb: LibvirtTestbed;
  let h: Harness;
  let dir: string;
  const vmName = `g8t-h-${suffix()}`;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    tb = await ensureLibvirtTestbed();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-libvirt-harness-"));
    const guestKey = await newKeyPair("harness-guest");
    h = new Harness({
      program: PROGRAM,
      stack: "libvirt-1",
      stateFile: path.join(dir, "state.json"),
      config: {
        ...libvirtProgramConfig(tb),
        "g8os:baseImageUrl": `file://${tb.image.disk}`,
        "g8os:baseImageSha256": tb.image.sha256,
        "g8os:vmName": vmName,
        "g8os:memoryMiB": "512",
        "g8os:guestPublicKey": guestKey.publicKey,
        "g8os:addressSource": "none",
      },
    });
  });

  after(async () => {
    if (h) {
      await h.destroy().catch(() => undefined);
      await h.close();
    }
    await virshLocal(["destroy", vmName]);
    await virshLocal(["undefine", "--nvram", vmName]);
    for (const f of [`${vmName}.qcow2`, `${vmName}-base.qcow2`, `${vmName}-seed.iso`])
      fs.rmSync(path.join(tb?.poolDir ?? "/nonexistent", f), { force: true });
  });

  it("up creates the host setup, volumes, seed and a running domain", async () => {
    const r = await h.up();
    assert.equal(r.failed, false, r.errors.join("\n"));
    const ops = opsOf(r);
    for (const t of ["KvmHostSetup", "LibvirtVolume", "CloudInitSeed", "LibvirtDomain"])
      assert.equal(ops[t], "create", t);
    assert.equal(r.outputs.domainType, "qemu");
    assert.ok(await domainExists(vmName));
    assert.match((await virshLocal(["domstate", vmName])).stdout, /running/);
    for (const f of ["diskPath", "basePath", "seedPath"]) assert.ok(fs.existsSync(r.outputs[f] as string), f);
    // Secrets stay encrypted in state: neither the SSH key nor the user-data in plaintext.
    const text = h.stateText();
    assert.ok(!text.includes(tb.connection.privateKey.split("\n")[1]), "private key not in plaintext state");
    assert.ok(!text.includes("ssh_authorized_keys"), "user-data not in plaintext state");
  });

  it("a preview with nothing changed shows every resource as same", async () => {
    const r = await h.preview();
    assert.equal(r.failed, false, r.errors.join("\n"));
    const notSame = r.steps.filter((s) => s.op !== "same");
    assert.deepEqual(
      notSame.map((s) => `${s.type} ${s.op} ${s.diffs}`),
      [],
    );
  });

  it("refresh after the domain was destroyed outside drops it; the next up re-creates it", async () => {
    await virshLocal(["destroy", vmName]);
    await virshLocal(["undefine", "--nvram", vmName]);
    const r = await h.refresh();
    assert.equal(r.failed, false, r.errors.join("\n"));
    assert.equal(r.steps.find((s) => s.type.endsWith("LibvirtDomain"))?.op, "refresh-delete");
    const again = await h.up();
    assert.equal(again.failed, false, again.errors.join("\n"));
    assert.equal(opsOf(again).LibvirtDomain, "create");
    assert.ok(await domainExists(vmName));
  });

  it("destroy leaves no domain, volume or seed on the host, and keeps the adopted network and pool", async () => {
    const paths = Object.fromEntries(
      h
        .state()
        .filter((r) => r.type.endsWith("LibvirtVolume") || r.type.endsWith("CloudInitSeed"))
        .map((r) => [r.urn, r.id]),
    );
    assert.equal(Object.keys(paths).length, 3);
    const r = await h.destroy();
    assert.equal(r.failed, false, r.errors.join("\n"));
    assert.ok(!(await domainExists(vmName)));
    for (const p of Object.values(paths)) assert.ok(!fs.existsSync(p), `${p} removed`);
    const left = fs.readdirSync(tb.poolDir).filter((f) => f.startsWith(vmName));
    assert.deepEqual(left, []);
    assert.match((await virshLocal(["net-info", tb.network.name])).stdout, /Active:\s+yes/);
    assert.ok(fs.existsSync(tb.poolDir));
  });
});
