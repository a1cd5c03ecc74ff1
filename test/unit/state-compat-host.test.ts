/**
 * State written before AuthorizedKeys and ZerotierHostJoin moved onto the resource kit still
 * checks and diffs with no changes (the kit's state-compat method, test/unit/state-compat.test.ts).
 * Fixtures (test/unit/fixtures/state-compat/host-authorized-keys.json, zerotier-host-join.json)
 * were captured from the hand-written providers (main f47230a): `raw` is what the constructor
 * sends, `checked` what that check returned, `outputs` what its create (`apply`) returns. The
 * type tokens (URNs) and secret outputs are those of the old constructors; the serialized
 * providers give the same answers through the real dynamic-provider host, as the engine calls them
 * on an existing stack. AuthorizedKeys' refresh and update of such state run against an SSH
 * server on 127.0.0.1 that plays the few shell commands the provider sends (`hostShell` below);
 * ZerotierHostJoin's refresh and update need zerotier-one: the testbed suites cover them.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import type { Fields, ResourceKit } from "../../providers/shared/resource-kit";
import { DynamicProviderHost } from "../harness/dynamic-host";
import { sshFingerprint } from "../../providers/shared/ssh";
import { readManagedBlock, setManagedBlock } from "../../providers/host/authorized-keys-block";
import { EngineService } from "../harness/engine-service";
import { TS_REGISTER } from "../ts-register-path";

const REPO = path.resolve(__dirname, "../..");

interface Fixture {
  raw: Record<string, unknown>;
  checked: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

interface Case {
  fixture: string;
  type: string;
  load: () => Promise<{ kit: ResourceKit<Fields>; provider: pulumi.dynamic.ResourceProvider }>;
  /** A replace field and a new (valid) value, or undefined when the resource never replaces. */
  replace?: [string, unknown];
  /** Update fields and new (valid) values: each changes in place. */
  updates: [string, unknown][];
}

const OTHER_CONNECTION = {
  addresses: [{ host: "10.147.17.31" }],
  privateKeys: ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3RoZXI=\n-----END OPENSSH PRIVATE KEY-----\n"],
};

const CASES: Case[] = [
  {
    fixture: "host-authorized-keys",
    type: "pulumi-nodejs:dynamic/host:AuthorizedKeys",
    load: async () => {
      const m = await import("../../providers/host/authorized-keys");
      return {
        kit: m.authorizedKeysKit as unknown as ResourceKit<Fields>,
        provider: m.authorizedKeysProvider,
      };
    },
    replace: ["block", "build-2"],
    updates: [
      ["keys", (fixture("host-authorized-keys").checked.keys as string[]).slice(0, 1)],
      ["user", "builder"],
      ["connection", OTHER_CONNECTION],
    ],
  },
  {
    fixture: "zerotier-host-join",
    type: "pulumi-nodejs:dynamic/host:ZerotierHostJoin",
    load: async () => {
      const m = await import("../../providers/zerotier/host-join");
      return {
        kit: m.zerotierHostJoinKit as unknown as ResourceKit<Fields>,
        provider: m.zerotierHostJoinProvider,
      };
    },
    // A new network moves the host (joins, then leaves the old one): never a replace.
    updates: [
      ["networkId", "8056c2e21c000002"],
      ["installCommand", "apt-get install -y zerotier-one"],
      ["connection", OTHER_CONNECTION],
    ],
  },
];

function fixture(name: string): Fixture {
  const p = path.join(__dirname, "fixtures", "state-compat", `${name}.json`);
  return JSON.parse(fs.readFileSync(p, "utf8")) as Fixture;
}

describe("state compatibility: AuthorizedKeys and ZerotierHostJoin on the kit read state written before it", () => {
  for (const c of CASES) {
    describe(c.fixture, () => {
      const fx = fixture(c.fixture);
      it("check(old raw inputs) gives the same inputs, no failures; check is idempotent", async () => {
        const { provider } = await c.load();
        const r = await provider.check!({}, fx.raw);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.inputs, fx.checked);
        assert.deepEqual((await provider.check!({}, fx.checked)).inputs, fx.checked);
      });
      it("diff(old outputs, checked inputs) reports no changes", async () => {
        const { kit, provider } = await c.load();
        const d = await provider.diff!("id", fx.outputs, fx.checked);
        assert.deepEqual([d.changes, d.replaces ?? []], [false, []]);
        assert.deepEqual(kit.diff(fx.outputs, fx.checked).detailedDiff, {});
      });
      if (c.replace) {
        const [field, value] = c.replace;
        it(`changing ${field} replaces exactly that field (old one removed after)`, async () => {
          const { kit, provider } = await c.load();
          const news = { ...fx.checked, [field]: value };
          assert.deepEqual((await provider.check!({}, news)).failures, []);
          const d = await provider.diff!("id", fx.outputs, news);
          assert.deepEqual([d.changes, d.replaces, d.deleteBeforeReplace], [true, [field], false]);
          assert.deepEqual(kit.diff(fx.outputs, news).detailedDiff, { [field]: { kind: "replace" } });
        });
      }
      for (const [field, value] of c.updates) {
        it(`changing ${field} updates exactly that field in place`, async () => {
          const { kit, provider } = await c.load();
          const news = { ...fx.checked, [field]: value };
          assert.deepEqual((await provider.check!({}, news)).failures, []);
          const d = await provider.diff!("id", fx.outputs, news);
          assert.deepEqual([d.changes, d.replaces ?? []], [true, []]);
          assert.deepEqual(kit.diff(fx.outputs, news).detailedDiff, { [field]: { kind: "update" } });
        });
      }
      it("the serialized provider answers the same through the real dynamic-provider host", async function () {
        this.timeout(60_000);
        const { provider } = await c.load();
        const { serializeFunction } = require("@pulumi/pulumi/runtime/closure/serializeClosure");
        const text = (await serializeFunction(() => provider, { allowSecrets: true })).text as string;
        const engine = await EngineService.start(() => undefined);
        const host = await DynamicProviderHost.start({
          repoRoot: REPO,
          engineAddress: engine.address,
          project: "g8os",
          stack: "build-1",
          config: {},
          env: {},
          nodePath: process.execPath,
          onOutput: () => undefined,
        });
        try {
          const ctx = {
            urn: `urn:pulumi:build-1::g8os::${c.type}::${c.fixture}`,
            type: c.type,
            name: c.fixture,
            secrets: [],
          };
          const olds = { ...fx.outputs, __provider: text };
          const checked = await host.check(ctx, fx.checked, { ...fx.raw, __provider: text });
          assert.deepStrictEqual(checked.failures, []);
          const { __provider, ...inputs } = checked.inputs;
          assert.strictEqual(__provider, text);
          assert.deepEqual(inputs, fx.checked);
          const d = await host.diff(ctx, "id", olds, checked.inputs, fx.checked);
          assert.deepEqual([d.changes, d.replaces], [false, []]);
        } finally {
          await host.stop();
          await engine.stop();
        }
      });
    });
  }

  it("AuthorizedKeys: untrimmed or repeated keys are the stored keys (no change), as the old diff normalised them", async () => {
    const { authorizedKeysProvider } = await import("../../providers/host/authorized-keys");
    const fx = fixture("host-authorized-keys");
    const keys = fx.checked.keys as string[];
    const raw = { ...fx.raw, keys: [` ${keys[0]}  `, ...keys, keys[1]] };
    const r = await authorizedKeysProvider.check!({}, raw);
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.inputs.keys, keys);
    const d = await authorizedKeysProvider.diff!("id", fx.outputs, r.inputs);
    assert.deepEqual([d.changes, d.replaces], [false, []]);
  });

  it("ZerotierHostJoin: a refresh that found the node no longer joined is a change (the next up joins again)", async () => {
    const { zerotierHostJoinProvider } = await import("../../providers/zerotier/host-join");
    const fx = fixture("zerotier-host-join");
    const d = await zerotierHostJoinProvider.diff!("id", { ...fx.outputs, joined: false }, fx.checked);
    assert.deepEqual([d.changes, d.replaces], [true, []]);
  });

  it("the constructors register the same type tokens and secret outputs as before", () => {
    const out = execFileSync(
      process.execPath,
      ["-r", TS_REGISTER, path.join(__dirname, "programs/hostvirt-registrations.ts")],
      {
        cwd: REPO,
        encoding: "utf8",
        env: { ...process.env, TS_NODE_PROJECT: path.join(REPO, "tsconfig.json") },
      },
    );
    const regs = JSON.parse(out.trim().split("\n").pop()!) as {
      type: string;
      name: string;
      secretOutputs: string[];
    }[];
    const pick = (name: string) => {
      const r = regs.find((x) => x.name === name)!;
      return { type: r.type, secretOutputs: r.secretOutputs };
    };
    assert.deepEqual(pick("keys"), {
      type: "pulumi-nodejs:dynamic/host:AuthorizedKeys",
      secretOutputs: ["callerField", "connection"],
    });
    assert.deepEqual(pick("join"), {
      type: "pulumi-nodejs:dynamic/host:ZerotierHostJoin",
      secretOutputs: ["callerField", "connection"],
    });
  });
});

/* eslint-disable @typescript-eslint/no-explicit-any -- ssh2's server callbacks are untyped here */
/**
 * An SSH server on 127.0.0.1 holding an in-memory file tree, answering the command shapes a POSIX
 * shell runs for AuthorizedKeys (POSIX.1-2017 Shell & Utilities: `test -e`, `cat`, `mv`;
 * getent(1) prints the passwd(5) line, `cut -d: -f6` its home field): a home lookup, a read that
 * exits 3 when the file is absent, `install -d`/`chown` (accepted), and the atomic write
 * `cat > tmp && chmod && mv` with the body on stdin. Anything else exits 127. Records each command.
 */
async function hostShell(clientPub: string, files: Map<string, string>) {
  const { Server, utils } = require("ssh2");
  const k = utils.generateKeyPairSync("ed25519");
  const hostBlob = utils.parseKey(k.public).getPublicSSH() as Buffer;
  const allowed = utils.parseKey(clientPub).getPublicSSH() as Buffer;
  const homes: Record<string, string> = { root: "/root" };
  const commands: string[] = [];
  const q = "'([^']*)'";
  const run = (cmd: string, stdin: string): { out: string; code: number } => {
    let m = new RegExp(`^getent passwd ${q} \\| cut -d: -f6$`).exec(cmd);
    if (m) return { out: homes[m[1]] ? `${homes[m[1]]}\n` : "", code: 0 };
    m = new RegExp(`^if \\[ -e ${q} \\]; then cat ${q}; else exit 3; fi$`).exec(cmd);
    if (m) return files.has(m[1]) ? { out: files.get(m[1])!, code: 0 } : { out: "", code: 3 };
    if (new RegExp(`^install -d -m 0700 -o ${q} ${q}$`).test(cmd)) return { out: "", code: 0 };
    if (new RegExp(`^chown ${q} ${q}$`).test(cmd)) return { out: "", code: 0 };
    m = new RegExp(`^umask 077 && cat > ${q} && chmod [0-7]+ ${q} && mv -f ${q} ${q}$`).exec(cmd);
    if (m && m[1] === m[2] && m[2] === m[3]) {
      files.set(m[4], stdin);
      return { out: "", code: 0 };
    }
    return { out: "", code: 127 };
  };
  const server = new Server({ hostKeys: [k.private] }, (client: any) => {
    client.on("authentication", (ctx: any) => {
      if (ctx.method === "publickey" && Buffer.compare(ctx.key.data, allowed) === 0) ctx.accept();
      else ctx.reject(["publickey"]);
    });
    client.on("ready", () =>
      client.on("session", (accept: any) =>
        accept().on("exec", (acc: any, _rej: any, info: any) => {
          const ch = acc();
          commands.push(info.command);
          let stdin = "";
          ch.on("data", (d: Buffer) => (stdin += d.toString("utf8")));
          const finish = () => {
            const r = run(info.command, stdin);
            if (r.out) ch.write(r.out);
            ch.exit(r.code);
            ch.end();
          };
          // A write sends its body on stdin and then EOF; every other command sends nothing.
          if (info.command.startsWith("umask 077 && cat > ")) ch.on("end", finish);
          else finish();
        }),
      ),
    );
    client.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as { port: number }).port,
    fingerprint: sshFingerprint(hostBlob),
    commands,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

describe("state compatibility: AuthorizedKeys state written before the kit refreshes and updates", function () {
  this.timeout(60_000);
  const PATH = "/root/.ssh/authorized_keys";
  const OTHER =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl someone-else";

  it("refresh keeps the old outputs, a no-op up changes nothing, an update rewrites only the block", async () => {
    const { utils } = require("ssh2");
    const client = utils.generateKeyPairSync("ed25519");
    const fx = fixture("host-authorized-keys");
    const keys = fx.outputs.keys as string[];
    const files = new Map([[PATH, setManagedBlock(`${OTHER}\n`, "build-1", keys)]]);
    const srv = await hostShell(client.public, files);
    const { authorizedKeysProvider } = await import("../../providers/host/authorized-keys");
    const { serializeFunction } = require("@pulumi/pulumi/runtime/closure/serializeClosure");
    const text = (await serializeFunction(() => authorizedKeysProvider, { allowSecrets: true }))
      .text as string;
    const engine = await EngineService.start(() => undefined);
    const host = await DynamicProviderHost.start({
      repoRoot: REPO,
      engineAddress: engine.address,
      project: "g8os",
      stack: "build-1",
      config: {},
      env: {},
      nodePath: process.execPath,
      onOutput: () => undefined,
    });
    try {
      const connection = {
        addresses: [{ host: "127.0.0.1", port: srv.port }],
        privateKeys: [client.private],
        user: "root",
        hostKeySha256: srv.fingerprint,
      };
      const oldInputs = { ...fx.checked, connection };
      const olds = { ...fx.outputs, connection, __provider: text };
      const ctx = {
        urn: "urn:pulumi:build-1::g8os::pulumi-nodejs:dynamic/host:AuthorizedKeys::keys",
        type: "pulumi-nodejs:dynamic/host:AuthorizedKeys",
        name: "keys",
        secrets: [],
      };
      const id = `${PATH}#build-1`;
      const read = await host.read(ctx, id, olds, oldInputs);
      assert.equal(read.id, id);
      assert.deepEqual(read.outputs, olds);
      // Read on the host, not kept because it was unreachable.
      assert.deepEqual(
        srv.commands.map((c) => c.split(" ")[0]),
        ["getent", "if"],
      );

      const checked = await host.check(ctx, oldInputs, { ...fx.raw, connection, __provider: text });
      assert.deepEqual(checked.failures, []);
      const d = await host.diff(ctx, id, read.outputs, checked.inputs, oldInputs);
      assert.deepEqual([d.changes, d.replaces], [false, []]);

      const fewer = { ...checked.inputs, keys: keys.slice(1) };
      const updated = await host.update(ctx, id, read.outputs, fewer, oldInputs);
      assert.deepEqual(updated.keys, keys.slice(1));
      assert.equal(updated.path, PATH);
      const content = files.get(PATH)!;
      assert.deepEqual(readManagedBlock(content, "build-1"), keys.slice(1));
      assert.ok(content.startsWith(`${OTHER}\n`), "the key outside the block is kept");
      const again = await host.read(ctx, id, updated, fewer);
      assert.deepEqual(again.outputs.keys, keys.slice(1));
      assert.ok(!srv.commands.some((c) => /^(?!getent|if \[ -e |install -d |chown |umask 077 )/.test(c)));
    } finally {
      await host.stop();
      await engine.stop();
      await srv.close();
    }
  });
});
