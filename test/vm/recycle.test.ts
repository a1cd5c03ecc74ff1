/**
 * Recycling the build node, through the engine harness, with a real VM on the libvirt testbed:
 * `destroy --target <UbuntuVm URN>` + `up`, and `up --replace <generation URN>`, recreate the node's
 * disk, seed and domain and touch nothing else (KvmHost setup, image, deploy key stay "same").
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Harness, findResource, type RunResult } from "../harness";
import { ensureLibvirtTestbed, type LibvirtTestbed, libvirtProgramConfig } from "../testbed/libvirt";
import { domainExists, newKeyPair, suffix, virshLocal, removeTestDomain } from "../libvirt/helpers";

const PROGRAM = path.join(__dirname, "programs", "build-node.ts");
const NODE_URN_PART = "g8os:vm:UbuntuVm";

/** URNs a run touched with anything but "same", printed so the README can quote real ones. */
const touched = (r: RunResult) => r.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn}`);

describe("recycling the build node (harness + libvirt testbed)", function () {
  this.timeout(20 * 60_000);
  let tb: LibvirtTestbed;
  let h: Harness;
  let dir: string;
  const domainName = `g8t-vm-${suffix()}`;
  let componentUrn = "";
  let generationUrn = "";

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    tb = await ensureLibvirtTestbed();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-vm-recycle-"));
    const group = await newKeyPair("vm-group");
    h = new Harness({
      program: PROGRAM,
      stack: "build-1",
      stateFile: path.join(dir, "state.json"),
      config: {
        ...libvirtProgramConfig(tb),
        "g8os:imageUrl": `file://${tb.image.disk}`,
        "g8os:imageSha256": tb.image.sha256,
        "g8os:domainName": domainName,
        "g8os:groupKey": group.publicKey,
      },
    });
  });

  after(async () => {
    if (h) {
      await h.destroy().catch(() => undefined);
      await h.close();
    }
    await removeTestDomain(domainName, tb?.poolDir);
  });

  it("up creates the KVM host setup, the image and the build node (disk, seed, running domain)", async () => {
    const r = await h.upOk();
    assert.match((await virshLocal(["domstate", domainName])).stdout, /running/);
    componentUrn = findResource(h.state(), `${NODE_URN_PART}::build-1-node`).urn;
    generationUrn = findResource(h.state(), "RandomId::build-1-node-generation").urn;
    console.log(`      component URN:  ${componentUrn}\n      generation URN: ${generationUrn}`);
    assert.match(String(r.outputs.hostKeySha256), /^SHA256:[A-Za-z0-9+/]{43}$/);
    // The seed (keys, host key) stays encrypted in state.
    assert.ok(!h.stateText().includes("ssh_authorized_keys"));
  });

  it("destroy --target <build node URN> removes only the build node; up recreates only it", async () => {
    const before = findResource(h.state(), "LibvirtDomain::build-1-node-domain").id;
    const d = await h.destroyOk({ target: [componentUrn], targetDependents: true });
    assert.ok(d.steps.length >= 5, touched(d).join("\n"));
    for (const s of d.steps) assert.ok(s.urn.includes(NODE_URN_PART), `destroy touched ${s.urn}`);
    assert.ok(!(await domainExists(domainName)));
    assert.ok(fs.existsSync(String(findResource(h.state(), "LibvirtVolume::guest-image").id)), "image kept");
    const r = await h.upOk();
    const changed = r.steps.filter((s) => s.op !== "same");
    assert.ok(changed.length >= 5, touched(r).join("\n"));
    for (const s of changed) {
      assert.equal(s.op, "create", `${s.urn}`);
      assert.ok(s.urn.includes(NODE_URN_PART), `up touched ${s.urn}`);
    }
    assert.notEqual(r.outputs.domainUuid, before);
    assert.match((await virshLocal(["domstate", domainName])).stdout, /running/);
  });

  it("up --replace <generation URN> replaces disk, seed, host key and domain, and nothing else", async () => {
    const before = h.state().find((s) => s.type.endsWith("LibvirtDomain"))!;
    const oldDisk = String(findResource(h.state(), "LibvirtVolume::build-1-node-disk").id);
    const r = await h.upOk({ replace: [generationUrn] });
    const changed = r.steps.filter((s) => s.op !== "same");
    for (const s of changed) assert.ok(s.urn.includes(NODE_URN_PART), `replace touched ${s.urn}`);
    const ops = Object.fromEntries(changed.map((s) => [s.urn.split("::").pop(), s.op]));
    for (const n of [
      "build-1-node-generation",
      "build-1-node-disk",
      "build-1-node-seed",
      "build-1-node-domain",
    ])
      assert.equal(ops[n], "replace", `${n}: ${touched(r).join("\n")}`);
    const after = h.state().find((s) => s.type.endsWith("LibvirtDomain"))!;
    assert.notEqual(after.id, before.id, "a new domain (new UUID)");
    assert.ok(!fs.existsSync(oldDisk), "the old disk is gone");
    assert.ok(fs.existsSync(String(findResource(h.state(), "LibvirtVolume::build-1-node-disk").id)));
    assert.match((await virshLocal(["domstate", domainName])).stdout, /running/);
  });
});
