/**
 * `up` is idempotent, `down` leaves nothing behind (processes, namespaces, links, mounts, iptables
 * rules, pid files), and a later `up` gives fresh hosts with the same host keys. Needs root.
 *
 * `down` pulls the testbed from under every other user, so this suite skips itself while another
 * live test process holds a testbed lease (engineers sharing a machine); CI runs it.
 */
import * as assert from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { pollUntil } from "../../providers/shared/retry";
import { withSsh } from "../../providers/shared/ssh";
import {
  ensureTestbed,
  isRoot,
  NOT_ROOT_MESSAGE,
  otherLeaseHolders,
  Testbed,
  testbedDown,
  testbedStatus,
} from "../testbed";
import { readState, REPO_ROOT, STATE_DIR, STATE_FILE, takeLease } from "../testbed/state";
import { TS_REGISTER } from "../ts-register-path";

/** Processes whose command line contains `needle` (NUL-separated args joined with spaces). */
function processesWith(needle: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").includes(needle)) {
        found.push(Number(entry));
      }
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

function sshdPidOf(tb: Testbed, name: string): number {
  return Number(fs.readFileSync(path.join(tb.host(name).dir, "sshd.pid"), "utf8"));
}

/** Everything of the testbed base that exists on the machine right now (empty = clean). */
function leftovers(): string[] {
  const found: string[] = [];
  const netns = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  for (const l of netns.split("\n")) if (/^g8t-h\d+\b/.test(l)) found.push(`namespace ${l.trim()}`);
  const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
  for (const m of links.matchAll(/^\d+:\s+(g8t-(?:br0|zt0|h\d+-veth))[@:]/gm)) found.push(`link ${m[1]}`);
  const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8");
  for (const l of mounts.split("\n")) {
    if (l.includes(STATE_DIR) || / \/run\/netns\/g8t-/.test(l)) found.push(`mount ${l.split(" ")[4]}`);
  }
  for (const pid of processesWith(path.join(STATE_DIR, "hosts") + "/")) found.push(`process ${pid}`);
  for (const pid of processesWith("sleep 86398")) found.push(`session process ${pid}`);
  const rules =
    execFileSync("iptables", ["-S"], { encoding: "utf8" }) +
    execFileSync("iptables", ["-t", "nat", "-S"], { encoding: "utf8" });
  for (const l of rules.split("\n")) if (/G8T|g8t-(br|zt)0|10\.21[34]\./.test(l)) found.push(`iptables ${l}`);
  const hostsDir = path.join(STATE_DIR, "hosts");
  for (const h of fs.existsSync(hostsDir) ? fs.readdirSync(hostsDir) : []) {
    for (const f of ["sshd.pid", "root", "ufw", "default-ufw", "zerotier-one", "var-lib-g8os"]) {
      if (fs.existsSync(path.join(hostsDir, h, f))) found.push(`file ${h}/${f}`);
    }
  }
  if (fs.existsSync(STATE_FILE)) found.push(`file ${STATE_FILE}`);
  return found;
}

describe("testbed lifecycle (up, down)", function () {
  this.timeout(120_000);
  let restore: { hosts: number; services: string[] } | undefined;

  before(async function () {
    if (!isRoot()) {
      console.log(`    (skipping: ${NOT_ROOT_MESSAGE})`);
      this.skip();
    }
    const others = otherLeaseHolders();
    if (others.length > 0) {
      console.log(
        `    (skipping: test processes ${others.join(", ")} use the testbed; down would break them)`,
      );
      this.skip();
    }
    takeLease();
    const st = readState();
    if (st && (await testbedStatus()).up) restore = { hosts: st.hosts.length, services: st.services };
  });

  beforeEach(function () {
    // Someone may have started using the testbed since `before`: leave it alone from now on.
    const others = otherLeaseHolders();
    if (others.length > 0) {
      console.log(`    (skipping: test processes ${others.join(", ")} started using the testbed)`);
      this.skip();
    }
  });

  after(async function () {
    // Leave the machine as the suite found it (other suites in this run may rely on it). A service
    // that fails to come back is that service's problem, reported by its own suites: warn only.
    if (!restore) return;
    this.timeout(600_000);
    try {
      await ensureTestbed(restore);
    } catch (err) {
      console.warn(`    (warning: could not restore the testbed as found: ${(err as Error).message})`);
    }
  });

  it("`up` twice keeps the same hosts, sshd processes and host keys", async () => {
    const first = await ensureTestbed({ hosts: 2, services: [] });
    const pids = first.hosts.map((h) => sshdPidOf(first, h.name));
    const second = await ensureTestbed({ hosts: 2, services: [] });
    assert.deepStrictEqual(
      second.hosts.map((h) => sshdPidOf(second, h.name)),
      pids,
    );
    assert.deepStrictEqual(second.hosts, first.hosts);
    assert.strictEqual((await testbedStatus()).up, true);
  });

  it("`up` restarts a host's sshd that died, keeping the host's files", async () => {
    const tb = await ensureTestbed({ hosts: 2, services: [] });
    const before = sshdPidOf(tb, "g8t-h2");
    await tb.exec("g8t-h2", "echo '# kept across the restart' >> /root/.ssh/authorized_keys");
    process.kill(before, "SIGKILL");
    // kill() returns before the process is gone: wait until it is (or only a zombie without cmdline).
    await pollUntil(
      async () =>
        processesWith(`${path.join(STATE_DIR, "hosts", "g8t-h2")}/`).includes(before) ? undefined : true,
      {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: "the killed sshd of g8t-h2 to exit",
      },
    );
    assert.strictEqual((await testbedStatus()).hosts.find((h) => h.name === "g8t-h2")?.sshUp, false);
    const again = await ensureTestbed({ hosts: 2, services: [] });
    assert.notStrictEqual(sshdPidOf(again, "g8t-h2"), before);
    assert.strictEqual((await testbedStatus()).up, true);
    const keys = await again.exec("g8t-h2", "cat /root/.ssh/authorized_keys");
    assert.match(keys.stdout, /# kept across the restart/);
    await again.exec("g8t-h2", "sed -i '/# kept across the restart/d' /root/.ssh/authorized_keys");
  });

  it("`down` leaves no process, namespace, link, mount, iptables rule or pid file, even with live sessions", async () => {
    const tb = await ensureTestbed({ hosts: 2, services: [] });
    const h1 = tb.host("g8t-h1");
    // A detached process started over SSH and one started by exec: down must end both.
    await withSsh(
      { host: h1.address, privateKey: tb.bootstrapKey.privateKey, hostKeySha256: h1.hostKeySha256 },
      { label: "lifecycle test" },
      (s) => s.exec("setsid nohup sleep 86398 </dev/null >/dev/null 2>&1 &"),
    );
    await tb.exec("g8t-h2", "setsid nohup sleep 86398 </dev/null >/dev/null 2>&1 &");
    // setsid/nohup exec `sleep` a moment after the shell returned: wait for both, with a deadline.
    await pollUntil(
      async () =>
        processesWith("sleep 86398").length === 2
          ? true
          : { pending: `${processesWith("sleep 86398").length} of 2 running` },
      {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: "the two session processes to start",
      },
    );
    assert.ok(leftovers().length > 0, "the check below would not notice anything");

    const created = readState()?.created;
    await testbedDown();
    assert.deepStrictEqual(leftovers(), []);
    assert.deepStrictEqual(await testbedStatus(), { up: false, hosts: [], services: [] });
    // What up made outside .testbed/ goes too, unless something else now uses it.
    const runNetnsEmpty = !fs.existsSync("/run/netns") || fs.readdirSync("/run/netns").length === 0;
    if (created?.runNetnsMount && runNetnsEmpty) {
      assert.ok(
        !/ \/run\/netns /.test(fs.readFileSync("/proc/self/mountinfo", "utf8")),
        "/run/netns still mounted",
      );
    }
    if (created?.zerotierDir)
      assert.ok(!fs.existsSync("/var/lib/zerotier-one"), "/var/lib/zerotier-one left");
  });

  it("`down` on a testbed that is already down succeeds and changes nothing", async () => {
    await testbedDown();
    assert.deepStrictEqual(leftovers(), []);
  });

  it("two processes bringing it up at once end with one sshd per host", async () => {
    await testbedDown();
    const script =
      'require("./test/testbed").ensureTestbed({ hosts: 2, services: [] })' +
      ".then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); })";
    const child = spawn(process.execPath, ["-r", TS_REGISTER, "-e", script], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let childErr = "";
    child.stderr.on("data", (d: Buffer) => (childErr += d.toString()));
    const childDone = new Promise<number | null>((resolve) => child.on("close", resolve));
    const [tb, childCode] = await Promise.all([
      Promise.all([ensureTestbed({ hosts: 2, services: [] }), ensureTestbed({ hosts: 2, services: [] })]),
      childDone,
    ]);
    assert.strictEqual(childCode, 0, childErr);
    for (const h of tb[0].hosts) {
      const listeners = processesWith(`-f ${path.join(h.dir, "ssh", "sshd_config")} `).filter((pid) =>
        fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("[listener]"),
      );
      assert.deepStrictEqual(listeners, [sshdPidOf(tb[0], h.name)], `sshd listeners of ${h.name}`);
    }
  });

  it("a new `up` gives fresh hosts (only the bootstrap key, ufw inactive) with the same host keys", async () => {
    const before = await ensureTestbed({ hosts: 1, services: [] });
    const fingerprint = before.host("g8t-h1").hostKeySha256;
    await before.exec("g8t-h1", "echo '# left over' >> /root/.ssh/authorized_keys; ufw --force enable");
    await testbedDown();
    const after = await ensureTestbed({ hosts: 1, services: [] });
    assert.strictEqual(after.host("g8t-h1").hostKeySha256, fingerprint);
    const keys = await after.exec("g8t-h1", "cat /root/.ssh/authorized_keys");
    assert.strictEqual(keys.stdout.trim(), after.bootstrapKey.publicKey);
    assert.match((await after.exec("g8t-h1", "ufw status")).stdout, /Status: inactive/);
    await testbedDown();
  });
});
