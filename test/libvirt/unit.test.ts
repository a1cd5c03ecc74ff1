/**
 * Fast tests of the libvirt layer's pure parts: XML generation, virsh output parsers, KVM
 * detection decision, check failures and diff decisions. No host needed.
 */
import { strict as assert } from "assert";
import {
  decideDomainType,
  domainXml,
  parseDomainXml,
  parseDomifaddr,
  parseDominfo,
  parseDomstate,
  randomMac,
  xmlEscape,
  xmlUnescape,
  type DomainSpec,
} from "../../providers/libvirt/client";
import { domainProvider } from "../../providers/libvirt/domain";
import { networkXml } from "../../providers/libvirt/host-setup";
import { seedContentHash, seedMetaData, seedProvider } from "../../providers/libvirt/seed";
import { volumeProvider } from "../../providers/libvirt/volume";
import { UNKNOWN } from "../../providers/shared/dynamic";
import { cpioArchive } from "../testbed/libvirt/core0-fixture";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const conn = { host: "10.0.0.2", port: 22, user: "root", privateKey: KEY };

function spec(over: Partial<DomainSpec> = {}): DomainSpec {
  return {
    name: "vm1",
    uuid: "6f1c2a1e-1111-4222-8333-444455556666",
    domainType: "qemu",
    memoryMiB: 512,
    vcpus: 2,
    disks: [{ path: "/var/lib/g8os/images/vm1.qcow2" }],
    nics: [{ network: "g8os", mac: "52:54:00:aa:bb:cc" }],
    ...over,
  };
}

describe("libvirt client: domain XML", () => {
  it("escapes every value, names included", () => {
    const xml = domainXml(
      spec({ name: `a<b>&'"`, cmdline: `x="1" & y<2`, kernel: "/k", disks: [{ path: "/p/o'q&.qcow2" }] }),
    );
    assert.ok(xml.includes("<name>a&lt;b&gt;&amp;&apos;&quot;</name>"));
    assert.ok(xml.includes("<cmdline>x=&quot;1&quot; &amp; y&lt;2</cmdline>"));
    assert.ok(xml.includes("<source file='/p/o&apos;q&amp;.qcow2'/>"));
    assert.ok(!/<name>[^<]*[<>'"][^<]*<\/name>/.test(xml));
    assert.equal(xmlUnescape(xmlEscape(`a<b>&'"`)), `a<b>&'"`);
  });

  it("uses file disks on virtio, the seed as a read-only SATA cdrom, and boot devices", () => {
    const xml = domainXml(
      spec({ seedIso: "/pool/seed.iso", disks: [{ path: "/a.qcow2" }, { path: "/b.img", format: "raw" }] }),
    );
    assert.match(
      xml,
      /<disk type='file' device='disk'>\s*<driver name='qemu' type='qcow2'\/>\s*<source file='\/a.qcow2'\/>\s*<target dev='vda' bus='virtio'\/>/,
    );
    assert.match(
      xml,
      /<driver name='qemu' type='raw'\/>\s*<source file='\/b.img'\/>\s*<target dev='vdb' bus='virtio'\/>/,
    );
    assert.match(
      xml,
      /<disk type='file' device='cdrom'>[\s\S]*<source file='\/pool\/seed.iso'\/>\s*<target dev='sda' bus='sata'\/>\s*<readonly\/>/,
    );
    assert.ok(!/type='volume'/.test(xml));
    assert.match(xml, /<boot dev='hd'\/>\s*<boot dev='cdrom'\/>/);
    assert.ok(!/<boot order=/.test(xml), "no per-device boot order mixed in");
    assert.match(xml, /<domain type='qemu'>/);
    assert.ok(!xml.includes("host-model"), "TCG uses the default CPU model");
    assert.match(domainXml(spec({ domainType: "kvm" })), /<cpu mode='host-model'\/>/);
  });

  it("direct boot puts kernel, initrd and cmdline in <os> and no boot devices", () => {
    const xml = domainXml(
      spec({
        kernel: "/k/vmlinuz",
        initrd: "/k/initrd",
        cmdline: "console=ttyS0 zerotier=8056c2e21c000001",
        disks: [],
      }),
    );
    assert.match(
      xml,
      /<os>\s*<type arch='x86_64' machine='q35'>hvm<\/type>\s*<kernel>\/k\/vmlinuz<\/kernel>\s*<initrd>\/k\/initrd<\/initrd>\s*<cmdline>console=ttyS0 zerotier=8056c2e21c000001<\/cmdline>\s*<\/os>/,
    );
    assert.ok(!xml.includes("<boot dev"));
  });

  it("NICs: network or bridge with the given MAC; serial to a file when asked", () => {
    const xml = domainXml(
      spec({
        nics: [
          { network: "n1", mac: "52:54:00:00:00:01" },
          { bridge: "br0", mac: "52:54:00:00:00:02" },
        ],
        serialLogPath: "/pool/s.log",
      }),
    );
    assert.match(
      xml,
      /<interface type='network'>\s*<source network='n1'\/>\s*<mac address='52:54:00:00:00:01'\/>/,
    );
    assert.match(
      xml,
      /<interface type='bridge'>\s*<source bridge='br0'\/>\s*<mac address='52:54:00:00:00:02'\/>/,
    );
    assert.match(xml, /<serial type='file'>\s*<source path='\/pool\/s.log'\/>/);
    assert.match(domainXml(spec()), /<serial type='pty'>/);
  });

  it("round-trips through parseDomainXml", () => {
    const facts = parseDomainXml(domainXml(spec({ seedIso: "/s.iso", kernel: "/k", cmdline: "a&b" })));
    assert.deepEqual(facts, {
      uuid: "6f1c2a1e-1111-4222-8333-444455556666",
      domainType: "qemu",
      memoryMiB: 512,
      vcpus: 2,
      diskPaths: ["/var/lib/g8os/images/vm1.qcow2"],
      cdromPaths: ["/s.iso"],
      macs: ["52:54:00:aa:bb:cc"],
      kernel: "/k",
      initrd: undefined,
      cmdline: "a&b",
    });
  });

  it("random MACs are in QEMU's locally administered range and differ", () => {
    const a = randomMac();
    assert.match(a, /^52:54:00(:[0-9a-f]{2}){3}$/);
    assert.notEqual(a, randomMac());
  });
});

describe("libvirt client: virsh output parsers", () => {
  it("dominfo", () => {
    const info = parseDominfo(
      [
        "Id:             3",
        "Name:           g8t-vm",
        "UUID:           0b3e8f0a-8c59-4b7e-9d7e-1df7c1e7a001",
        "OS Type:        hvm",
        "State:          shut off",
        "CPU(s):         2",
        "Max memory:     655360 KiB",
        "Used memory:    655360 KiB",
        "Persistent:     yes",
        "Autostart:      enable",
      ].join("\n"),
    );
    assert.deepEqual(info, {
      name: "g8t-vm",
      uuid: "0b3e8f0a-8c59-4b7e-9d7e-1df7c1e7a001",
      state: "shut off",
      vcpus: 2,
      maxMemoryMiB: 640,
      persistent: true,
      autostart: true,
    });
  });

  it("domstate --reason", () => {
    assert.deepEqual(parseDomstate("running (booted)\n\n"), { state: "running", reason: "booted" });
    assert.deepEqual(parseDomstate("shut off (destroyed)"), { state: "shut off", reason: "destroyed" });
    assert.deepEqual(parseDomstate("paused"), { state: "paused", reason: "" });
  });

  it("domifaddr with lease and continuation lines", () => {
    const text = [
      " Name       MAC address          Protocol     Address",
      "-------------------------------------------------------------------------------",
      " vnet0      52:54:00:AA:bb:cc    ipv4         10.215.0.23/24",
      " -          -                    ipv6         fe80::1/64",
      " vnet1      52:54:00:00:00:02    ipv4         10.216.0.5/24",
      "                                 ipv4         10.216.0.6/24",
      "",
    ].join("\n");
    const got = parseDomifaddr(text);
    assert.deepEqual(got[0], {
      name: "vnet0",
      mac: "52:54:00:aa:bb:cc",
      protocol: "ipv4",
      address: "10.215.0.23",
      prefix: 24,
    });
    assert.equal(got[1].protocol, "ipv6");
    assert.deepEqual(got[3], {
      name: "vnet1",
      mac: "52:54:00:00:00:02",
      protocol: "ipv4",
      address: "10.216.0.6",
      prefix: 24,
    });
    assert.deepEqual(parseDomifaddr(""), []);
  });

  it("dumpxml memory in other units", () => {
    assert.equal(
      parseDomainXml("<domain type='kvm'><memory unit='KiB'>1048576</memory></domain>").memoryMiB,
      1024,
    );
    assert.equal(parseDomainXml("<domain type='kvm'><memory unit='GiB'>2</memory></domain>").memoryMiB, 2048);
    assert.equal(parseDomainXml("<domain type='kvm'><memory>524288</memory></domain>").memoryMiB, 512);
  });
});

describe("libvirt: KVM detection decision", () => {
  const ok = { devKvm: true, cpuVirt: true, nested: false, libvirtKvm: true };
  it("KVM only on bare metal with everything in place", () => {
    assert.equal(decideDomainType(ok).domainType, "kvm");
    assert.equal(decideDomainType({ ...ok, devKvm: false }).domainType, "qemu");
    assert.equal(decideDomainType({ ...ok, cpuVirt: false }).domainType, "qemu");
    assert.equal(decideDomainType({ ...ok, libvirtKvm: false }).domainType, "qemu");
    const nested = decideDomainType({ ...ok, nested: true });
    assert.equal(nested.domainType, "qemu");
    assert.match(nested.reason, /virtual machine.*set domainType 'kvm' to force/);
  });
});

describe("libvirt providers: check and diff", () => {
  const domainInputs = {
    ...conn,
    name: "vm1",
    memoryMiB: 512,
    vcpus: 1,
    disks: [{ path: "/p/vm1.qcow2" }],
    nics: [{ network: "g8os" }],
  };

  it("domain check fills defaults and accepts good inputs", async () => {
    const r = await domainProvider.check!({}, domainInputs);
    assert.deepEqual(r.failures, []);
    assert.equal(r.inputs.running, true);
    assert.equal(r.inputs.domainType, "auto");
    assert.equal(r.inputs.addressSource, "lease");
  });

  it("domain check names resource, field and fix", async () => {
    const r = await domainProvider.check!(
      {},
      {
        ...domainInputs,
        memoryMiB: 128,
        disks: [{ path: "relative.qcow2" }],
        nics: [{ network: "a", bridge: "b" }],
        initrd: "/i",
        domainType: "xen",
      },
    );
    const by = Object.fromEntries(r.failures!.map((f) => [f.property, f.reason]));
    assert.match(by.memoryMiB, /^LibvirtDomain "vm1": memoryMiB must be a whole number of MiB from 256/);
    assert.match(by.disks, /\[0\]\.path must be an absolute path/);
    assert.match(by.nics, /exactly one of network .* or bridge/);
    assert.match(by.kernel, /initrd and cmdline need kernel/);
    assert.match(by.domainType, /must be one of "auto", "kvm", "qemu"/);
  });

  it("domain check skips unknown values at preview", async () => {
    const r = await domainProvider.check!({}, { ...domainInputs, memoryMiB: UNKNOWN, host: UNKNOWN });
    assert.deepEqual(r.failures, []);
  });

  it("domain diff: memory/vcpus update in place, disks/kernel/nics replace, nothing = no changes", async () => {
    const olds = (await domainProvider.check!({}, domainInputs)).inputs;
    const same = await domainProvider.diff!("u", { ...olds, uuid: "u", ipAddress: "10.0.0.5" }, olds);
    assert.equal(same.changes, false);
    const mem = await domainProvider.diff!("u", olds, { ...olds, memoryMiB: 1024, vcpus: 2 });
    assert.deepEqual([mem.changes, mem.replaces], [true, []]);
    for (const f of ["disks", "kernel", "nics", "seedIso", "domainType", "host"]) {
      const news = {
        ...olds,
        [f]: f === "disks" ? [{ path: "/other" }] : f === "nics" ? [{ bridge: "br1" }] : "x",
      };
      const d = await domainProvider.diff!("u", olds, news);
      assert.deepEqual(d.replaces, [f], f);
      assert.equal(d.deleteBeforeReplace, true);
    }
    const key = await domainProvider.diff!("u", olds, { ...olds, privateKey: KEY + "x" });
    assert.deepEqual([key.changes, key.replaces], [true, []]);
    const unknown = await domainProvider.diff!("u", olds, { ...olds, memoryMiB: UNKNOWN });
    assert.equal(unknown.changes, true);
  });

  it("volume check: exactly one of sourceUrl/backingFile, sha256 required with a URL", async () => {
    const base = { ...conn, name: "v.qcow2", poolDir: "/pool" };
    const none = await volumeProvider.check!({}, base);
    assert.match(none.failures![0].reason, /set exactly one of sourceUrl .* or backingFile/);
    const noSum = await volumeProvider.check!({}, { ...base, sourceUrl: "https://example.invalid/x.img" });
    assert.match(
      noSum.failures!.find((f) => f.property === "sha256")!.reason,
      /never boot an unverified image/,
    );
    const badUrl = await volumeProvider.check!(
      {},
      { ...base, sourceUrl: "ftp://x/y", sha256: "a".repeat(64) },
    );
    assert.ok(badUrl.failures!.some((f) => f.property === "sourceUrl"));
    const ok = await volumeProvider.check!({}, { ...base, backingFile: "/pool/base.qcow2", size: "20G" });
    assert.deepEqual(ok.failures, []);
    const rel = await volumeProvider.check!({}, { ...base, poolDir: "pool/../x", backingFile: "/b" });
    assert.ok(rel.failures!.some((f) => f.property === "poolDir"));
  });

  it("seed: instance-id follows the content; diff updates in place", async () => {
    const h1 = seedContentHash("#cloud-config\n", "", "");
    const h2 = seedContentHash("#cloud-config\n#x\n", "", "");
    assert.notEqual(h1, h2);
    assert.notEqual(seedContentHash("ab", "c", ""), seedContentHash("a", "bc", ""), "no split collisions");
    assert.match(
      seedMetaData("vm1", "vm1", h1, "public-keys: []"),
      new RegExp(`^instance-id: iid-vm1-${h1.slice(0, 16)}\nlocal-hostname: vm1\npublic-keys: \\[\\]\n$`),
    );
    const olds = { ...conn, name: "s", poolDir: "/p", userData: "#cloud-config\n" };
    const d = await seedProvider.diff!("/p/s.iso", olds, { ...olds, userData: "#cloud-config\nx: 1\n" });
    assert.deepEqual([d.changes, d.replaces], [true, []]);
    const bad = await seedProvider.check!({}, { ...olds, userData: "users: []" });
    assert.match(bad.failures![0].reason, /CloudInitSeed "s": userData must be a cloud-init document/);
    assert.ok(!bad.failures![0].reason.includes("users: []"), "the secret value is not echoed");
  });
});

describe("libvirt: network XML and the core0 initramfs", () => {
  it("isolated network: no forward element, DHCP inside the subnet", () => {
    const xml = networkXml({ name: "g8t-virt", bridge: "g8t-virt0", cidr: "10.215.0.0/24", forward: "none" });
    assert.ok(!xml.includes("<forward"));
    assert.match(xml, /<ip address='10.215.0.1' prefix='24'>/);
    assert.match(xml, /<range start='10.215.0.10' end='10.215.0.254'\/>/);
    assert.match(
      networkXml({ name: "n", bridge: "b", cidr: "10.1.0.0/16", forward: "nat" }),
      /<forward mode='nat'\/>[\s\S]*end='10.1.255.254'/,
    );
  });

  it("cpio newc entries are 4-byte aligned and end with the trailer", () => {
    const a = cpioArchive([{ name: "init", mode: 0o100755, data: Buffer.from("abc") }]);
    assert.equal(a.subarray(0, 6).toString(), "070701");
    assert.equal(a.length % 4, 0);
    assert.ok(a.includes(Buffer.from("TRAILER!!!\0")));
    // header (110) + "init\0" (5) padded to 116, then 3 data bytes padded to 4.
    assert.equal(a.subarray(116, 119).toString(), "abc");
  });
});
