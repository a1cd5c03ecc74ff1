/**
 * State written by the build resources before they moved onto the resource kit still checks and
 * diffs with no changes. Fixtures (test/build/fixtures/state-compat/<resource>.json) were captured
 * at f925b41 (the workflows move, before the kit): `raw` is what the constructor sends, `checked`
 * what that code's check returned for it, `outputs` the shape its create returned (built from the
 * code, see each fixture's `captured`). No remote call: check and diff only. The type tokens and
 * the secret outputs are those the constructors used before (module "build").
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { appBuildProvider, appTestProvider, templatesReleaseProvider } from "../../workflows";
import { appBuildKit } from "../../workflows/app-build/check";
import { appTestKit } from "../../workflows/app-test/check";
import { templatesReleaseKit } from "../../workflows/templates-release/check";

interface Fixture {
  raw: Record<string, unknown>;
  checked: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

interface Case {
  fixture: string;
  provider: pulumi.dynamic.ResourceProvider;
  /** The resource's kit declaration, its type token (module, type) before the kit, and its secret outputs. */
  kit: { decl: { module: string; type: string }; secretNames(): string[] };
  token: [string, string];
  secretOutputs: string[];
  /** A change of the raw inputs that must make the resource run again (in place). */
  update: (raw: Record<string, unknown>) => Record<string, unknown>;
  /** A change that must replace, with the field it replaces on; undefined: never replaces. */
  replace?: [(raw: Record<string, unknown>) => Record<string, unknown>, string];
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const CASES: Case[] = [
  {
    fixture: "app-build",
    provider: appBuildProvider,
    kit: appBuildKit,
    token: ["build", "AppBuild"],
    secretOutputs: ["buildNode"],
    update: (raw) => ({ ...raw, sourceCommit: "d".repeat(40) }),
    replace: [(raw) => ({ ...raw, app: "hello2", spec: { ...(raw.spec as object), name: "hello2" } }), "app"],
  },
  {
    fixture: "app-test",
    provider: appTestProvider,
    kit: appTestKit,
    token: ["build", "AppTest"],
    secretOutputs: ["leftovers"],
    update: (raw) => {
      const r = clone(raw) as { apps: Array<{ tests: Array<{ command: string }> }> };
      r.apps[0].tests[0].command = "bash";
      return r;
    },
  },
  {
    fixture: "templates-release",
    provider: templatesReleaseProvider,
    kit: templatesReleaseKit,
    token: ["build", "TemplatesRelease"],
    secretOutputs: [],
    update: (raw) => {
      const r = clone(raw) as { apps: Array<{ plist: string }> };
      r.apps[0].plist += "/etc/hello.conf|bafk...|1|root|root|420|2|0|0|\n";
      return r;
    },
  },
];

function fixture(name: string): Fixture {
  const p = path.join(__dirname, "fixtures", "state-compat", `${name}.json`);
  return JSON.parse(fs.readFileSync(p, "utf8")) as Fixture;
}

describe("build: state of AppBuild, AppTest and TemplatesRelease written before the kit", () => {
  for (const c of CASES) {
    describe(c.fixture, () => {
      const fx = fixture(c.fixture);
      it("keeps its type token (so its URN) and its secret outputs", () => {
        assert.deepEqual([c.kit.decl.module, c.kit.decl.type], c.token);
        assert.deepEqual(c.kit.secretNames(), c.secretOutputs);
      });
      it("check(old raw inputs) gives the same inputs, no failures; check is idempotent", async () => {
        const r = await c.provider.check!({}, clone(fx.raw));
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.inputs, fx.checked);
        const again = await c.provider.check!({}, clone(fx.checked));
        assert.deepEqual(again.failures, []);
        assert.deepEqual(again.inputs, fx.checked);
      });
      it("diff(old outputs, checked inputs) reports no changes", async () => {
        const d = await c.provider.diff!("id", clone(fx.outputs), clone(fx.checked));
        assert.deepEqual([d.changes, d.replaces ?? []], [false, []]);
      });
      it("a change that must run again is an in-place change", async () => {
        const r = await c.provider.check!({}, c.update(clone(fx.raw)));
        assert.deepEqual(r.failures, []);
        const d = await c.provider.diff!("id", clone(fx.outputs), r.inputs);
        assert.deepEqual([d.changes, d.replaces ?? []], [true, []]);
      });
      if (c.replace) {
        const [change, field] = c.replace;
        it(`changing ${field} replaces exactly that field`, async () => {
          const r = await c.provider.check!({}, change(clone(fx.raw)));
          assert.deepEqual(r.failures, []);
          const d = await c.provider.diff!("id", clone(fx.outputs), r.inputs);
          assert.deepEqual([d.changes, d.replaces], [true, [field]]);
        });
      }
    });
  }
});
