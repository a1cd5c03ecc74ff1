/**
 * State written before the libvirt resources moved onto the resource kit still checks and diffs
 * with no changes (the kit's state-compat method, test/unit/state-compat.test.ts, for
 * LibvirtVolume, CloudInitSeed, KvmHostSetup and LibvirtDomain). Fixtures (test/unit/fixtures/state-compat/libvirt-*.json) were
 * captured from this branch's pre-kit check (same rules as main 17b7a7f) and create's output shape.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import type { Fields, ResourceKit } from "../../providers/shared/resource-kit";

interface Fixture {
  raw: Record<string, unknown>;
  checked: Record<string, unknown>;
  outputs: Record<string, unknown>;
  /** Optional: minimal raw inputs and what the old check made of them (defaults). */
  bareRaw?: Record<string, unknown>;
  bareChecked?: Record<string, unknown>;
}

const CASES: {
  fixture: string;
  load: () => Promise<{ kit: ResourceKit<Fields>; provider: pulumi.dynamic.ResourceProvider }>;
  replace: [string, unknown];
  update: [string, unknown];
  /** Replace without delete-before-replace (KvmHostSetup). */
  createFirst?: boolean;
}[] = [
  {
    fixture: "libvirt-volume",
    load: async () => {
      const m = await import("../../providers/libvirt/volume");
      return { kit: m.volumeKit as unknown as ResourceKit<Fields>, provider: m.volumeProvider };
    },
    replace: ["sha256", "f".repeat(64)],
    update: ["downloadTimeoutSeconds", 600],
  },
  {
    fixture: "libvirt-seed",
    load: async () => {
      const m = await import("../../providers/libvirt/seed");
      return { kit: m.seedKit as unknown as ResourceKit<Fields>, provider: m.seedProvider };
    },
    replace: ["host", "10.147.17.9"],
    update: ["userData", "#cloud-config\nhostname: other\n"],
  },
  {
    fixture: "libvirt-host-setup",
    load: async () => {
      const m = await import("../../providers/libvirt/host-setup");
      return { kit: m.hostSetupKit as unknown as ResourceKit<Fields>, provider: m.hostSetupProvider };
    },
    replace: ["poolDir", "/srv/other-pool"],
    createFirst: true,
    update: ["domainType", "qemu"],
  },
  {
    fixture: "libvirt-domain",
    load: async () => {
      const m = await import("../../providers/libvirt/domain");
      return { kit: m.domainKit as unknown as ResourceKit<Fields>, provider: m.domainProvider };
    },
    replace: ["seedIso", "/var/lib/g8os/images/build-1-node-seed-99999999.iso"],
    update: ["memoryMiB", 8192],
  },
];

function fixture(name: string): Fixture {
  return JSON.parse(
    fs.readFileSync(path.join(__dirname, "fixtures", "state-compat", `${name}.json`), "utf8"),
  ) as Fixture;
}

describe("state compatibility: libvirt resources on the kit read state written before it", () => {
  for (const c of CASES) {
    describe(c.fixture, () => {
      const fx = fixture(c.fixture);
      it("check(old raw inputs) gives the same inputs, no failures; check is idempotent", async () => {
        const { provider } = await c.load();
        const r = await provider.check!({}, fx.raw);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.inputs, fx.checked);
        assert.deepEqual((await provider.check!({}, fx.checked)).inputs, fx.checked);
        if (fx.bareRaw) {
          // Defaults filled in exactly as before (KvmHostSetup: domainType, installPackages).
          assert.deepEqual((await provider.check!({}, fx.bareRaw)).inputs, fx.bareChecked);
        }
      });
      if (fx.bareRaw) {
        it("an unknown value (preview) still gets the defaults the old check filled in", async () => {
          const { provider } = await c.load();
          const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
          const r = await provider.check!({}, { ...fx.bareRaw, host: UNKNOWN });
          assert.deepEqual(r.inputs, { ...fx.bareChecked, host: UNKNOWN });
        });
      }
      it("diff(old outputs, checked inputs) reports no changes", async () => {
        const { kit, provider } = await c.load();
        const d = await provider.diff!("id", fx.outputs, fx.checked);
        assert.deepEqual([d.changes, d.replaces ?? []], [false, []]);
        assert.deepEqual(kit.diff(fx.outputs, fx.checked).detailedDiff, {});
      });
      const [rf, rv] = c.replace;
      it(`changing ${rf} replaces exactly that field`, async () => {
        const { provider } = await c.load();
        const news = { ...fx.checked, [rf]: rv };
        assert.deepEqual((await provider.check!({}, news)).failures, []);
        const d = await provider.diff!("id", fx.outputs, news);
        assert.deepEqual([d.changes, d.replaces, !!d.deleteBeforeReplace], [true, [rf], !c.createFirst]);
      });
      const [uf, uv] = c.update;
      it(`changing ${uf} updates exactly that field in place`, async () => {
        const { kit, provider } = await c.load();
        const news = { ...fx.checked, [uf]: uv };
        assert.deepEqual((await provider.check!({}, news)).failures, []);
        const d = await provider.diff!("id", fx.outputs, news);
        assert.deepEqual([d.changes, d.replaces ?? []], [true, []]);
        assert.deepEqual(kit.diff(fx.outputs, news).detailedDiff, { [uf]: { kind: "update" } });
      });
    });
  }
});
