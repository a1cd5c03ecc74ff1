/**
 * The testbed's hosts behave like separate machines: SSH with the bootstrap key and a pinned host
 * key, their own /root and /var/lib/zerotier-one, their own ufw, and a network that stays on the
 * testbed's bridges. Needs root (skipped otherwise).
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { OperationError } from "../../providers/shared/errors";
import { isHostKeyMismatch, SshTarget, withSsh } from "../../providers/shared/ssh";
import { TestHost, useTestbed } from "../testbed";

describe("testbed hosts", function () {
  const tb = useTestbed(this, { hosts: 2, services: [] });

  const target = (h: TestHost, over: Partial<SshTarget> = {}): SshTarget => ({
    host: h.address,
    port: h.sshPort,
    privateKey: tb().bootstrapKey.privateKey,
    hostKeySha256: h.hostKeySha256,
    connectTimeoutMs: 5000,
    ...over,
  });
  const sshRun = (h: TestHost, command: string, over: Partial<SshTarget> = {}) =>
    withSsh(target(h, over), { label: `TestHost "${h.name}"`, attempts: 1 }, (s) => s.exec(command));
  const [h1, h2] = [() => tb().host("g8t-h1"), () => tb().host("g8t-h2")];

  it("answers SSH with the bootstrap key, pinned to each host's own ED25519 host key", async () => {
    for (const h of [h1(), h2()]) {
      const r = await sshRun(
        h,
        "hostname; cat /etc/hostname; ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
      );
      const [hostname, etcHostname, fingerprintLine] = r.stdout.trim().split("\n");
      assert.strictEqual(hostname, h.name);
      assert.strictEqual(etcHostname, h.name);
      assert.match(
        fingerprintLine,
        new RegExp(`^256 ${h.hostKeySha256.replace(/[+/]/g, "\\$&")} .*\\(ED25519\\)$`),
      );
    }
    assert.notStrictEqual(h1().hostKeySha256, h2().hostKeySha256);
  });

  it("refuses a key that is not authorised, saying it is an authentication problem", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8t-otherkey-"));
    try {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
      const otherKey = fs.readFileSync(path.join(dir, "k"), "utf8");
      await assert.rejects(sshRun(h1(), "true", { privateKey: otherKey }), (e: Error) => {
        assert.ok(e instanceof OperationError, String(e));
        assert.match(e.message, /authentication/i);
        assert.match(e.message, /not authorised for this user/);
        assert.ok(!e.message.includes(otherKey.split("\n")[1]), "the private key leaked into the message");
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a host whose key does not match the pinned one", async () => {
    await assert.rejects(sshRun(h1(), "true", { hostKeySha256: h2().hostKeySha256 }), (e: Error) => {
      assert.ok(e instanceof OperationError, String(e));
      assert.match(e.message, /does not match the pinned/);
      assert.ok(isHostKeyMismatch(e), "marked as a host-key mismatch for callers");
      assert.strictEqual(String(e), `OperationError: ${e.message}`);
      assert.ok(e.message.includes(h1().hostKeySha256), "the message names the key the host presented");
      return true;
    });
  });

  it("offers no password or keyboard-interactive login to root", async () => {
    const { NodeSSH } = require("node-ssh") as typeof import("node-ssh");
    const ssh = new NodeSSH();
    try {
      await assert.rejects(
        ssh.connect({
          host: h1().address,
          username: "root",
          password: "not-a-real-password",
          tryKeyboard: true,
          readyTimeout: 5000,
        }),
        /All configured authentication methods failed/,
      );
    } finally {
      ssh.dispose();
    }
    const effective = await tb().exec("g8t-h1", "sshd -T -f /etc/ssh/sshd_config");
    assert.strictEqual(effective.code, 0, effective.stderr);
    assert.match(effective.stdout, /^passwordauthentication no$/m);
    assert.match(effective.stdout, /^kbdinteractiveauthentication no$/m);
    assert.match(effective.stdout, /^permitrootlogin without-password$/m);
  });

  it("gives each host its own /root, /var/lib/zerotier-one and /var/lib/g8os, as SSH and exec both see them", async () => {
    // Other suites share these hosts (and may add keys or files): compare by a unique marker only.
    const marker = `g8t-marker-${crypto.randomBytes(6).toString("hex")}`;
    const ztFile = `/var/lib/zerotier-one/${marker}`;
    const g8osFile = `/var/lib/g8os/${marker}`;
    const keysBefore = (await tb().exec("g8t-h1", "cat /root/.ssh/authorized_keys")).stdout;
    assert.ok(keysBefore.includes(tb().bootstrapKey.publicKey), "the bootstrap key is not authorised on h1");
    try {
      await sshRun(
        h1(),
        `echo '# ${marker}' >> /root/.ssh/authorized_keys && echo ${marker} > ${ztFile} && echo ${marker} > ${g8osFile}`,
      );
      const onH1 = await tb().exec("g8t-h1", `cat /root/.ssh/authorized_keys ${ztFile} ${g8osFile}`);
      assert.strictEqual(
        onH1.stdout.split(marker).length - 1,
        3,
        "exec sees h1's files as its SSH session does",
      );
      const onH2 = await sshRun(
        h2(),
        "cat /root/.ssh/authorized_keys; ls -A /var/lib/zerotier-one; ls -A /var/lib/g8os",
      );
      assert.ok(onH2.stdout.includes(tb().bootstrapKey.publicKey), "h2 lost its own authorized_keys");
      assert.ok(!onH2.stdout.includes(marker), "a write on h1 is visible on h2");
      const rootKeys = fs.existsSync("/root/.ssh/authorized_keys")
        ? fs.readFileSync("/root/.ssh/authorized_keys", "utf8")
        : "";
      assert.ok(!rootKeys.includes(marker), "a write on h1 reached the machine's own /root");
      assert.ok(!fs.existsSync(ztFile), "a write on h1 reached the machine's /var/lib/zerotier-one");
      assert.ok(!fs.existsSync(g8osFile), "a write on h1 reached the machine's /var/lib/g8os");
    } finally {
      await tb().exec(
        "g8t-h1",
        `sed -i '/${marker}/d' /root/.ssh/authorized_keys; rm -f ${ztFile} ${g8osFile}`,
      );
    }
    assert.strictEqual((await tb().exec("g8t-h1", "cat /root/.ssh/authorized_keys")).stdout, keysBefore);
  });

  it("reaches the other hosts and the root namespace over the public bridge, and nothing is NATed", async () => {
    const reach = await tb().exec("g8t-h1", `timeout 5 bash -c 'exec 3<>/dev/tcp/${h2().address}/22'`);
    assert.strictEqual(reach.code, 0, `h1 cannot reach h2:22: ${reach.stderr}`);

    // A listener on the root namespace's bridge address: the host's default route must get there.
    const server = net.createServer((s) => s.end("hello from root\n"));
    await new Promise<void>((resolve) => server.listen(0, tb().publicBridge.gateway, resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const r = await tb().exec("g8t-h1", `timeout 5 bash -c 'exec 3<>/dev/tcp/10.213.0.1/${port}; cat <&3'`);
      assert.strictEqual(r.stdout.trim(), "hello from root", r.stderr);
    } finally {
      server.close();
    }
    const route = await tb().exec("g8t-h1", "ip -4 route show default");
    assert.match(route.stdout, /^default via 10\.213\.0\.1 dev eth0/);
    const chain = execFileSync("iptables", ["-S", "G8T-FORWARD"], { encoding: "utf8" });
    assert.match(chain, /-A G8T-FORWARD -i g8t-br0 -j DROP/);
    assert.match(chain, /-A G8T-FORWARD -o g8t-br0 -j DROP/);
    assert.match(
      execFileSync("iptables", ["-S", "FORWARD"], { encoding: "utf8" }),
      /-A FORWARD -j G8T-FORWARD/,
    );
    const nat = execFileSync("iptables", ["-t", "nat", "-S"], { encoding: "utf8" });
    assert.ok(!/10\.21[34]\.|g8t-(br|zt)0/.test(nat), `testbed traffic is NATed:\n${nat}`);
  });

  it("lets ufw in one host block new SSH there and nowhere else; disabling it restores access", async function () {
    this.timeout(60_000);
    const machineUfw = [
      fs.readFileSync("/etc/ufw/ufw.conf", "utf8"),
      fs.readFileSync("/etc/default/ufw", "utf8"),
    ];
    assert.match((await tb().exec("g8t-h1", "ufw status")).stdout, /Status: inactive/);
    try {
      const on = await tb().exec("g8t-h1", "ufw --force enable && ufw default deny incoming");
      assert.strictEqual(on.code, 0, on.stderr);
      assert.match(
        (await tb().exec("g8t-h1", "ufw status verbose")).stdout,
        /Status: active[\s\S]*deny \(incoming\)/,
      );

      await assert.rejects(sshRun(h1(), "true", { connectTimeoutMs: 3000 }), (e: Error) => {
        assert.ok(e instanceof OperationError, String(e));
        assert.match(e.message, /SSH to root@10\.213\.0\.11:22 failed/);
        return true;
      });
      assert.strictEqual((await sshRun(h2(), "hostname")).stdout.trim(), "g8t-h2");
      assert.match((await tb().exec("g8t-h2", "ufw status")).stdout, /Status: inactive/);
      assert.deepStrictEqual(
        [fs.readFileSync("/etc/ufw/ufw.conf", "utf8"), fs.readFileSync("/etc/default/ufw", "utf8")],
        machineUfw,
        "ufw in a host changed the machine's own ufw config",
      );
      assert.ok(!/ufw-user-input/.test(execFileSync("iptables", ["-S"], { encoding: "utf8" })));
    } finally {
      await tb().exec("g8t-h1", "ufw --force disable");
    }
    assert.match((await tb().exec("g8t-h1", "ufw status")).stdout, /Status: inactive/);
    assert.strictEqual((await sshRun(h1(), "hostname")).stdout.trim(), "g8t-h1");
  });

  it("runs commands through exec with the session's exit status and stdin, in /root", async () => {
    const r = await tb().exec("g8t-h2", "pwd; cat; exit 7", { stdin: "from stdin" });
    assert.deepStrictEqual([r.code, r.stdout], [7, "/root\nfrom stdin"]);
    await assert.rejects(tb().exec("g8t-h9", "true"), /no test host "g8t-h9".*g8t-h1/);
  });
});
