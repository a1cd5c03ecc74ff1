/**
 * Bad inputs against the real KVM host of the libvirt testbed (this machine over SSH on 127.0.0.1):
 * NICs on networks or bridges the host lacks, image URLs it cannot fetch, names another
 * environment already uses. Each must fail with an error naming resource, field and fix, and
 * leave nothing behind (and never touch the other environment's domain or files).
 *
 * Boots no guest (every case fails before or at `virsh start`) and needs no guest image, so it runs
 * in the default suite. Needs root (libvirtd, sshd).
 */
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { domainProvider } from "../../providers/libvirt/domain";
import { seedProvider } from "../../providers/libvirt/seed";
import { volumeProvider } from "../../providers/libvirt/volume";
import { ensureLibvirtHostTestbed, type LibvirtHostTestbed } from "../testbed/libvirt";
import { runLocal } from "../testbed/libvirt/local";
import { checkedCreate, domainExists, suffix, virshLocal, type Props } from "./helpers";

/** Asserts an error message carries every expected piece (plain substrings, shown on failure). */
function assertMentions(err: Error, ...parts: string[]): void {
  for (const p of parts)
    assert.ok(err.message.includes(p), `missing ${JSON.stringify(p)} in: ${err.message}`);
}

/** Files in the pool whose names start with `prefix` (the thing under test and any temp files). */
function poolFiles(tb: LibvirtHostTestbed, prefix: string): string[] {
  return fs.readdirSync(tb.poolDir).filter((f) => f.startsWith(prefix));
}

/** A loopback port nobody listens on: bound by us, then released. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * The provider as the dynamic-provider host runs it: closure-serialized, loaded back from text
 * (classes become functions, modules are inlined: error messages must survive that).
 */
async function serialized(p: pulumi.dynamic.ResourceProvider): Promise<pulumi.dynamic.ResourceProvider> {
  const sf = await pulumi.runtime.serializeFunction(() => p, { allowSecrets: true });
  const requireFromString = require("require-from-string") as (code: string) => {
    handler: () => pulumi.dynamic.ResourceProvider;
  };
  return requireFromString(sf.text).handler();
}

/** A minimal persistent domain (no disks, no NICs) as another environment would have it. */
function foreignDomainXml(name: string): string {
  return [
    "<domain type='qemu'>",
    `  <name>${name}</name>`,
    "  <memory unit='MiB'>64</memory>",
    "  <vcpu>1</vcpu>",
    "  <os><type arch='x86_64' machine='q35'>hvm</type></os>",
    "</domain>",
    "",
  ].join("\n");
}

describe("libvirt providers: bad inputs on the real KVM host", function () {
  this.timeout(5 * 60_000);
  let tb: LibvirtHostTestbed;
  const id = suffix();
  const cleanup = { domains: [] as string[], networks: [] as string[], files: [] as string[] };

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    tb = await ensureLibvirtHostTestbed();
  });

  after(async () => {
    for (const d of cleanup.domains) {
      await virshLocal(["destroy", d]);
      await virshLocal(["undefine", "--nvram", d]);
    }
    for (const n of cleanup.networks) {
      await virshLocal(["net-destroy", n]);
      await virshLocal(["net-undefine", n]);
    }
    for (const f of cleanup.files) fs.rmSync(f, { force: true });
  });

  /** Valid domain inputs that would boot nothing (disk file absent): only the field under test varies. */
  function domainInputs(name: string, over: Props = {}): Props {
    cleanup.domains.push(name);
    return {
      ...tb.connection,
      name,
      memoryMiB: 256,
      vcpus: 1,
      domainType: "qemu",
      disks: [{ path: `${tb.poolDir}/${name}-absent.qcow2` }],
      nics: [{ network: tb.network.name }],
      addressSource: "none",
      ...over,
    };
  }

  describe("unknown libvirt network or bridge", () => {
    it("a missing network: named with the networks that exist, nothing defined", async () => {
      const name = `g8t-badnet-${id}`;
      const missing = `g8t-nonet-${id}`;
      await assert.rejects(
        checkedCreate(domainProvider, domainInputs(name, { nics: [{ network: missing }] })),
        (err: Error) => {
          assertMentions(
            err,
            `LibvirtDomain "${name}"`,
            "nics[0].network",
            `"${missing}" does not exist`,
            tb.network.name,
            "nothing was defined",
            "Fix: ",
          );
          return true;
        },
      );
      assert.equal(await domainExists(name), false);
    });

    it("a missing bridge on the second NIC: names nics[1].bridge and the bridges there", async () => {
      const name = `g8t-badbr-${id}`;
      const missing = `g8tnobr${id}`;
      await assert.rejects(
        checkedCreate(
          domainProvider,
          domainInputs(name, { nics: [{ network: tb.network.name }, { bridge: missing }] }),
        ),
        (err: Error) => {
          assertMentions(err, "nics[1].bridge", `bridge "${missing}" does not exist`, tb.network.bridge);
          assert.ok(!err.message.includes("nics[0]"), err.message);
          return true;
        },
      );
      assert.equal(await domainExists(name), false);
    });

    it("an inactive network: says so and how to start it", async () => {
      const network = `g8t-idle-${id}`;
      const file = path.join(tb.poolDir, `${network}.xml`);
      fs.writeFileSync(file, `<network><name>${network}</name></network>\n`);
      cleanup.files.push(file);
      cleanup.networks.push(network);
      assert.equal((await virshLocal(["net-define", file])).code, 0);
      const name = `g8t-idlenet-${id}`;
      await assert.rejects(
        checkedCreate(domainProvider, domainInputs(name, { nics: [{ network }] })),
        (err: Error) => {
          assertMentions(err, "nics[0].network", `"${network}" exists`, "not active", `net-start ${network}`);
          return true;
        },
      );
      assert.equal(await domainExists(name), false);
    });

    it("a start that fails anyway (disk file absent) undefines the new domain", async () => {
      const name = `g8t-nodisk-${id}`;
      await assert.rejects(checkedCreate(domainProvider, domainInputs(name)), (err: Error) => {
        assertMentions(err, `LibvirtDomain "${name}"`, "start the new domain", `${name}-absent.qcow2`);
        assertMentions(err, "the domain was undefined again, nothing is left behind");
        // A plain error, not a partial create: the engine records nothing.
        assert.equal((err as { id?: string }).id, undefined);
        return true;
      });
      assert.equal(await domainExists(name), false);
    });
  });

  describe("image URL unreachable", () => {
    const blob = Buffer.from(`g8os test image ${id}\n`.repeat(1000));
    const blobSha = crypto.createHash("sha256").update(blob).digest("hex");
    let server: http.Server;
    let base: string;
    const volume = (name: string, sourceUrl: string): Props => ({
      ...tb.connection,
      name,
      poolDir: tb.poolDir,
      sourceUrl,
      sha256: blobSha,
    });

    before(async () => {
      server = http.createServer((req, res) => {
        if (req.url === "/good.img") res.writeHead(200).end(blob);
        else res.writeHead(404).end("not here\n");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    });

    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("connection refused: names sourceUrl, the URL and curl's verdict; nothing kept", async () => {
      const name = `g8t-refused-${id}.qcow2`;
      const url = `http://127.0.0.1:${await closedPort()}/x.img`;
      await assert.rejects(checkedCreate(volumeProvider, volume(name, url)), (err: Error) => {
        assertMentions(err, `LibvirtVolume "${name}"`, "sourceUrl", url, "curl exit 7", "Fix: ");
        return true;
      });
      assert.deepEqual(poolFiles(tb, name), []);
    });

    it("a file:// path that does not exist on the KVM host", async () => {
      const name = `g8t-nofile-${id}.qcow2`;
      const url = `file://${tb.poolDir}/g8t-nosuch-${id}.img`;
      await assert.rejects(checkedCreate(volumeProvider, volume(name, url)), (err: Error) => {
        assertMentions(err, "sourceUrl", url, "curl exit 37", "read on the KVM host");
        return true;
      });
      assert.deepEqual(poolFiles(tb, name), []);
    });

    it("HTTP 404, then the next create with a good URL succeeds", async () => {
      const name = `g8t-404-${id}.qcow2`;
      const url = `${base}/moved.img`;
      await assert.rejects(checkedCreate(volumeProvider, volume(name, url)), (err: Error) => {
        assertMentions(err, "sourceUrl", url, "HTTP 404", "nothing is published at that URL");
        return true;
      });
      assert.deepEqual(poolFiles(tb, name), []);
      const good = await checkedCreate(volumeProvider, volume(name, `${base}/good.img`));
      cleanup.files.push(good.id);
      assert.ok(fs.readFileSync(good.id).equals(blob), "the verified image is in place");
      assert.deepEqual(poolFiles(tb, name), [name], "no temp file beside it");
      await volumeProvider.delete!(good.id, good.outs);
      assert.ok(!fs.existsSync(good.id));
    });
  });

  describe("duplicate names across environments", () => {
    const foreign = `g8t-env2-node-${id}`;
    let foreignUuid: string;
    let foreignXml: string;

    before(async () => {
      // Another environment's VM, defined behind our back.
      const file = path.join(tb.poolDir, `${foreign}.xml`);
      fs.writeFileSync(file, foreignDomainXml(foreign));
      cleanup.files.push(file);
      cleanup.domains.push(foreign);
      assert.equal((await virshLocal(["define", file])).code, 0);
      foreignUuid = (await virshLocal(["domuuid", foreign])).stdout.trim();
      foreignXml = (await virshLocal(["dumpxml", "--inactive", foreign])).stdout;
    });

    async function assertForeignUntouched(): Promise<void> {
      assert.equal((await virshLocal(["domuuid", foreign])).stdout.trim(), foreignUuid);
      assert.equal((await virshLocal(["dumpxml", "--inactive", foreign])).stdout, foreignXml);
    }

    it("create refuses the name, naming the other domain's UUID and the fix", async () => {
      await assert.rejects(checkedCreate(domainProvider, domainInputs(foreign)), (err: Error) => {
        assertMentions(
          err,
          `LibvirtDomain "${foreign}"`,
          ": name: ",
          foreignUuid,
          "left untouched and nothing was defined",
          "Fix: choose another name",
          "domainName",
          "envNumber",
        );
        return true;
      });
      await assertForeignUntouched();
    });

    it("update of our vanished domain never redefines the other one under our UUID", async () => {
      // Our state says we own uuid `ours` named like the foreign domain; ours was deleted outside.
      const checked = await domainProvider.check!({}, domainInputs(foreign));
      const ours = crypto.randomUUID();
      const olds = {
        ...checked.inputs,
        uuid: ours,
        macs: ["52:54:00:00:00:01"],
        effectiveDomainType: "qemu",
      };
      await assert.rejects(domainProvider.update!(ours, olds, checked.inputs), (err: Error) => {
        assertMentions(err, ": name: ", foreignUuid, "left untouched");
        return true;
      });
      await assertForeignUntouched();
      assert.equal(await domainExists(ours), false);
    });

    it("delete of our (gone) domain by its UUID leaves the same-named domain alone", async () => {
      const checked = await domainProvider.check!({}, domainInputs(foreign));
      const ours = crypto.randomUUID();
      await domainProvider.delete!(ours, { ...checked.inputs, uuid: ours });
      await assertForeignUntouched();
    });

    it("a seed ISO that already exists and is not ours is never overwritten", async () => {
      const name = `g8t-env2-seed-${id}`;
      const file = `${tb.poolDir}/${name}.iso`;
      fs.writeFileSync(file, "environment 2's seed\n");
      cleanup.files.push(file);
      await assert.rejects(
        checkedCreate(seedProvider, {
          ...tb.connection,
          name,
          poolDir: tb.poolDir,
          userData: "#cloud-config\nusers: []\n",
        }),
        (err: Error) => {
          assertMentions(err, `CloudInitSeed "${name}"`, ": name: ", file, "not this resource's", "Fix: ");
          assert.ok(!err.message.includes("users: []"), "user-data is never echoed");
          return true;
        },
      );
      assert.equal(fs.readFileSync(file, "utf8"), "environment 2's seed\n");
      assert.deepEqual(poolFiles(tb, name), [`${name}.iso`], "no temp ISO left");
    });

    it("control: a seed where no file is gets created, updated in place and removed", async () => {
      const name = `g8t-own-seed-${id}`;
      const r = await checkedCreate(seedProvider, {
        ...tb.connection,
        name,
        poolDir: tb.poolDir,
        userData: "#cloud-config\n",
      });
      cleanup.files.push(r.id);
      assert.ok(fs.readFileSync(r.id).includes(Buffer.from(r.outs.instanceId as string)));
      const up = await seedProvider.update!(r.id, r.outs, { ...r.inputs, userData: "#cloud-config\n#x\n" });
      assert.ok(
        fs.readFileSync(r.id).includes(Buffer.from(up.outs!.instanceId as string)),
        "rebuilt in place",
      );
      assert.deepEqual(poolFiles(tb, name), [`${name}.iso`], "no temp ISO left");
      await seedProvider.delete!(r.id, up.outs!);
      assert.deepEqual(poolFiles(tb, name), []);
    });

    it("destroying the environment that downloaded a base image keeps it while another's disk uses it", async () => {
      const name = `g8t-shared-base-${id}.qcow2`;
      const blob = Buffer.from(`shared base ${id}\n`.repeat(512));
      const src = `${tb.poolDir}/g8t-src-${id}.img`;
      fs.writeFileSync(src, blob);
      cleanup.files.push(src);
      const base = await checkedCreate(volumeProvider, {
        ...tb.connection,
        name,
        poolDir: tb.poolDir,
        sourceUrl: `file://${src}`,
        sha256: crypto.createHash("sha256").update(blob).digest("hex"),
      });
      cleanup.files.push(base.id);
      // Environment 2's disk on the same base (it adopted the image).
      const disk = `${tb.poolDir}/g8t-env2-disk-${id}.qcow2`;
      cleanup.files.push(disk);
      await runLocal(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base.id, disk]);
      await volumeProvider.delete!(base.id, base.outs);
      assert.ok(fs.readFileSync(base.id).equals(blob), "still there for environment 2's disk");
      fs.rmSync(disk);
      await volumeProvider.delete!(base.id, base.outs);
      assert.ok(!fs.existsSync(base.id), "removed once nothing uses it");
    });

    it("a base image file with other content is refused and kept as it is", async () => {
      const name = `g8t-env2-base-${id}.qcow2`;
      const file = `${tb.poolDir}/${name}`;
      fs.writeFileSync(file, "environment 2's image\n");
      cleanup.files.push(file);
      await assert.rejects(
        checkedCreate(volumeProvider, {
          ...tb.connection,
          name,
          poolDir: tb.poolDir,
          sourceUrl: `file://${file}.elsewhere`,
          sha256: "a".repeat(64),
        }),
        (err: Error) => {
          assertMentions(err, `LibvirtVolume "${name}"`, ": name: ", "already exists", "Fix: ");
          return true;
        },
      );
      assert.equal(fs.readFileSync(file, "utf8"), "environment 2's image\n");
    });
  });
  describe("through the serialized providers (as the engine runs them)", () => {
    it("unknown network, unreachable URL and a foreign seed give the same clear errors", async () => {
      const name = `g8t-sernet-${id}`;
      await assert.rejects(
        checkedCreate(await serialized(domainProvider), domainInputs(name, { nics: [{ network: "nope" }] })),
        (err: Error) => {
          assertMentions(err, `LibvirtDomain "${name}": nics[0].network: `, '"nope" does not exist', "Fix: ");
          return true;
        },
      );
      assert.equal(await domainExists(name), false);

      const vol = `g8t-serurl-${id}.qcow2`;
      const url = `http://127.0.0.1:${await closedPort()}/x.img`;
      await assert.rejects(
        checkedCreate(await serialized(volumeProvider), {
          ...tb.connection,
          name: vol,
          poolDir: tb.poolDir,
          sourceUrl: url,
          sha256: "b".repeat(64),
        }),
        (err: Error) => {
          assertMentions(err, `LibvirtVolume "${vol}": sourceUrl: `, url, "curl exit 7", "Fix: ");
          return true;
        },
      );
      assert.deepEqual(poolFiles(tb, vol), []);

      const seed = `g8t-serseed-${id}`;
      const file = `${tb.poolDir}/${seed}.iso`;
      fs.writeFileSync(file, "someone else's seed\n");
      cleanup.files.push(file);
      await assert.rejects(
        checkedCreate(await serialized(seedProvider), {
          ...tb.connection,
          name: seed,
          poolDir: tb.poolDir,
          userData: "#cloud-config\n",
        }),
        (err: Error) => {
          assertMentions(err, `CloudInitSeed "${seed}": name: `, "not this resource's");
          return true;
        },
      );
      assert.equal(fs.readFileSync(file, "utf8"), "someone else's seed\n");
    });
  });
});
