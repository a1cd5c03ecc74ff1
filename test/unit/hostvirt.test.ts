/**
 * The one SSH connection model, the host/libvirt constructors' secret outputs, and ZerotierIdentity
 * (which takes over the VMs' `command.remote.Command` identities through an alias of their URN). No testbed: an
 * ssh2 server on 127.0.0.1 stands in for the KVM host's `zerotier-idtool generate`, and the real
 * dynamic-provider host of @pulumi/pulumi plays the calls the engine makes on an existing stack.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import { argError } from "../../components/vm/common";
import { InputError } from "../../providers/shared/errors";
import { volumeProvider } from "../../providers/libvirt/volume";
import { sshTargetOf as libvirtTargetOf } from "../../providers/libvirt/client";
import { sshTargetFailures } from "../../providers/shared/ssh-target";
import {
  identityOf,
  isZerotierIdentitySecret,
  LEGACY_IDENTITY_TYPE,
  zerotierIdentityProvider as provider,
} from "../../providers/host/zerotier-identity";
import { TS_REGISTER } from "../ts-register-path";
import { withProviderHost } from "./state-compat-suite";
import { scriptedSshServer } from "./scripted-ssh-server";

const REPO = path.resolve(__dirname, "../..");
const hex = (n: number, c: string) => c.repeat(n);
/** A well-formed identity.secret: 10-hex address, type 0, 64-byte public and private keys in hex (ZeroTierOne node/Identity.cpp). */
const IDENTITY = `${hex(10, "a")}:0:${hex(128, "b")}:${hex(128, "c")}`;
const PIN = "SHA256:" + "A".repeat(43);

function keyPair(): { priv: string; pub: string; blob: Buffer } {
  const { utils } = require("ssh2");
  const k = utils.generateKeyPairSync("ed25519");
  const parsed = utils.parseKey(k.public);
  return { priv: k.private, pub: k.public, blob: parsed.getPublicSSH() };
}

/** An SSH server on 127.0.0.1 that runs only `zerotier-idtool generate`; records the commands run. */
function idtoolServer(clientPub: string, output: string) {
  return scriptedSshServer(clientPub, (cmd) =>
    cmd === "zerotier-idtool generate" ? { out: output, code: 0 } : { err: "not found\n", code: 127 },
  );
}

describe("one SSH connection model (providers/shared/ssh-target.ts)", () => {
  it("libvirt resources check the shared SSH fields, with the same field paths and reasons", async () => {
    const bad = { host: "", port: 70000, user: "", privateKey: "nope", hostKeySha256: "md5:xx" };
    const base = { name: "v", poolDir: "/p", backingFile: "/p/b" };
    const f = (await volumeProvider.check!({}, { ...base, ...bad })).failures!;
    assert.deepStrictEqual(
      f.map((x) => x.property),
      ["host", "port", "user", "privateKey", "hostKeySha256"],
    );
    assert.match(f.find((x) => x.property === "hostKeySha256")!.reason, /SHA256:<43 base64 characters>/);
    assert.match(f.find((x) => x.property === "privateKey")!.reason, /BEGIN \.\.\. PRIVATE KEY/);
    // Unpinned stays allowed for the libvirt resources (existing stacks and the libvirt testbed suites).
    const ok = { ...base, host: "kvm", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" };
    assert.deepStrictEqual((await volumeProvider.check!({}, ok)).failures, []);
  });

  it("pinned targets require the host key, under the given prefix", () => {
    const f = sshTargetFailures(
      { host: "kvm", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" },
      { prefix: "connection", pinned: true },
    );
    assert.deepStrictEqual(f, [
      {
        property: "connection.hostKeySha256",
        reason:
          "is required. Fix: set connection.hostKeySha256 to the host's key fingerprint, SHA256:<43 base64 characters> as `ssh-keygen -lf` prints it (e.g. BuildHost.hostKeySha256)",
      },
    ]);
    const empty = sshTargetFailures(
      { host: "kvm", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----", hostKeySha256: "" },
      { prefix: "connection", pinned: true },
    );
    assert.match(empty[0].reason, /must be pinned\. Fix: set connection\.hostKeySha256 to /);
  });

  it("the SSH target of stored libvirt props: defaults filled, an empty pin means unpinned (as before)", () => {
    assert.deepStrictEqual(libvirtTargetOf({ host: "h", privateKey: "k", hostKeySha256: "" }), {
      host: "h",
      port: 22,
      user: "root",
      privateKey: "k",
      hostKeySha256: undefined,
    });
  });

  it("component argument errors are the shared InputError (resource, field, problem, fix)", () => {
    const e = argError("UbuntuVm", "n", "envNumber", "is 0", "give X >= 1");
    assert.ok(e instanceof InputError);
    assert.strictEqual(e.message, 'UbuntuVm "n": envNumber: is 0. Fix: give X >= 1');
  });
});

describe("host and libvirt constructors (registered under mocks)", function () {
  this.timeout(120_000);
  type Reg = {
    type: string;
    name: string;
    secretOutputs: string[];
    aliases: { spec: { type: string; name: string } }[];
  };
  let regs: Reg[];
  before(() => {
    const out = execFileSync(
      process.execPath,
      ["-r", TS_REGISTER, path.join(__dirname, "programs/hostvirt-registrations.ts")],
      {
        cwd: REPO,
        encoding: "utf8",
        env: { ...process.env, TS_NODE_PROJECT: path.join(REPO, "tsconfig.json") },
      },
    );
    regs = JSON.parse(out.trim().split("\n").pop()!);
  });

  it("all 7 (and ZerotierIdentity) merge a caller's additionalSecretOutputs with their own", () => {
    const want: Record<string, string[]> = {
      keys: ["connection"],
      join: ["connection"],
      fw: ["connection"],
      ident: ["connection", "identity"],
      seed: ["privateKey", "userData"],
      dom: ["privateKey"],
      vol: ["privateKey"],
      setup: ["privateKey"],
    };
    for (const [name, own] of Object.entries(want)) {
      const r = regs.find((x) => x.name === name);
      assert.ok(r, `${name} registered`);
      assert.deepStrictEqual(r.secretOutputs, ["callerField", ...own], name);
    }
  });

  it("a VM's identity is found by its old URN: same name, alias to the command.remote.Command type (parent inherited)", () => {
    const r = regs.find((x) => x.name === "build-1-node-zerotier-identity")!;
    assert.strictEqual(r.type, "pulumi-nodejs:dynamic/host:ZerotierIdentity");
    assert.deepStrictEqual(
      r.aliases.map((a) => a.spec.type),
      [LEGACY_IDENTITY_TYPE],
    );
    // Empty name in the alias spec = the resource's own name.
    assert.strictEqual(r.aliases[0].spec.name, "");
    assert.deepStrictEqual(r.secretOutputs, ["connection", "identity"]);
  });
});

describe("ZerotierIdentity", function () {
  this.timeout(60_000);
  const client = keyPair();
  const conn = (port: number, hostKeySha256: string) => ({
    host: "127.0.0.1",
    port,
    user: "root",
    privateKey: client.priv,
    hostKeySha256,
  });
  // What a command.remote.Command (pulumi-command 4.5) left in state for the identity.
  const commandOutputs = (port: number) => ({
    connection: { host: "127.0.0.1", port, user: "root", privateKey: client.priv },
    create: "zerotier-idtool generate",
    stdout: IDENTITY,
    stderr: "",
  });

  it("check refuses an unpinned connection, naming the field", async () => {
    const r = await provider.check!({}, { connection: { host: "kvm", privateKey: client.priv } });
    assert.deepStrictEqual(
      r.failures!.map((f) => f.property),
      ["connection.hostKeySha256"],
    );
  });

  it("create runs zerotier-idtool generate on the pinned host; a wrong pin runs nothing", async () => {
    const srv = await idtoolServer(client.pub, IDENTITY + "\n");
    try {
      const r = await provider.create!({ connection: conn(srv.port, srv.fingerprint) });
      assert.strictEqual(r.outs.identity, IDENTITY, "one trailing newline trimmed, as pulumi-command did");
      assert.strictEqual(r.outs.nodeId, "aaaaaaaaaa");
      assert.deepStrictEqual(srv.commands, ["zerotier-idtool generate"]);
      await assert.rejects(
        provider.create!({ connection: conn(srv.port, PIN) }),
        /does not match the pinned/,
      );
      assert.strictEqual(srv.commands.length, 1, "nothing ran on a host with another key");
    } finally {
      await srv.close();
    }
  });

  it("create refuses output that is not an identity", async () => {
    const srv = await idtoolServer(client.pub, "zerotier-idtool: command not found\n");
    try {
      await assert.rejects(
        provider.create!({ connection: conn(srv.port, srv.fingerprint) }),
        /not a ZeroTier identity/,
      );
    } finally {
      await srv.close();
    }
  });

  it("adopts a command.remote.Command's identity: update (no replace), same text, no remote call", async () => {
    // Port 1 on loopback: any SSH attempt would fail the update.
    const olds = commandOutputs(1);
    const news = { connection: conn(1, PIN) };
    const d = await provider.diff!("id", olds, news);
    assert.deepStrictEqual(d, { changes: true, replaces: [], deleteBeforeReplace: false });
    const u = await provider.update!("id", olds, news);
    assert.strictEqual(u.outs.identity, IDENTITY);
    assert.strictEqual(u.outs.nodeId, "aaaaaaaaaa");
    assert.ok(!("stdout" in u.outs) && !("create" in u.outs), "the Command's fields are not carried on");
    // Afterwards a no-op: the next up changes nothing.
    const again = await provider.diff!("id", u.outs, news);
    assert.strictEqual(again.changes, false);
    // A new way to reach the KVM host keeps the identity (update in place, never replace).
    const moved = await provider.diff!("id", u.outs, { connection: { ...conn(2, PIN), user: "admin" } });
    assert.deepStrictEqual(moved.replaces, []);
    assert.strictEqual(moved.changes, true);
    assert.strictEqual(
      (await provider.update!("id", u.outs, { connection: conn(2, PIN) })).outs.identity,
      IDENTITY,
    );
  });

  it("update without any identity in state fails naming the fix (never invents a new member id)", async () => {
    await assert.rejects(
      provider.update!("id", { connection: {} }, { connection: conn(1, PIN) }),
      (e: Error) => {
        assert.match(e.message, /identity/);
        assert.match(e.message, /--replace/);
        return true;
      },
    );
    assert.strictEqual(identityOf({ stdout: "" }), undefined);
    assert.ok(isZerotierIdentitySecret(IDENTITY + "\n"));
  });

  it("accepts what the testbed's zerotier-idtool stand-in (written from ZeroTierOne's Identity) generates", () => {
    const fs = require("fs") as typeof import("fs");
    const os = require("os") as typeof import("os");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-idtool-"));
    try {
      const tool = path.join(dir, "zerotier-idtool");
      fs.symlinkSync(path.join(__dirname, "..", "testbed", "zerotier", "zerotier-cli.js"), tool);
      const out = execFileSync(process.execPath, [tool, "generate"], { encoding: "utf8" });
      assert.ok(isZerotierIdentitySecret(out), `not accepted: ${out.slice(0, 20)}...`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("through the real dynamic-provider host, as the engine calls it on an existing stack's Command state", async () => {
    // The engine sends the old Command's outputs (no `__provider`) and the new inputs (with it);
    // sdk/nodejs/cmd/dynamic-provider loads the provider from the new inputs.
    await withProviderHost(provider, async (host, text) => {
      const ctx = {
        urn: "urn:pulumi:build-1::g8os::g8os:vm:UbuntuVm$pulumi-nodejs:dynamic/host:ZerotierIdentity::build-1-node-zerotier-identity",
        type: "pulumi-nodejs:dynamic/host:ZerotierIdentity",
        name: "build-1-node-zerotier-identity",
        secrets: [],
      };
      const olds = commandOutputs(1);
      const oldInputs = { connection: olds.connection, create: olds.create };
      const checked = await host.check(ctx, oldInputs, { connection: conn(1, PIN), __provider: text });
      assert.deepStrictEqual(checked.failures, []);
      const d = await host.diff(ctx, "cmd-id", olds, checked.inputs, oldInputs);
      assert.strictEqual(d.changes, true);
      assert.deepStrictEqual(d.replaces, []);
      const outs = await host.update(ctx, "cmd-id", olds, checked.inputs, oldInputs);
      assert.strictEqual(outs.identity, IDENTITY);
      assert.strictEqual(
        outs.__provider,
        text,
        "state gets the provider, so refresh and destroy work afterwards",
      );
      const refreshed = await host.read(ctx, "cmd-id", outs, checked.inputs);
      assert.strictEqual(refreshed.outputs.identity, IDENTITY);
    });
  });
});
