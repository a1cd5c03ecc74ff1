/**
 * State written before AuthorizedKeys and ZerotierHostJoin moved onto the resource kit still
 * checks and diffs with no changes (the kit's state-compat method, test/unit/state-compat-suite.ts).
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
import * as path from "path";
import type { Fields, ResourceKit } from "../../providers/shared/resource-kit";
import { readManagedBlock, setManagedBlock } from "../../providers/host/authorized-keys-block";
import { TS_REGISTER } from "../ts-register-path";
import {
  defineStateCompatCases,
  readFixture,
  withProviderHost,
  type StateCompatCase,
} from "./state-compat-suite";
import { scriptedSshServer, type ScriptedAnswer } from "./scripted-ssh-server";

const REPO = path.resolve(__dirname, "../..");
const FIXTURES = path.join(__dirname, "fixtures", "state-compat");
const fixture = (name: string) => readFixture(FIXTURES, name);

const OTHER_CONNECTION = {
  addresses: [{ host: "10.147.17.31" }],
  privateKeys: ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3RoZXI=\n-----END OPENSSH PRIVATE KEY-----\n"],
};

const CASES: StateCompatCase[] = [
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
    deleteBeforeReplace: false, // the old block is removed after the new one is written
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

describe("state compatibility: AuthorizedKeys and ZerotierHostJoin on the kit read state written before it", () => {
  defineStateCompatCases(FIXTURES, CASES);

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

/**
 * An SSH server on 127.0.0.1 holding an in-memory file tree, answering the command shapes a POSIX
 * shell runs for AuthorizedKeys (POSIX.1-2017 Shell & Utilities: `test -e`, `cat`, `mv`;
 * getent(1) prints the passwd(5) line, `cut -d: -f6` its home field): a home lookup, a read that
 * exits 3 when the file is absent, `install -d`/`chown` (accepted), and the atomic write
 * `cat > tmp && chmod && mv` with the body on stdin. Anything else exits 127. Records each command.
 */
function hostShell(clientPub: string, files: Map<string, string>) {
  const homes: Record<string, string> = { root: "/root" };
  const q = "'([^']*)'";
  const run = (cmd: string, stdin: string): ScriptedAnswer => {
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
  // A write sends its body on stdin and then EOF; every other command sends nothing.
  return scriptedSshServer(clientPub, run, (cmd) => cmd.startsWith("umask 077 && cat > "));
}

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
    await withProviderHost(authorizedKeysProvider, async (host, text) => {
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
    }).finally(() => srv.close());
  });
});
