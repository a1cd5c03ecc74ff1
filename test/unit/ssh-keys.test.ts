/**
 * The stack's key checks (providers/shared/validate.ts opensshPublicKey, unencryptedPrivateKey)
 * against real keys made by ssh-keygen: every type it makes passes, what the stack cannot use fails.
 */
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { opensshPublicKey, unencryptedPrivateKey } from "../../providers/shared/validate";

describe("SSH key checks against ssh-keygen's keys", function () {
  this.timeout(60_000);
  let dir: string;
  const key = (name: string, args: string[]) => {
    execFileSync("ssh-keygen", ["-q", ...args, "-C", "unit@test", "-f", path.join(dir, name)]);
    return {
      priv: fs.readFileSync(path.join(dir, name), "utf8"),
      pub: fs.readFileSync(path.join(dir, `${name}.pub`), "utf8").trim(),
    };
  };
  before(function () {
    if (spawnSync("ssh-keygen", ["-?"]).error) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-keys-"));
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it("accepts ed25519, ECDSA (256/384/521), RSA 2048 and PEM RSA keys, public and private", () => {
    for (const [name, args] of [
      ["ed", ["-t", "ed25519"]],
      ["ec256", ["-t", "ecdsa", "-b", "256"]],
      ["ec384", ["-t", "ecdsa", "-b", "384"]],
      ["ec521", ["-t", "ecdsa", "-b", "521"]],
      ["rsa", ["-t", "rsa", "-b", "2048"]],
      ["pem", ["-t", "rsa", "-b", "2048", "-m", "PEM"]],
    ] as const) {
      const k = key(name, [...args, "-N", ""]);
      assert.strictEqual(opensshPublicKey(2048)(k.pub), undefined, `${name}.pub`);
      assert.strictEqual(unencryptedPrivateKey(k.priv), undefined, name);
    }
  });

  it("refuses RSA under 2048 bits, truncated blobs, and passphrase-protected private keys", () => {
    const small = key("small", ["-t", "rsa", "-b", "1024", "-N", ""]);
    assert.match(opensshPublicKey(2048)(small.pub) ?? "", /1024-bit RSA key; at least 2048/);
    const ed = key("ed2", ["-t", "ed25519", "-N", ""]);
    const [type, body] = ed.pub.split(" ");
    const cut = Buffer.from(body, "base64").subarray(0, 45).toString("base64");
    assert.match(opensshPublicKey(2048)(`${type} ${cut}`) ?? "", /truncated/);
    const extra = Buffer.concat([Buffer.from(body, "base64"), Buffer.from([0, 0, 0, 1, 9])]).toString(
      "base64",
    );
    assert.match(opensshPublicKey(2048)(`${type} ${extra}`) ?? "", /not a 32-byte ed25519 key/);
    const enc = key("enc", ["-t", "ed25519", "-N", "a passphrase"]);
    assert.match(unencryptedPrivateKey(enc.priv) ?? "", /passphrase-protected/);
    const encPem = key("encpem", ["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "a passphrase"]);
    assert.match(unencryptedPrivateKey(encPem.priv) ?? "", /passphrase-protected/);
    // The reasons never quote the key.
    assert.ok(!(unencryptedPrivateKey(enc.priv) ?? "").includes(enc.priv.split("\n")[1].slice(0, 20)));
  });
});
