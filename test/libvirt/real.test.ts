/**
 * Real TCG guests on the libvirt testbed (this machine as the KVM host, reached over SSH on
 * 127.0.0.1). Drives the providers the way the engine does: check, then create/update/read/delete.
 * Needs root (libvirtd, sshd, debootstrap on first run). The first run builds the guest image
 * (about 10 minutes); later runs reuse it.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { domainProvider } from "../../providers/libvirt/domain";
import { seedProvider } from "../../providers/libvirt/seed";
import { volumeProvider } from "../../providers/libvirt/volume";
import { pollUntil } from "../../providers/shared/retry";
import { withSsh } from "../../providers/shared/ssh";
import { CORE0_FIXTURE_MARKER } from "../testbed/libvirt/core0-fixture";
import { ensureLibvirtTestbed, type LibvirtTestbed } from "../testbed/libvirt";
import {
  checkedCreate,
  checkedUpdate,
  domainExists,
  newKeyPair,
  suffix,
  virshLocal,
  type KeyPair,
  type Props,
} from "./helpers";

function guestUserData(publicKey: string): string {
  return [
    "#cloud-config",
    "users:",
    "  - name: tester",
    "    shell: /bin/bash",
    "    sudo: ALL=(ALL) NOPASSWD:ALL",
    "    ssh_authorized_keys:",
    `      - ${publicKey}`,
    "ssh_pwauth: false",
    "",
  ].join("\n");
}

/** Logs in as `tester` and returns `id -un`; polls while the guest is still booting. */
async function sshGuest(address: string, key: KeyPair, timeoutMs: number): Promise<string> {
  return pollUntil(
    async () => {
      try {
        return await withSsh(
          { host: address, user: "tester", privateKey: key.privateKey },
          { label: "guest", attempts: 1 },
          async (s) => (await s.exec("id -un")).stdout.trim(),
        );
      } catch (err) {
        return { pending: (err as Error).message };
      }
    },
    { timeoutMs, intervalMs: 3000, what: `SSH login as tester@${address}` },
  );
}

describe("libvirt providers with real TCG guests", function () {
  this.timeout(40 * 60_000);
  let tb: LibvirtTestbed;
  const id = suffix();
  const created: { domains: string[]; files: string[] } = { domains: [], files: [] };

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    tb = await ensureLibvirtTestbed();
  });

  after(async () => {
    // Leave nothing behind even when a test failed half-way.
    for (const d of created.domains) {
      await virshLocal(["destroy", d]);
      await virshLocal(["undefine", "--nvram", d]);
    }
    for (const f of created.files) fs.rmSync(f, { force: true });
  });

  describe("LibvirtVolume", () => {
    it("fetches a base image from a file:// URL with the right sha256", async () => {
      const name = `g8t-vol-${id}.qcow2`;
      const r = await checkedCreate(volumeProvider, {
        ...tb.connection,
        name,
        poolDir: tb.poolDir,
        sourceUrl: `file://${tb.image.disk}`,
        sha256: tb.image.sha256,
      });
      created.files.push(r.id);
      assert.equal(r.id, `${tb.poolDir}/${name}`);
      assert.equal(r.outs.adopted, false);
      assert.ok(fs.existsSync(r.id));
      const read = await volumeProvider.read!(r.id, r.outs);
      assert.equal(read.id, r.id);
      await volumeProvider.delete!(r.id, r.outs);
      assert.ok(!fs.existsSync(r.id), "delete removes the file");
      const gone = await volumeProvider.read!(r.id, r.outs);
      assert.ok(!gone.id, "read notices the deletion");
    });

    it("rejects a wrong sha256 naming URL and both digests, and keeps nothing", async () => {
      const name = `g8t-bad-${id}.qcow2`;
      const wrong = "0".repeat(64);
      const url = `file://${tb.image.disk}`;
      await assert.rejects(
        checkedCreate(volumeProvider, {
          ...tb.connection,
          name,
          poolDir: tb.poolDir,
          sourceUrl: url,
          sha256: wrong,
        }),
        (err: Error) => {
          assert.match(err.message, /LibvirtVolume "g8t-bad-/);
          assert.ok(err.message.includes(url), err.message);
          assert.ok(err.message.includes(wrong), err.message);
          assert.ok(err.message.includes(tb.image.sha256), err.message);
          return true;
        },
      );
      const left = fs.readdirSync(tb.poolDir).filter((f) => f.startsWith(`g8t-bad-${id}`));
      assert.deepEqual(left, [], "no file or temp file left in the pool");
    });

    it("refuses to overwrite an existing file with an overlay", async () => {
      const path = `${tb.poolDir}/g8t-exists-${id}.qcow2`;
      fs.writeFileSync(path, "not an image");
      created.files.push(path);
      await assert.rejects(
        checkedCreate(volumeProvider, {
          ...tb.connection,
          name: `g8t-exists-${id}.qcow2`,
          poolDir: tb.poolDir,
          backingFile: tb.image.disk,
        }),
        /already exists on the KVM host and would be overwritten/,
      );
      assert.equal(fs.readFileSync(path, "utf8"), "not an image");
    });
  });

  describe("CloudInitSeed", () => {
    it("builds a NoCloud ISO whose instance-id follows the content", async () => {
      const key = await newKeyPair("seed-test");
      const r = await checkedCreate(seedProvider, {
        ...tb.connection,
        name: `g8t-seed-${id}`,
        poolDir: tb.poolDir,
        userData: guestUserData(key.publicKey),
      });
      created.files.push(r.id);
      assert.equal(r.id, `${tb.poolDir}/g8t-seed-${id}.iso`);
      const iso = fs.readFileSync(r.id);
      assert.ok(
        iso.includes(Buffer.from("CIDATA")) || iso.includes(Buffer.from("cidata")),
        "volume id cidata",
      );
      assert.ok(iso.includes(Buffer.from(r.outs.instanceId as string)), "meta-data carries the instance-id");
      const before = r.outs.contentHash;
      const up = await checkedUpdate(seedProvider, r.id, r.outs, {
        ...r.inputs,
        userData: r.inputs.userData + "# changed\n",
      });
      assert.equal(up.diff.changes, true);
      assert.deepEqual(up.diff.replaces, []);
      assert.notEqual(up.outs.contentHash, before);
      assert.ok(
        fs.readFileSync(r.id).includes(Buffer.from(up.outs.instanceId as string)),
        "rebuilt in place",
      );
      await seedProvider.delete!(r.id, up.outs);
      assert.ok(!fs.existsSync(r.id));
    });
  });

  describe("LibvirtDomain with the debootstrapped guest", () => {
    let key: KeyPair;
    let other: KeyPair;
    let base: Props, overlay: Props, seed: Props;
    let dom: { id: string; outs: Props; inputs: Props };

    before(async () => {
      key = await newKeyPair("guest-key");
      other = await newKeyPair("other-key");
      base = await checkedCreate(volumeProvider, {
        ...tb.connection,
        name: `g8t-base-${id}.qcow2`,
        poolDir: tb.poolDir,
        sourceUrl: `file://${tb.image.disk}`,
        sha256: tb.image.sha256,
      });
      created.files.push(base.id);
      overlay = await checkedCreate(volumeProvider, {
        ...tb.connection,
        name: `g8t-vm-${id}.qcow2`,
        poolDir: tb.poolDir,
        backingFile: base.id,
        size: "4G",
      });
      created.files.push(overlay.id);
      seed = await checkedCreate(seedProvider, {
        ...tb.connection,
        name: `g8t-vm-${id}-seed`,
        poolDir: tb.poolDir,
        userData: guestUserData(key.publicKey),
      });
      created.files.push(seed.id);
    });

    it("boots, gets a lease on g8t-virt and accepts SSH with the injected key only", async () => {
      const name = `g8t-vm-${id}`;
      created.domains.push(name);
      dom = await checkedCreate(domainProvider, {
        ...tb.connection,
        name,
        memoryMiB: 512,
        vcpus: 1,
        domainType: "auto",
        disks: [{ path: overlay.id }],
        seedIso: seed.id,
        nics: [{ network: tb.network.name }],
        kernel: tb.image.kernel,
        initrd: tb.image.initrd,
        cmdline: tb.image.cmdline,
        addressTimeoutSeconds: 300,
      });
      assert.equal(dom.id, dom.outs.uuid);
      assert.equal(dom.outs.effectiveDomainType, "qemu", `detection: ${dom.outs.domainTypeReason}`);
      assert.match(dom.outs.ipAddress, /^10\.215\.0\.\d+$/);
      assert.equal(await sshGuest(dom.outs.ipAddress, key, 300_000), "tester");
      await assert.rejects(
        withSsh(
          { host: dom.outs.ipAddress, user: "tester", privateKey: other.privateKey },
          { label: "guest", attempts: 1 },
          (s) => s.exec("true"),
        ),
        /authentication|authori[sz]ed/i,
      );
    });

    it("a no-op diff reports no changes", async () => {
      const checked = await domainProvider.check!(dom.outs, dom.inputs);
      const d = await domainProvider.diff!(dom.id, dom.outs, checked.inputs);
      assert.equal(d.changes, false);
    });

    it("changes memory in place, keeping the UUID", async () => {
      const up = await checkedUpdate(domainProvider, dom.id, dom.outs, { ...dom.inputs, memoryMiB: 640 });
      assert.equal(up.diff.changes, true);
      assert.deepEqual(up.diff.replaces, []);
      assert.equal(up.outs.uuid, dom.id);
      const info = await virshLocal(["dominfo", dom.id]);
      assert.match(info.stdout, /Max memory:\s+655360 KiB/);
      assert.match(info.stdout, /State:\s+running/);
      assert.match(up.outs.ipAddress, /^10\.215\.0\.\d+$/);
      dom = { ...dom, outs: up.outs, inputs: up.inputs };
      const read = await domainProvider.read!(dom.id, dom.outs);
      assert.equal(read.props?.memoryMiB, 640);
    });

    it("refresh notices a domain destroyed outside", async () => {
      await virshLocal(["destroy", dom.id]);
      await virshLocal(["undefine", "--nvram", dom.id]);
      const read = await domainProvider.read!(dom.id, dom.outs);
      assert.ok(!read.id, "empty id: the engine drops it and the next up re-creates");
    });

    it("delete leaves no domain, volume or seed ISO on the host", async () => {
      // Re-create quickly without waiting for an address, then delete everything the way destroy would.
      const again = await checkedCreate(domainProvider, { ...dom.inputs, addressSource: "none" });
      assert.ok(await domainExists(again.id));
      await domainProvider.delete!(again.id, again.outs);
      await seedProvider.delete!(seed.id, seed.outs);
      await volumeProvider.delete!(overlay.id, overlay.outs);
      await volumeProvider.delete!(base.id, base.outs);
      assert.ok(!(await domainExists(again.id)));
      assert.ok(!(await domainExists(dom.inputs.name)));
      for (const f of [seed.id, overlay.id, base.id]) assert.ok(!fs.existsSync(f), `${f} removed`);
    });
  });

  describe("core0 direct-boot fixture", () => {
    it("boots kernel + initrd with zerotier=<nwid> on the cmdline, visible in the serial log", async () => {
      const name = `g8t-core0-${id}`;
      const serialLogPath = `${tb.poolDir}/${name}-serial.log`;
      created.domains.push(name);
      const nwid = "8056c2e21c000001";
      const r = await checkedCreate(domainProvider, {
        ...tb.connection,
        name,
        memoryMiB: 256,
        vcpus: 1,
        domainType: "qemu",
        kernel: tb.core0.kernel,
        initrd: tb.core0.initrd,
        cmdline: `console=ttyS0 zerotier=${nwid}`,
        serialLogPath,
        addressSource: "none",
      });
      const line = await pollUntil(
        async () => {
          const log = fs.existsSync(serialLogPath) ? fs.readFileSync(serialLogPath, "utf8") : "";
          const hit = log.split("\n").find((l) => l.includes(CORE0_FIXTURE_MARKER));
          return hit ?? { pending: `${log.length} bytes of serial log` };
        },
        { timeoutMs: 180_000, intervalMs: 2000, what: "the core0 fixture's cmdline on the serial console" },
      );
      assert.ok(line.includes(`zerotier=${nwid}`), line);
      await domainProvider.delete!(r.id, r.outs);
      assert.ok(!(await domainExists(name)));
      assert.ok(!fs.existsSync(serialLogPath), "the serial log it configured is removed");
    });
  });
});
