/**
 * Pure helpers for the build environment's VMs (no Pulumi resources here, so they are unit-tested
 * directly): fixed ZeroTier addresses, SSH host keys derived from a secret seed, cloud-init documents.
 */
import * as crypto from "crypto";
import { InputError } from "../../providers/shared/errors";
import { parseIPv4 } from "../../providers/shared/validate";

/** Offsets from the physical host's fixed ZeroTier IP: the documented default address plan. */
export const VM_ADDRESS_OFFSETS = { buildNode: 1, core0: [2, 3], cockpit: 4 } as const;

/** `base` + `offset` as dotted IPv4 (throws on a bad base: config validation runs before). */
export function offsetIPv4(base: string, offset: number): string {
  const n = parseIPv4(base);
  if (n === undefined)
    throw new InputError(
      "VM address plan",
      "base address",
      `"${base}" is not an IPv4 address`,
      "set g8os:buildHostZerotierIp to the build host's fixed ZeroTier IPv4",
    );
  const v = (n + offset) >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/** An OpenSSH ed25519 key pair plus its fingerprint as `ssh-keygen -lf` prints it. */
export interface DerivedHostKey {
  privateKeyOpenssh: string;
  publicKeyOpenssh: string;
  fingerprintSha256: string;
}

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === "string" ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/**
 * A deterministic ed25519 SSH host key from a secret seed string. Deterministic because the
 * program runs on every `up`: the seed is a stateful secret (a RandomPassword replaced with the VM
 * generation), the key is derived from it each time, so the same VM keeps the same pinned key and
 * a recycled VM gets a new one.
 */
export function deriveHostKey(seed: string, comment: string): DerivedHostKey {
  const seed32 = crypto.createHash("sha256").update(`g8os-vm-host-key:${seed}`).digest();
  // PKCS#8 DER prefix for an ed25519 private key (RFC 8410) followed by the 32-byte seed.
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed32]);
  const key = crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  const pubDer = crypto.createPublicKey(key).export({ format: "der", type: "spki" });
  const pub = pubDer.subarray(pubDer.length - 32);
  const pubBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  // openssh-key-v1, unencrypted: the format sshd reads for HostKey files and cloud-init writes.
  const checkInt = seed32.subarray(0, 4);
  let priv = Buffer.concat([
    checkInt,
    checkInt,
    sshString("ssh-ed25519"),
    sshString(pub),
    sshString(Buffer.concat([seed32, pub])),
    sshString(comment),
  ]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    Buffer.from([0, 0, 0, 1]),
    sshString(pubBlob),
    sshString(priv),
  ]);
  const b64 = body.toString("base64").replace(/(.{70})/g, "$1\n");
  return {
    privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64.trimEnd()}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKeyOpenssh: `ssh-ed25519 ${pubBlob.toString("base64")} ${comment}`,
    fingerprintSha256: `SHA256:${crypto.createHash("sha256").update(pubBlob).digest("base64").replace(/=+$/, "")}`,
  };
}

/** JSON strings are valid YAML scalars: every value goes in quoted, so nothing can break the document. */
const q = (s: string) => JSON.stringify(s);

/** A pre-generated ZeroTier identity (`zerotier-idtool generate` output) for the guest. */
export interface ZerotierIdentity {
  /** identity.secret content: `<node id>:0:<public>:<private>`. Secret. */
  secret: string;
}

/** identity.public is identity.secret without its last (private) field. */
export function zerotierIdentityPublic(secret: string): string {
  return (secret ?? "").trim().split(":").slice(0, 3).join(":");
}

/** The node id (member id) of an identity: its first field. */
export function zerotierNodeId(secret: string): string {
  return (secret ?? "").trim().split(":")[0];
}

export interface UbuntuUserDataOptions {
  hostname: string;
  /** Login user created for people (sudo without password; keys only). */
  adminUser: string;
  /** Keys for the admin user AND root (deploy key first, then the group). */
  authorizedKeys: string[];
  hostKey: DerivedHostKey;
  /** Unset: no ZeroTier (sandbox mode). */
  zerotier?: { networkId: string; identity: ZerotierIdentity; installCommand: string };
}

/** cloud-init user-data for an Ubuntu (or Debian) VM. Contains secrets: pass it as a secret. */
export function ubuntuUserData(o: UbuntuUserDataOptions): string {
  const lines = [
    "#cloud-config",
    `hostname: ${q(o.hostname)}`,
    "ssh_pwauth: false",
    // Root gets the same keys (no "please login as" prefix): the stack manages the VM as root.
    "disable_root: false",
    "ssh_authorized_keys:",
    ...o.authorizedKeys.map((k) => `  - ${q(k.trim())}`),
    "users:",
    `  - name: ${q(o.adminUser)}`,
    "    groups: [sudo]",
    '    sudo: "ALL=(ALL) NOPASSWD:ALL"',
    "    shell: /bin/bash",
    "    lock_passwd: true",
    "    ssh_authorized_keys:",
    ...o.authorizedKeys.map((k) => `      - ${q(k.trim())}`),
    // A host key we chose, so the stack pins it from the first connection on.
    "ssh_deletekeys: true",
    "ssh_genkeytypes: []",
    "ssh_keys:",
    `  ed25519_private: ${q(o.hostKey.privateKeyOpenssh)}`,
    `  ed25519_public: ${q(o.hostKey.publicKeyOpenssh)}`,
  ];
  if (o.zerotier) {
    const z = o.zerotier;
    lines.push(
      // The identity is in place before zerotier-one first starts: the member id is known (and
      // authorised with its fixed IP) before the VM even boots.
      "write_files:",
      "  - path: /var/lib/zerotier-one/identity.secret",
      '    permissions: "0600"',
      `    content: ${q(z.identity.secret.trim() + "\n")}`,
      "  - path: /var/lib/zerotier-one/identity.public",
      '    permissions: "0644"',
      `    content: ${q(zerotierIdentityPublic(z.identity.secret) + "\n")}`,
      "runcmd:",
      `  - [sh, -c, ${q(`command -v zerotier-cli >/dev/null || { ${z.installCommand}; }`)}]`,
      `  - [sh, -c, ${q(`zerotier-cli join ${z.networkId}`)}]`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Where core0 finds its secrets: a NoCloud-style `cidata` seed (never the kernel command line,
 * which is readable in /proc/cmdline, the domain XML and the Pulumi state). Unverified against a
 * real core0 v0.9 image: a g8os core0 build must read `/g8os/redis-password` and the ZeroTier
 * identity from this seed.
 */
export function core0SeedUserData(o: { redisPassword: string; identity?: ZerotierIdentity }): string {
  const lines = [
    "#cloud-config",
    "write_files:",
    "  - path: /g8os/redis-password",
    '    permissions: "0600"',
    `    content: ${q(o.redisPassword)}`,
  ];
  if (o.identity)
    lines.push(
      "  - path: /var/lib/zerotier-one/identity.secret",
      '    permissions: "0600"',
      `    content: ${q(o.identity.secret.trim() + "\n")}`,
    );
  return lines.join("\n") + "\n";
}

/** Flags core0 accepts besides console and zerotier (core0-protocol.md). */
export const CORE0_FLAGS = ["development", "debug", "quiet"] as const;

/** `console=ttyS0,115200n8 zerotier=<nwid>` plus flags; rejects anything that could smuggle args. */
export function core0Cmdline(networkId: string | undefined, flags: string[]): string {
  const bad = flags.filter((f) => !/^[a-z][a-z0-9_.-]*(=[A-Za-z0-9_.:/-]+)?$/.test(f));
  if (bad.length)
    throw new InputError(
      "Core0Vm",
      "kernelFlags",
      `${JSON.stringify(bad)} are not single words or key=value without spaces`,
      "fix g8os:core0KernelFlags",
    );
  return ["console=ttyS0,115200n8", ...(networkId ? [`zerotier=${networkId}`] : []), ...flags].join(" ");
}
