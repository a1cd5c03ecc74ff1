/**
 * The state-compat method shared by the suites that prove a resource on the kit reads state written
 * before it (test/unit/state-compat*.test.ts). A fixture holds `raw` (what the old constructor
 * sent), `checked` (what the old check returned) and `outputs` (what the old create returned); for
 * each case:
 *  - check(raw) returns exactly `checked`, without failures, and check(checked) too (idempotent);
 *    with `bareRaw`, the old defaults are filled in as before, also for an unknown (preview) value;
 *  - diff(outputs, checked) reports no changes, in the provider's and the kit's detailed diff;
 *  - changing the replace field (if any) replaces exactly that field; each update field updates
 *    exactly that field in place;
 *  - with `type`, the serialized provider gives the same check and diff through the real
 *    dynamic-provider host, as the engine calls it on an existing stack.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import type { Fields, ResourceKit } from "../../providers/shared/resource-kit";
import { DynamicProviderHost } from "../harness/dynamic-host";
import { EngineService } from "../harness/engine-service";

const REPO = path.resolve(__dirname, "../..");
/** The engine's unknown-value sentinel, as a preview's check receives it. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface StateCompatFixture {
  raw: Record<string, unknown>;
  checked: Record<string, unknown>;
  outputs: Record<string, unknown>;
  /** Optional: minimal raw inputs and what the old check made of them (its defaults). */
  bareRaw?: Record<string, unknown>;
  bareChecked?: Record<string, unknown>;
}

export interface StateCompatCase {
  /** Fixture file name, without `.json`, in the suite's fixtures directory. */
  fixture: string;
  load: () => Promise<{ kit: ResourceKit<Fields>; provider: pulumi.dynamic.ResourceProvider }>;
  /** A replace field and a new (valid) value; none when the resource never replaces. */
  replace?: [string, unknown];
  /** With `replace`: the delete-before-replace the diff must ask for (not checked when absent). */
  deleteBeforeReplace?: boolean;
  /** Update fields and new (valid) values: each changes in place. */
  updates: [string, unknown][];
  /** With the fixture's bareRaw: a field set to an unknown value, to check the defaults at preview. */
  bareUnknownField?: string;
  /** The old type token: also run check and diff through the real dynamic-provider host. */
  type?: string;
}

export function readFixture(dir: string, name: string): StateCompatFixture {
  return JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), "utf8")) as StateCompatFixture;
}

/**
 * Starts the real dynamic-provider host (and an engine service for it), runs `fn` with it and the
 * serialized text of `provider` (the `__provider` input), and stops both.
 */
export async function withProviderHost<T>(
  provider: pulumi.dynamic.ResourceProvider,
  fn: (host: DynamicProviderHost, providerText: string) => Promise<T>,
): Promise<T> {
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
    return await fn(host, text);
  } finally {
    await host.stop();
    await engine.stop();
  }
}

/** One `describe` per case, with the tests listed in the header. */
export function defineStateCompatCases(fixturesDir: string, cases: StateCompatCase[]): void {
  for (const c of cases) {
    describe(c.fixture, () => {
      const fx = readFixture(fixturesDir, c.fixture);
      it("check(old raw inputs) gives the same inputs, no failures; check is idempotent", async () => {
        const { provider } = await c.load();
        const r = await provider.check!({}, fx.raw);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.inputs, fx.checked);
        assert.deepEqual((await provider.check!({}, fx.checked)).inputs, fx.checked);
        if (fx.bareRaw) assert.deepEqual((await provider.check!({}, fx.bareRaw)).inputs, fx.bareChecked);
      });
      if (fx.bareRaw && c.bareUnknownField) {
        const field = c.bareUnknownField;
        it("an unknown value (preview) still gets the defaults the old check filled in", async () => {
          const { provider } = await c.load();
          const r = await provider.check!({}, { ...fx.bareRaw, [field]: UNKNOWN });
          assert.deepEqual(r.inputs, { ...fx.bareChecked, [field]: UNKNOWN });
        });
      }
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
          if (c.deleteBeforeReplace !== undefined)
            assert.equal(!!d.deleteBeforeReplace, c.deleteBeforeReplace, "delete before replace");
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
      const type = c.type;
      if (type) {
        it("the serialized provider answers the same through the real dynamic-provider host", async function () {
          this.timeout(60_000);
          const { provider } = await c.load();
          await withProviderHost(provider, async (host, text) => {
            const ctx = {
              urn: `urn:pulumi:build-1::g8os::${type}::${c.fixture}`,
              type,
              name: c.fixture,
              secrets: [],
            };
            const checked = await host.check(ctx, fx.checked, { ...fx.raw, __provider: text });
            assert.deepStrictEqual(checked.failures, []);
            const { __provider, ...inputs } = checked.inputs;
            assert.strictEqual(__provider, text);
            assert.deepEqual(inputs, fx.checked);
            const d = await host.diff(
              ctx,
              "id",
              { ...fx.outputs, __provider: text },
              checked.inputs,
              fx.checked,
            );
            assert.deepEqual([d.changes, d.replaces], [false, []]);
          });
        });
      }
    });
  }
}
