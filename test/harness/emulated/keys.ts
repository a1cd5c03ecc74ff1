/**
 * Key material in the formats `tls.PrivateKey` outputs: PEM (PKCS#1 / SEC1 / PKCS#8 / SPKI),
 * OpenSSH public and private keys, and the MD5 / SHA256 fingerprints `ssh-keygen -l` prints.
 */
import * as crypto from "crypto";
import { sshFingerprint } from "../../../providers/shared/ssh";

export type KeyAlgorithm = "RSA" | "ECDSA" | "ED25519";

export interface KeyOutputs {
  privateKeyPem: string;
  privateKeyPemPkcs8: string;
  privateKeyOpenssh: string;
  publicKeyPem: string;
  publicKeyOpenssh: string;
  publicKeyFingerprintMd5: string;
  publicKeyFingerprintSha256: string;
  /** SHA1 of the public key (DER), like the tls provider's resource id. */
  id: string;
}

const CURVES: Record<string, { node: string; ssh?: string }> = {
  P224: { node: "secp224r1" }, // OpenSSH has no P-224: OpenSSH outputs stay empty, as in the tls provider.
  P256: { node: "prime256v1", ssh: "nistp256" },
  P384: { node: "secp384r1", ssh: "nistp384" },
  P521: { node: "secp521r1", ssh: "nistp521" },
};

export const ECDSA_CURVES = Object.keys(CURVES);

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === "string" ? Buffer.from(b, "utf8") : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** SSH mpint from unsigned big-endian bytes: no leading zeros, a 0x00 when the top bit is set. */
function sshMpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let b = unsigned.subarray(i);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
}

function b64u(s: string | undefined): Buffer {
  if (!s) throw new Error("key export lacks a JWK field");
  return Buffer.from(s, "base64url");
}

interface SshParts {
  /** Public key blob (what authorized_keys carries, base64). */
  publicBlob: Buffer;
  /** Private fields after the key type, for the openssh-key-v1 private section. */
  privateFields: Buffer;
  keyType: string;
}

function sshParts(algorithm: KeyAlgorithm, curve: string, priv: crypto.KeyObject): SshParts | undefined {
  if (algorithm === "ECDSA" && !CURVES[curve].ssh) return undefined;
  const jwk = priv.export({ format: "jwk" });
  if (algorithm === "ED25519") {
    const pub = b64u(jwk.x);
    const seed = b64u(jwk.d);
    const keyType = "ssh-ed25519";
    return {
      keyType,
      publicBlob: Buffer.concat([sshString(keyType), sshString(pub)]),
      privateFields: Buffer.concat([sshString(pub), sshString(Buffer.concat([seed, pub]))]),
    };
  }
  if (algorithm === "RSA") {
    const keyType = "ssh-rsa";
    const [n, e, d, p, q, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.qi].map(b64u);
    return {
      keyType,
      publicBlob: Buffer.concat([sshString(keyType), sshMpint(e), sshMpint(n)]),
      privateFields: Buffer.concat([
        sshMpint(n),
        sshMpint(e),
        sshMpint(d),
        sshMpint(qi),
        sshMpint(p),
        sshMpint(q),
      ]),
    };
  }
  const sshCurve = CURVES[curve].ssh!;
  const keyType = `ecdsa-sha2-${sshCurve}`;
  const point = Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]);
  return {
    keyType,
    publicBlob: Buffer.concat([sshString(keyType), sshString(sshCurve), sshString(point)]),
    privateFields: Buffer.concat([sshString(sshCurve), sshString(point), sshMpint(b64u(jwk.d))]),
  };
}

/** Unencrypted `openssh-key-v1` private key, as `ssh-keygen` writes it. */
function opensshPrivateKey(parts: SshParts): string {
  const check = crypto.randomBytes(4);
  let section = Buffer.concat([check, check, sshString(parts.keyType), parts.privateFields, sshString("")]);
  const pad: number[] = [];
  for (let i = 1; (section.length + pad.length) % 8 !== 0; i++) pad.push(i);
  section = Buffer.concat([section, Buffer.from(pad)]);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0", "latin1"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    Buffer.from([0, 0, 0, 1]),
    sshString(parts.publicBlob),
    sshString(section),
  ]);
  const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

export async function generateKey(
  algorithm: KeyAlgorithm,
  rsaBits: number,
  ecdsaCurve: string,
): Promise<KeyOutputs> {
  const generate = require("util").promisify(crypto.generateKeyPair) as (
    type: string,
    opts: object,
  ) => Promise<{ privateKey: crypto.KeyObject; publicKey: crypto.KeyObject }>;
  const { privateKey, publicKey } =
    algorithm === "RSA"
      ? await generate("rsa", { modulusLength: rsaBits })
      : algorithm === "ECDSA"
        ? await generate("ec", { namedCurve: CURVES[ecdsaCurve].node })
        : await generate("ed25519", {});
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const privateKeyPem =
    algorithm === "RSA"
      ? privateKey.export({ type: "pkcs1", format: "pem" }).toString()
      : algorithm === "ECDSA"
        ? privateKey.export({ type: "sec1", format: "pem" }).toString()
        : pkcs8;
  const spkiDer = publicKey.export({ type: "spki", format: "der" });
  const parts = sshParts(algorithm, ecdsaCurve, privateKey);
  const md5 = parts
    ? (crypto.createHash("md5").update(parts.publicBlob).digest("hex").match(/../g) ?? []).join(":")
    : "";
  return {
    privateKeyPem,
    privateKeyPemPkcs8: pkcs8,
    privateKeyOpenssh: parts ? opensshPrivateKey(parts) : "",
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    publicKeyOpenssh: parts ? `${parts.keyType} ${parts.publicBlob.toString("base64")}\n` : "",
    publicKeyFingerprintMd5: md5,
    publicKeyFingerprintSha256: parts ? sshFingerprint(parts.publicBlob) : "",
    id: crypto.createHash("sha1").update(spkiDer).digest("hex"),
  };
}
