/**
 * State written by the code before the resource kit still checks and diffs with no changes.
 * Fixtures (test/unit/fixtures/state-compat/<resource>.json) were captured from main 17b7a7f,
 * before each resource moved onto the kit: `raw` is what the constructor sends, `checked` what
 * that code's check returned for it, `outputs` the shape its create returned (built from the
 * code, see each fixture's `captured`). For each resource:
 *  - check(raw) returns exactly `checked`, without failures, and check(checked) too (idempotent);
 *  - provider diff(outputs, checked) reports no changes;
 *  - changing one replace field (when the resource has one) replaces exactly that field, and
 *    changing one update field updates exactly that one, per the kit's detailed diff.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import type { ResourceKit, Fields } from "../../providers/shared/resource-kit";

interface Fixture {
  raw: Record<string, unknown>;
  checked: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

interface Case {
  fixture: string;
  load: () => Promise<{ kit: ResourceKit<Fields>; provider: pulumi.dynamic.ResourceProvider }>;
  /** A replace field and a new (valid) value, or undefined when the resource never replaces. */
  replace?: [string, unknown];
  /** An update field and a new (valid) value. */
  update: [string, unknown];
}

const CASES: Case[] = [
  {
    fixture: "ipfs-pin",
    load: async () => {
      const m = await import("../../providers/ipfs/pin");
      return { kit: m.ipfsPinKit as unknown as ResourceKit<Fields>, provider: m.ipfsPinProvider };
    },
    replace: ["cid", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"],
    update: ["name", "site-2"],
  },
  {
    fixture: "telegram-message",
    load: async () => {
      const m = await import("../../providers/telegram/message");
      return {
        kit: m.telegramMessageKit as unknown as ResourceKit<Fields>,
        provider: m.telegramMessageProvider,
      };
    },
    update: ["key", "run-2"],
  },
  {
    fixture: "keys-group",
    load: async () => {
      const m = await import("../../providers/keys/group");
      return { kit: m.sshKeyGroupKit as unknown as ResourceKit<Fields>, provider: m.sshKeyGroupProvider };
    },
    // An inline source is fetched without network; another key changes source and the fetched keys.
    update: ["clientSecret", "not-used-by-inline"],
  },
  {
    fixture: "zerotier-network",
    load: async () => {
      const m = await import("../../providers/zerotier/network");
      return {
        kit: m.zerotierNetworkKit as unknown as ResourceKit<Fields>,
        provider: m.zerotierNetworkProvider,
      };
    },
    replace: ["backend", "central"],
    update: ["description", "the build network"],
  },
  {
    fixture: "zerotier-member",
    load: async () => {
      const m = await import("../../providers/zerotier/member");
      return {
        kit: m.zerotierMemberKit as unknown as ResourceKit<Fields>,
        provider: m.zerotierMemberProvider,
      };
    },
    replace: ["memberId", "0102030405"],
    update: ["authorized", false],
  },
  {
    fixture: "core0-node",
    load: async () => {
      const m = await import("../../providers/core0/node");
      return { kit: m.core0NodeKit as unknown as ResourceKit<Fields>, provider: m.core0NodeProvider };
    },
    replace: ["address", "10.147.17.21"],
    update: ["password", "redis-pass-2"],
  },
  {
    fixture: "core0-container",
    load: async () => {
      const m = await import("../../providers/core0/container");
      return {
        kit: m.core0ContainerKit as unknown as ResourceKit<Fields>,
        provider: m.core0ContainerProvider,
      };
    },
    replace: ["plistUrl", "https://hub.example.com/web-2.plist"],
    update: ["memoryMb", 256],
  },
];

function fixture(name: string): Fixture {
  const p = path.join(__dirname, "fixtures", "state-compat", `${name}.json`);
  return JSON.parse(fs.readFileSync(p, "utf8")) as Fixture;
}

describe("state compatibility: resources on the kit read state written before it", () => {
  for (const c of CASES) {
    describe(c.fixture, () => {
      const fx = fixture(c.fixture);
      it("check(old raw inputs) gives the same normalised inputs, no failures; check is idempotent", async () => {
        const { provider } = await c.load();
        const r = await provider.check!({}, fx.raw);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.inputs, fx.checked);
        const again = await provider.check!({}, fx.checked);
        assert.deepEqual(again.inputs, fx.checked);
      });
      it("diff(old outputs, checked inputs) reports no changes", async () => {
        const { kit, provider } = await c.load();
        const d = await provider.diff!("id", fx.outputs, fx.checked);
        assert.deepEqual([d.changes, d.replaces ?? []], [false, []]);
        assert.deepEqual(kit.diff(fx.outputs, fx.checked).detailedDiff, {});
      });
      if (c.replace) {
        const [field, value] = c.replace;
        it(`changing ${field} replaces exactly that field`, async () => {
          const { kit, provider } = await c.load();
          const news = { ...fx.checked, [field]: value };
          assert.deepEqual((await provider.check!({}, news)).failures, []);
          const d = await provider.diff!("id", fx.outputs, news);
          assert.deepEqual([d.changes, d.replaces], [true, [field]]);
          assert.deepEqual(kit.diff(fx.outputs, news).detailedDiff, { [field]: { kind: "replace" } });
        });
      }
      const [field, value] = c.update;
      it(`changing ${field} updates exactly that field in place`, async () => {
        const { kit, provider } = await c.load();
        const news = { ...fx.checked, [field]: value };
        assert.deepEqual((await provider.check!({}, news)).failures, []);
        const d = await provider.diff!("id", fx.outputs, news);
        assert.deepEqual([d.changes, d.replaces ?? []], [true, []]);
        assert.deepEqual(kit.diff(fx.outputs, news).detailedDiff, { [field]: { kind: "update" } });
      });
    });
  }
});
