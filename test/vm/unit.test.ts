import { strict as assert } from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import {
  core0Cmdline,
  core0SeedUserData,
  deriveHostKey,
  offsetIPv4,
  ubuntuUserData,
  zerotierNodeId,
} from "../../components/vm";
import { pollUntil } from "../../providers/shared/retry";
import { guestWatcherScript } from "./guest-drill";

const IDENTITY = `8056c2e21c:0:${"ab".repeat(32)}:${"cd".repeat(32)}`;

describe("VM helpers", () => {
  it("derived host keys are real OpenSSH keys: ssh-keygen reads them and agrees on key and fingerprint", () => {
    const k = deriveHostKey("seed-1", "build-1-node");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8t-vm-key-"));
    try {
      const f = path.join(dir, "k");
      fs.writeFileSync(f, k.privateKeyOpenssh, { mode: 0o600 });
      const pub = execFileSync("ssh-keygen", ["-y", "-f", f], { encoding: "utf8" }).trim();
      assert.equal(pub.split(" ").slice(0, 2).join(" "), k.publicKeyOpenssh.split(" ").slice(0, 2).join(" "));
      fs.writeFileSync(`${f}.pub`, k.publicKeyOpenssh + "\n");
      const fp = execFileSync("ssh-keygen", ["-lf", `${f}.pub`], { encoding: "utf8" }).split(/\s+/)[1];
      assert.equal(fp, k.fingerprintSha256);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(deriveHostKey("seed-1", "build-1-node"), k, "same seed, same key (stable across runs)");
    assert.notEqual(deriveHostKey("seed-2", "build-1-node").fingerprintSha256, k.fingerprintSha256);
  });

  it("Ubuntu user-data is valid YAML with keys for root and the admin user, host key, identity, join", () => {
    const hostKey = deriveHostKey("s", "build-2-node");
    const text = ubuntuUserData({
      hostname: "build-2-node",
      adminUser: "g8os",
      authorizedKeys: ["ssh-ed25519 AAAAdeploy deploy", 'ssh-ed25519 AAAAgroup "quoted" comment'],
      hostKey,
      zerotier: {
        networkId: "8056c2e21c000001",
        identity: { secret: IDENTITY },
        installCommand: "apt-get install -y zt",
      },
    });
    assert.ok(text.startsWith("#cloud-config\n"));
    const doc = yaml.load(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(doc.hostname, "build-2-node");
    assert.equal(doc.disable_root, false);
    assert.deepEqual(doc.ssh_authorized_keys, [
      "ssh-ed25519 AAAAdeploy deploy",
      'ssh-ed25519 AAAAgroup "quoted" comment',
    ]);
    assert.deepEqual(doc.users[0].ssh_authorized_keys, doc.ssh_authorized_keys);
    assert.equal(doc.ssh_keys.ed25519_private, hostKey.privateKeyOpenssh);
    const files = Object.fromEntries(
      doc.write_files.map((f: { path: string; content: string }) => [f.path, f.content]),
    );
    assert.equal(files["/var/lib/zerotier-one/identity.secret"], IDENTITY + "\n");
    assert.equal(
      files["/var/lib/zerotier-one/identity.public"],
      IDENTITY.split(":").slice(0, 3).join(":") + "\n",
    );
    assert.deepEqual(doc.runcmd[1], ["sh", "-c", "zerotier-cli join 8056c2e21c000001"]);
    assert.match(doc.runcmd[0][2], /command -v zerotier-cli .*apt-get install -y zt/);
    // Sandbox mode: no ZeroTier at all.
    const sandbox = yaml.load(
      ubuntuUserData({ hostname: "h", adminUser: "u", authorizedKeys: ["k"], hostKey }),
    ) as object;
    assert.ok(!("runcmd" in sandbox) && !("write_files" in sandbox));
  });

  it("core0: cmdline carries the network and flags, never smuggled args; the password goes on the seed", () => {
    assert.equal(
      core0Cmdline("8056c2e21c000001", ["development"]),
      "console=ttyS0,115200n8 zerotier=8056c2e21c000001 development",
    );
    assert.equal(core0Cmdline(undefined, []), "console=ttyS0,115200n8");
    assert.throws(() => core0Cmdline("x", ["debug init=/bin/sh"]), /g8os:core0KernelFlags/);
    const seed = yaml.load(
      core0SeedUserData({ redisPassword: 'p"w: x', identity: { secret: IDENTITY } }),
    ) as {
      write_files: { path: string; content: string }[];
    };
    assert.deepEqual(
      seed.write_files.map((f) => f.path),
      ["/g8os/redis-password", "/var/lib/zerotier-one/identity.secret"],
    );
    assert.equal(seed.write_files[0].content, 'p"w: x');
  });

  it("address plan and identities", () => {
    assert.equal(offsetIPv4("10.147.17.1", 4), "10.147.17.5");
    assert.equal(offsetIPv4("10.147.17.255", 1), "10.147.18.0");
    assert.throws(() => offsetIPv4("nope", 1), /not an IPv4/);
    assert.equal(zerotierNodeId(IDENTITY + "\n"), "8056c2e21c");
  });

  it("the in-guest drill watcher logs a process's start and exit, reading each command line a few scans only", async function () {
    this.timeout(30_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8t-watch-"));
    const marker = `${process.pid}${Date.now() % 1000}`; // digits: `sleep 1.<marker>` is one number
    const script = guestWatcherScript(
      "w1",
      [
        { name: "start", pattern: `*sleep 1.${marker}*`, moment: "start", action: { kind: "log" } },
        { name: "exit", pattern: `*sleep 1.${marker}*`, moment: "exit", action: { kind: "log" } },
      ],
      20,
      dir,
    );
    fs.mkdirSync(path.join(dir, "w1"));
    fs.writeFileSync(path.join(dir, "w1", "watch.sh"), script);
    const watcher = spawn("bash", [path.join(dir, "w1", "watch.sh")], { stdio: "ignore" });
    const log = () => fs.readFileSync(path.join(dir, "w1", "log"), "utf8");
    try {
      await pollUntil(
        async () => (fs.existsSync(path.join(dir, "w1", "log")) ? true : { pending: "no log" }),
        {
          timeoutMs: 5000,
          intervalMs: 50,
          what: "the watcher to start",
        },
      );
      execFileSync("sleep", [`1.${marker}`]);
      await pollUntil(async () => (/fired exit /.test(log()) ? true : { pending: log() }), {
        timeoutMs: 5000,
        intervalMs: 100,
        what: "the exit to be logged",
      });
      const lines = log()
        .trim()
        .split("\n")
        .map((l) => l.replace(/^\S+ /, ""));
      assert.match(
        lines.find((l) => l.startsWith("fired start"))!,
        new RegExp(`cmd=sleep 1\\.${marker}$`),
      );
      assert.ok(
        lines.some((l) => /^fired exit pid=\d+ exited$/.test(l)),
        lines.join("; "),
      );
    } finally {
      fs.writeFileSync(path.join(dir, "w1", "stop"), "");
      await new Promise((r) => watcher.once("exit", r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.match(script, /seen\[\$pid\]=\$\(\(n \+ 1\)\)/, "each process is read a bounded number of times");
  });
});
