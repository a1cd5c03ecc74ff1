/**
 * The testbed's core0 guest image (test/testbed/libvirt/core0-image.ts, contract in
 * docs/core0-image-contract.md), checked WITHOUT booting anything (no libvirt, no qemu): built,
 * unpacked into a temp dir, inspected, and its /init's service-start part run in "no-boot" mode
 * inside a chroot of that dir on 127.0.0.1 with random ports, fed the seed user-data the product
 * writes (components/vm/cloud-init.ts core0SeedUserData). Needs root (chroot, mknod, debugfs) and
 * the guest image (built and cached on first use). The full boot under Core0Vm is a testbed check
 * not made here.
 */
import * as assert from "assert";
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { core0Cmdline, core0SeedUserData } from "../../components/vm/cloud-init";
import { skipOrFail } from "../skip-policy";
import {
  CORE0_IMAGE_FAILED,
  CORE0_IMAGE_MODULES,
  CORE0_IMAGE_READY,
  INIT_SH,
  core0ImageKernelFlags,
  ensureCore0Image,
  extractCpio,
  kernelRelease,
  moduleVermagic,
  readCpio,
  writeCpio,
  type Core0Image,
  type CpioEntry,
} from "./libvirt/core0-image";
import { runLocal } from "./libvirt/local";
import { freePort } from "./redis";

const IoRedis = require("ioredis") as typeof import("ioredis").default;

/** A running no-boot /init in the chroot: its console output so far and its exit. */
interface NoBoot {
  child: ChildProcess;
  output(): string;
  exited: Promise<number>;
}

function startNoBoot(root: string, env: Record<string, string>): NoBoot {
  const vars = Object.entries({ G8OS_NOBOOT: "1", G8OS_SEED_DIR: "/seed", ...env }).map(
    ([k, v]) => `${k}=${v}`,
  );
  const child = spawn("chroot", [root, "/usr/bin/env", "-i", ...vars, "/init"], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
  return { child, output: () => out, exited };
}

async function waitFor(
  what: string,
  cond: () => boolean,
  timeoutMs: number,
  log: () => string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; output:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM to /init (it forwards to the emulator), SIGKILL to the group if it hangs. */
async function stopNoBoot(nb: NoBoot): Promise<void> {
  if (nb.child.exitCode !== null) return;
  nb.child.kill("SIGTERM");
  const t = setTimeout(() => process.kill(-nb.child.pid!, "SIGKILL"), 10_000);
  await nb.exited;
  clearTimeout(t);
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    sock.once("connect", () => (sock.destroy(), resolve(true)));
    sock.once("error", () => resolve(false));
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("testbed core0 guest image (no boot)", function () {
  this.timeout(20 * 60_000);
  let img: Core0Image;
  let entries: CpioEntry[];
  let root: string;
  let release: string;
  const chroot = (argv: string[], check = true) => runLocal(["chroot", root, ...argv], { check });

  before(async function () {
    if (process.getuid?.() !== 0)
      skipOrFail(this, "core0 image test", "needs root (debugfs on the guest disk, mknod, chroot)");
    img = await ensureCore0Image();
    release = kernelRelease(img.kernel);
    entries = readCpio(fs.readFileSync(img.initrd));
    root = fs.mkdtempSync(path.join(os.tmpdir(), "g8t-core0img-test-"));
    await extractCpio(entries, root);
  });

  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("newc cpio: write/read round trip with a symlink and a device, gzip and concatenated archives", () => {
    const a: CpioEntry[] = [
      { name: "d", mode: 0o040755, data: Buffer.alloc(0), rdevMajor: 0, rdevMinor: 0 },
      { name: "d/f", mode: 0o100644, data: Buffer.from("hello"), rdevMajor: 0, rdevMinor: 0 },
      { name: "l", mode: 0o120777, data: Buffer.from("d/f"), rdevMajor: 0, rdevMinor: 0 },
    ];
    const b: CpioEntry[] = [
      { name: "dev/console", mode: 0o020600, data: Buffer.alloc(0), rdevMajor: 5, rdevMinor: 1 },
    ];
    const both = Buffer.concat([writeCpio(a), Buffer.alloc(512), writeCpio(b)]);
    assert.deepStrictEqual(readCpio(both), [...a, ...b]);
    assert.deepStrictEqual(readCpio(zlib.gzipSync(both)), [...a, ...b]);
  });

  it("is built once per source hash and reused from IMAGE_CACHE_DIR", async () => {
    const mtime = fs.statSync(img.initrd).mtimeMs;
    const t0 = Date.now();
    const again = await ensureCore0Image();
    assert.strictEqual(again.initrd, img.initrd);
    assert.strictEqual(fs.statSync(again.initrd).mtimeMs, mtime, "the cached image was rebuilt");
    assert.ok(Date.now() - t0 < 10_000, `reuse took ${Date.now() - t0} ms`);
    assert.match(path.basename(img.initrd), /^core0-image-[0-9a-f]{12}\.cpio$/);
    assert.strictEqual(img.kernel, (await import("./libvirt/image")).cachedGuestImage()?.kernel);
  });

  it("has /init (the shell script), /dev/console for PID 1 and a working /bin/sh", async () => {
    const init = fs.statSync(path.join(root, "init"));
    assert.strictEqual(init.mode & 0o777, 0o755);
    assert.strictEqual(fs.readFileSync(path.join(root, "init"), "utf8"), INIT_SH);
    const console = entries.find((e) => e.name === "dev/console");
    assert.deepStrictEqual([console?.mode, console?.rdevMajor, console?.rdevMinor], [0o020600, 5, 1]);
    // dash parses the whole script (-n: syntax check only).
    assert.strictEqual((await chroot(["/bin/sh", "-n", "/init"])).code, 0);
    assert.strictEqual((await chroot(["/bin/sh", "-c", "echo ok"])).stdout, "ok\n");
  });

  it("holds ahci, sr_mod, isofs and virtio_net (with dependencies) built for the guest kernel", async () => {
    const modDir = path.join(root, "usr/lib/modules", release);
    for (const m of CORE0_IMAGE_MODULES) {
      // modprobe from the image resolves each module and its dependencies in the image's modules.dep.
      const r = await chroot(["modprobe", "-S", release, "--show-depends", m]);
      const files = r.stdout
        .split("\n")
        .map((l) => /^insmod (\S+)/.exec(l)?.[1])
        .filter((f): f is string => !!f);
      assert.ok(
        files.some((f) => path.basename(f) === `${m}.ko`),
        `modprobe --show-depends ${m}: ${r.stdout}`,
      );
      for (const f of files) {
        const ko = fs.readFileSync(path.join(root, f));
        assert.ok(
          f.startsWith(`/lib/modules/${release}/`) || f.startsWith(`/usr/lib/modules/${release}/`),
          f,
        );
        assert.strictEqual(moduleVermagic(ko)?.split(" ")[0], release, `${f} vermagic`);
      }
    }
    for (const m of ["ahci", "sr_mod", "isofs", "virtio_net"])
      assert.ok(CORE0_IMAGE_MODULES.includes(m), `${m} is not loaded by /init`);
    assert.ok(fs.existsSync(path.join(modDir, "modules.dep.bin")));
  });

  it("runs node, redis-server and the ZeroTier agent stand-in inside (chroot)", async () => {
    assert.strictEqual(
      (await chroot(["/usr/bin/node", "-e", "console.log(process.version)"])).stdout.trim(),
      process.version,
    );
    assert.match((await chroot(["/usr/bin/redis-server", "--version"])).stdout, /^Redis server v=\d+\./);
    const id = (await chroot(["zerotier-idtool", "generate"])).stdout;
    assert.match(id, /^[0-9a-f]{10}:0:[0-9a-f]{128}:[0-9a-f]{128}$/);
    assert.ok(fs.statSync(path.join(root, "usr/bin/ipconfig")).isFile(), "klibc ipconfig (DHCP) is missing");
  });

  it("the seed reader finds the seed ISO by its cidata label", async () => {
    const src = path.join(root, "tmp/seed-src");
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, "user-data"), core0SeedUserData({ redisPassword: "pw" }));
    fs.writeFileSync(path.join(src, "meta-data"), "instance-id: x\n");
    // As providers/libvirt/client.ts makes the seed without cloud-localds.
    await runLocal(
      [
        "genisoimage",
        "-quiet",
        "-output",
        path.join(root, "tmp/seed.iso"),
        "-volid",
        "cidata",
        "-joliet",
        "-rock",
        "user-data",
        "meta-data",
      ],
      {
        cwd: src,
      },
    );
    assert.strictEqual(
      (await chroot(["node", "/g8os/lib/seed.js", "label", "/tmp/seed.iso"])).stdout,
      "cidata\n",
    );
    assert.strictEqual((await chroot(["node", "/g8os/lib/seed.js", "label", "/init"])).stdout, "");
  });

  describe("no-boot mode", () => {
    const password = "Pw-" + Math.random().toString(36).slice(2) + "!x";
    let identity: string;
    let nb: NoBoot | undefined;
    let emulatorPid = 0;
    let port = 0;
    let ipfsApi = "";

    before(async function () {
      identity = (await chroot(["zerotier-idtool", "generate"])).stdout;
      fs.mkdirSync(path.join(root, "seed"), { recursive: true });
      fs.writeFileSync(
        path.join(root, "seed/user-data"),
        core0SeedUserData({ redisPassword: password, identity: { secret: identity } }),
      );
      port = await freePort();
      ipfsApi = `http://127.0.0.1:${await freePort()}`;
      const cmdline = core0Cmdline(undefined, core0ImageKernelFlags({ ipfsApi }));
      nb = startNoBoot(root, { G8OS_BIND: "127.0.0.1", G8OS_PORT: String(port), G8OS_CMDLINE: cmdline });
      await waitFor("the ready marker", () => nb!.output().includes(CORE0_IMAGE_READY), 90_000, nb.output);
      emulatorPid = (
        JSON.parse(fs.readFileSync(path.join(root, "run/g8os/core0.json"), "utf8")) as { pid: number }
      ).pid;
    });

    after(async () => {
      if (nb) await stopNoBoot(nb);
    });

    it("prints the ready marker with the redis address and the IPFS API from the kernel flag", () => {
      assert.ok(
        nb!.output().includes(`${CORE0_IMAGE_READY} redis=127.0.0.1:${port} zerotier=none ipfs=${ipfsApi}\n`),
        nb!.output(),
      );
      const argv = fs.readFileSync(`/proc/${emulatorPid}/cmdline`, "utf8").split("\0");
      assert.deepStrictEqual(argv.slice(argv.indexOf("--ipfs-api"), argv.indexOf("--ipfs-api") + 2), [
        "--ipfs-api",
        ipfsApi,
      ]);
      assert.ok(!argv.join(" ").includes(password), "the password is on the emulator's argv");
      assert.ok(!nb!.output().includes(password), "the password reached the console");
    });

    it("wrote exactly the contract's seed files, 0600", () => {
      const pw = path.join(root, "g8os/redis-password");
      const id = path.join(root, "var/lib/zerotier-one/identity.secret");
      assert.strictEqual(fs.readFileSync(pw, "utf8"), password);
      assert.strictEqual(fs.readFileSync(id, "utf8"), identity.trim() + "\n");
      assert.strictEqual(fs.statSync(pw).mode & 0o777, 0o600);
      assert.strictEqual(fs.statSync(id).mode & 0o777, 0o600);
      const conf = fs.readFileSync(path.join(root, "var/lib/core0/redis/redis.conf"), "utf8");
      assert.deepStrictEqual(
        conf.split("\n").filter((l) => l.startsWith("bind ")),
        ["bind 127.0.0.1"],
      );
    });

    it("answers core.ping through the emulator with the seed's password, refuses without or with a wrong one", async () => {
      const r = new IoRedis({
        host: "127.0.0.1",
        port,
        password,
        maxRetriesPerRequest: 1,
        lazyConnect: true,
      });
      try {
        await r.connect();
        const id = `img-${Date.now()}`;
        await r.rpush(
          "core:default",
          JSON.stringify({ id, command: "core.ping", arguments: {}, queue: "", tags: "" }),
        );
        const raw = await r.brpoplpush(`result:${id}`, `result:${id}`, 20);
        const res = JSON.parse(raw ?? "{}") as { state?: string; data?: string; level?: number };
        assert.strictEqual(res.state, "SUCCESS", raw ?? "no result");
        assert.match(JSON.parse(res.data ?? '""') as string, /^PONG /);
        assert.strictEqual(res.level, 20);
      } finally {
        r.disconnect();
      }
      // No password: NOAUTH; a wrong one: WRONGPASS (redis' own answers).
      const bad = new IoRedis({
        host: "127.0.0.1",
        port,
        maxRetriesPerRequest: 0,
        lazyConnect: true,
        enableReadyCheck: false,
      });
      try {
        await bad.connect();
        await assert.rejects(bad.ping(), /NOAUTH/);
        await assert.rejects(bad.call("AUTH", "wrong"), /WRONGPASS/);
        await assert.rejects(bad.rpush("core:default", "{}"), /NOAUTH/);
      } finally {
        bad.disconnect();
      }
    });

    it("has what core0 v0.9's bash extension runs (bash, mktemp, cat, rm)", async () => {
      const r = new IoRedis({
        host: "127.0.0.1",
        port,
        password,
        maxRetriesPerRequest: 1,
        lazyConnect: true,
      });
      try {
        await r.connect();
        const id = `img-bash-${Date.now()}`;
        // Run by `bash $T` after `mktemp` and `cat > $T` (core0/g8os.toml [extension.bash]).
        const script = 'echo "bash ${BASH_VERSINFO[0]}"; uname -s; echo done';
        await r.rpush(
          "core:default",
          JSON.stringify({ id, command: "bash", arguments: { stdin: script }, queue: "", tags: "" }),
        );
        const raw = await r.brpoplpush(`result:${id}`, `result:${id}`, 20);
        const res = JSON.parse(raw ?? "{}") as { state?: string; streams?: string[] };
        assert.strictEqual(res.state, "SUCCESS", raw ?? "no result");
        assert.match(res.streams?.[0] ?? "", /^bash \d+\nLinux\ndone\n$/);
      } finally {
        r.disconnect();
      }
    });

    it("stops the emulator and its redis on SIGTERM", async () => {
      await stopNoBoot(nb!);
      assert.strictEqual(await nb!.exited, 0, nb!.output());
      await waitFor("the emulator to exit", () => !pidAlive(emulatorPid), 10_000, nb!.output);
      assert.ok(!(await listening(port)), "something still listens on the node's redis port");
    });

    it("fails with the failure marker when the seed has no redis password (other entries ignored)", async () => {
      fs.writeFileSync(
        path.join(root, "seed/user-data"),
        '#cloud-config\nwrite_files:\n  - path: /etc/not-contract\n    content: "x"\n',
      );
      const run = startNoBoot(root, { G8OS_PORT: String(await freePort()), G8OS_CMDLINE: "" });
      assert.strictEqual(await run.exited, 1, run.output());
      assert.match(
        run.output(),
        new RegExp(`${CORE0_IMAGE_FAILED} the seed's user-data could not be applied`),
      );
      assert.match(run.output(), /no \/g8os\/redis-password in write_files/);
      assert.ok(
        !fs.existsSync(path.join(root, "etc/not-contract")),
        "a non-contract write_files entry was applied",
      );
    });

    it("refuses a password redis.conf cannot hold, without printing it", async () => {
      const bad = "two words";
      fs.writeFileSync(path.join(root, "seed/user-data"), core0SeedUserData({ redisPassword: bad }));
      const run = startNoBoot(root, { G8OS_PORT: String(await freePort()), G8OS_CMDLINE: "" });
      assert.strictEqual(await run.exited, 1, run.output());
      assert.match(run.output(), /requirepass cannot take as one word/);
      assert.ok(!run.output().includes(bad));
    });
  });

  it("its kernel flags pass Core0Vm's flag check and land on the command line", () => {
    const flags = core0ImageKernelFlags({
      controllerUrl: "http://10.214.0.1:9993",
      controllerVia: "10.215.0.1",
      ipfsApi: "http://10.214.0.1:5001",
    });
    assert.strictEqual(
      core0Cmdline("8056c2e21c000001", flags),
      "console=ttyS0,115200n8 zerotier=8056c2e21c000001 g8t.zt_controller=http://10.214.0.1:9993 g8t.zt_via=10.215.0.1 g8t.ipfs_api=http://10.214.0.1:5001",
    );
  });
});
