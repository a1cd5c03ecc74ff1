/**
 * Shared set-up for the BuildHost end-to-end suites: real ssh keys for group members, a clean
 * test host, SSH probes, and the secret scan.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { tcpProbe } from "../../providers/shared/net";
import { withSsh } from "../../providers/shared/ssh";
import type { Testbed, TestHost } from "../testbed";

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

/** A real ED25519 key pair in OpenSSH format (ssh-keygen), as a person's key would be. */
export function sshKeyPair(comment: string): KeyPair {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-key-"));
  try {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path.join(dir, "k")]);
    return {
      privateKey: fs.readFileSync(path.join(dir, "k"), "utf8"),
      publicKey: fs.readFileSync(path.join(dir, "k.pub"), "utf8").trim(),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Puts a test host back to what a fresh testbed host is: ufw off, no ZeroTier network, bootstrap key only. */
export async function resetHost(tb: Testbed, host: TestHost): Promise<void> {
  const script = [
    "ufw --force reset >/dev/null 2>&1 || true",
    // ufw's reset leaves timestamped backups: a fresh host has none.
    "find /etc/ufw -maxdepth 1 -regextype posix-extended -regex '.*\\.[0-9]{8}_[0-9]{6}$' -delete",
    "for n in $(ls /var/lib/zerotier-one/networks.d 2>/dev/null | sed 's/\\.conf$//'); do zerotier-cli leave $n >/dev/null 2>&1 || true; done",
    `printf '%s\\n' '${tb.bootstrapKey.publicKey.trim()}' > /root/.ssh/authorized_keys`,
  ].join("; ");
  const r = await tb.exec(host.name, script);
  assert.strictEqual(r.code, 0, `reset ${host.name}: ${r.stderr}`);
}

/** True when `key` opens an SSH session to host:22 and runs `true`. */
export async function canLogIn(host: string, privateKey: string): Promise<boolean> {
  try {
    await withSsh({ host, privateKey, connectTimeoutMs: 20_000 }, { label: "test login", attempts: 1 }, (s) =>
      s.exec("true"),
    );
    return true;
  } catch {
    return false;
  }
}

export async function sshPortOpen(host: string): Promise<boolean> {
  return (await tcpProbe(host, 22, 3000)) === "open";
}

/** Fails naming where a secret value appears in plaintext. */
export function assertNoSecrets(where: string, text: string, secrets: Record<string, string>): void {
  for (const [name, value] of Object.entries(secrets)) {
    for (const piece of value.split("\n").filter((l) => l.length >= 16 && !/^-----/.test(l))) {
      assert.ok(!text.includes(piece), `${where} contains the ${name} in plaintext`);
    }
    if (value.length >= 8 && !value.includes("\n"))
      assert.ok(!text.includes(value), `${where} contains the ${name} in plaintext`);
  }
}
