import * as assert from "assert";
import { readManagedBlock, setManagedBlock } from "../../providers/host/authorized-keys-block";
import { parseUfwStatus, policyCommands, UFW_RESET } from "../../providers/host/ufw";
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

describe("ufw policy", () => {
  it("allows SSH only on the ZeroTier interface and enables last", () => {
    const cmds = policyCommands({ interfaceName: "ztabcdefgh", sshPort: 22 });
    assert.strictEqual(cmds[0], UFW_RESET, "reset first");
    assert.match(UFW_RESET, /^ufw --force reset \|\| \{ sleep 1; ufw --force reset; \}$/, "retried once");
    assert.ok(cmds.includes("ufw default deny incoming"));
    assert.ok(cmds.some((c) => c.startsWith("ufw allow in on 'ztabcdefgh' to any port 22 proto tcp")));
    assert.strictEqual(cmds[cmds.length - 1], "ufw --force enable");
  });

  it("reads `ufw status verbose`: enforced only when SSH is allowed on the ZeroTier interface alone", () => {
    const good = [
      "Status: active",
      "Default: deny (incoming), allow (outgoing), disabled (routed)",
      "",
      "To                         Action      From",
      "22/tcp on ztabcdefgh       ALLOW IN    Anywhere",
      "9993/udp                   ALLOW IN    Anywhere",
      "22/tcp (v6) on ztabcdefgh  ALLOW IN    Anywhere (v6)",
    ].join("\n");
    const p = { interfaceName: "ztabcdefgh", sshPort: 22 };
    assert.deepStrictEqual(parseUfwStatus(good, p), { active: true, enforced: true });
    assert.strictEqual(
      parseUfwStatus(good + "\n22/tcp                     ALLOW IN    Anywhere", p).enforced,
      false,
    );
    assert.strictEqual(parseUfwStatus("Status: inactive\n", p).enforced, false);
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
