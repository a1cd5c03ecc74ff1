import * as assert from "assert";
import { readManagedBlock, setManagedBlock } from "../../providers/host/authorized-keys-block";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { driftReasons, parseUfwStatus } from "../../providers/host/ufw";
import {
  armCommand,
  parseArm,
  parseStatus,
  policyCommand,
  SWITCH_PATH,
  switchScript,
} from "../../providers/host/ufw-switch";
import { connectionFailures } from "../../providers/host/connection";

const A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq1e8x8pt4iIhBPg6w9kJh6zV+q7dK0P5c7V8z alice";
const B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBz5kq9mJr0qW8vG8dP9aX3T5nV4c2Lh1e6oQ7sR2uYw bob";

describe("authorized_keys managed block", () => {
  it("adds a block after foreign keys and leaves them untouched", () => {
    const before = "ssh-rsa AAAAB3foreign someone@else\n";
    const after = setManagedBlock(before, "build-1", [A, B]);
    assert.ok(after.startsWith(before), "foreign key stays first and unchanged");
    assert.deepStrictEqual(readManagedBlock(after, "build-1"), [A, B]);
  });

  it("replaces the block in place: a removed member loses access, foreign lines keep their order", () => {
    const first = setManagedBlock("x-before\n", "build-1", [A, B]) + "x-after\n";
    const second = setManagedBlock(first, "build-1", [A]);
    assert.deepStrictEqual(readManagedBlock(second, "build-1"), [A]);
    assert.ok(!second.includes(B));
    const lines = second.trim().split("\n");
    assert.strictEqual(lines[0], "x-before");
    assert.strictEqual(lines[lines.length - 1], "x-after");
  });

  it("is idempotent and keeps blocks of other environments apart", () => {
    const one = setManagedBlock("", "build-1", [A]);
    const both = setManagedBlock(one, "build-2", [B]);
    assert.strictEqual(setManagedBlock(both, "build-1", [A]), both, "same keys = same bytes (no write)");
    assert.deepStrictEqual(readManagedBlock(both, "build-2"), [B]);
    assert.strictEqual(readManagedBlock(setManagedBlock(both, "build-2", []), "build-2"), undefined);
  });
});

describe("ufw policy and the host-side dead-man switch", () => {
  const p = { interfaceName: "ztabcdefgh", sshPort: 22 };
  // As ufw 0.36 prints `ufw status verbose` for the policy the switch applies.
  const good = [
    "Status: active",
    "Logging: on (low)",
    "Default: deny (incoming), allow (outgoing), disabled (routed)",
    "New profiles: skip",
    "",
    "To                         Action      From",
    "--                         ------      ----",
    "22/tcp on ztabcdefgh       ALLOW IN    Anywhere                   # g8os-ssh-over-zerotier",
    "9993/udp                   ALLOW IN    Anywhere                   # g8os-zerotier",
    "22/tcp (v6) on ztabcdefgh  ALLOW IN    Anywhere (v6)              # g8os-ssh-over-zerotier",
    "9993/udp (v6)              ALLOW IN    Anywhere (v6)              # g8os-zerotier",
    "",
  ].join("\n");

  it("reads `ufw status verbose`: enforced only with deny by default, SSH on ZeroTier alone, no foreign rule", () => {
    const st = parseUfwStatus(good, p);
    assert.deepStrictEqual(st, {
      active: true,
      denyIncoming: true,
      sshOnlyOnZerotier: true,
      foreignRules: [],
      enforced: true,
    });
    assert.deepStrictEqual(driftReasons(st), []);
    const open22 = parseUfwStatus(good + "22/tcp                     ALLOW IN    Anywhere\n", p);
    assert.strictEqual(open22.enforced, false);
    assert.strictEqual(open22.sshOnlyOnZerotier, false);
    assert.strictEqual(parseUfwStatus("Status: inactive\n", p).enforced, false);
    assert.deepStrictEqual(driftReasons(parseUfwStatus("Status: inactive\n", p)), ["ufw is inactive"]);
  });

  it("any rule g8os did not make is drift, allow or deny, with its text for the report", () => {
    const st = parseUfwStatus(
      good +
        "2222/tcp                   ALLOW IN    Anywhere\n" +
        "9993/udp                   DENY IN     10.0.0.0/8\n",
      p,
    );
    assert.strictEqual(st.enforced, false);
    assert.deepStrictEqual(st.foreignRules, [
      "2222/tcp  ALLOW IN  Anywhere",
      "9993/udp  DENY IN  10.0.0.0/8",
    ]);
    assert.match(driftReasons(st).join(), /rules g8os did not make: 2222\/tcp {2}ALLOW IN {2}Anywhere/);
    const allowAll = parseUfwStatus(good.replace("Default: deny (incoming)", "Default: allow (incoming)"), p);
    assert.deepStrictEqual(driftReasons(allowAll), ["incoming traffic is not denied by default"]);
  });

  it("the switch script is valid POSIX sh and every builder quotes its arguments", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-switch-"));
    try {
      const file = path.join(dir, "switch");
      fs.writeFileSync(file, switchScript());
      execFileSync("sh", ["-n", file]); // dash: a syntax error throws
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.strictEqual(armCommand("00aa", 90), `sh ${SWITCH_PATH} 'arm' '00aa' '90'`);
    assert.strictEqual(
      policyCommand("00aa", { interfaceName: "zt'x", sshPort: 22 }),
      `sh ${SWITCH_PATH} 'policy' '00aa' 'zt'\\''x' '22' '1'`,
    );
    assert.match(switchScript(), /comment g8os-ssh-over-zerotier/);
    assert.match(switchScript(), /comment g8os-zerotier/);
  });

  it("parses the switch's answers", () => {
    assert.deepStrictEqual(parseArm("settled 11bb\narmed 00aa 1700000090 1700000000\n"), {
      token: "00aa",
      deadline: 1700000090,
      hostNow: 1700000000,
      again: false,
    });
    assert.strictEqual(parseArm("armed 00aa 1700000090 1700000010 again")?.again, true);
    assert.strictEqual(parseArm("busy"), undefined);
    assert.deepStrictEqual(
      parseStatus("pending 00aa 1700000090 4242 1700000005\nufw active\noutcome none\n"),
      {
        pending: { token: "00aa", deadline: 1700000090 },
        hostNow: 1700000005,
        ufwActive: true,
        outcome: undefined,
      },
    );
    assert.deepStrictEqual(parseStatus("pending none - - 1700000100\nufw inactive\noutcome reverted\n"), {
      pending: undefined,
      hostNow: 1700000100,
      ufwActive: false,
      outcome: "reverted",
    });
  });
});

describe("host connection check", () => {
  it("names each bad field", () => {
    const f = connectionFailures("connection", {
      addresses: [{ host: "bad host!", port: 70000 }],
      privateKeys: ["nope"],
    });
    const props = f.map((x) => x.property);
    assert.deepStrictEqual(
      props.sort(),
      ["connection.addresses[0].host", "connection.addresses[0].port", "connection.privateKeys[0]"].sort(),
    );
  });
});
