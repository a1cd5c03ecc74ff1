/** Valid stack configurations the unit tests start from (each test breaks or extends one). */
import { buildStackConfig, type StackConfigValue } from "../../scripts/sandbox-config";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq1e8x8pt4iIhBPg6w9kJh6zV+q7dK0P5c7V8z alice@example";

/** SSH wire string: uint32 length + bytes. */
function sshString(b: Buffer | string): Buffer {
  const body = typeof b === "string" ? Buffer.from(b, "latin1") : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/**
 * An unencrypted OpenSSH private key container (openssh-portable PROTOCOL.key framing: magic,
 * cipher "none", kdf "none") with a dummy body: enough for the stack's format check, never used.
 */
export function fakeOpensshPrivateKey(cipher = "none"): string {
  const blob = Buffer.concat([
    Buffer.from("openssh-key-v1\0", "latin1"),
    sshString(cipher),
    sshString(cipher === "none" ? "none" : "bcrypt"),
    sshString(""),
    Buffer.from([0, 0, 0, 1]),
    sshString(Buffer.alloc(51, 7)),
  ]);
  const b64 = blob.toString("base64").replace(/(.{70})/g, "$1\n");
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** A complete, valid build-stack config (inline keys, so no key server is needed). */
export function validBuildConfig(): Record<string, StackConfigValue> {
  return buildStackConfig({
    telegram: { botToken: "123456:TEST-TOKEN-abcdef", chatId: "-1001" },
    zerotier: { token: "zt-token-secret" },
    keys: { kind: "inline", keys: [KEY] },
    buildHost: { name: "ovh4", address: "10.213.0.11", bootstrapPrivateKey: fakeOpensshPrivateKey() },
  });
}

/** The VM keys on top of validBuildConfig (digests are placeholders: nothing is downloaded under mocks). */
export function vmConfig(): Record<string, string> {
  return {
    "g8os:vmsEnabled": "true",
    "g8os:vmImageSha256": "a".repeat(64),
    "g8os:core0KernelUrl": "https://example.org/core0/vmlinuz.efi",
    "g8os:core0KernelSha256": "b".repeat(64),
  };
}
