/**
 * State written before AuthorizedKeys and ZerotierHostJoin moved onto the resource kit still
 * checks and diffs with no changes (the kit's state-compat method, test/unit/state-compat.test.ts).
 * Fixtures (test/unit/fixtures/state-compat/host-authorized-keys.json, zerotier-host-join.json)
 * were captured from the hand-written providers (main f47230a): `raw` is what the constructor
 * sends, `checked` what that check returned, `outputs` what its create (`apply`) returns. The
 * type tokens (URNs) and secret outputs are those of the old constructors; the serialized
 * providers give the same answers through the real dynamic-provider host, as the engine calls them
 * on an existing stack (refresh and update then run on the host: the testbed suites cover them).
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import type { Fields, ResourceKit } from "../../providers/shared/resource-kit";
import { DynamicProviderHost } from "../harness/dynamic-host";
import { EngineService } from "../harness/engine-service";

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
      ["-r", "ts-node/register/transpile-only", path.join(__dirname, "programs/hostvirt-registrations.ts")],
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
