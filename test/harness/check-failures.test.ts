/**
 * Every product provider's check failures on bad inputs, in the shape the CLI shows them:
 * the engine prints each failure as `<urn>: <property>: <reason>` (pulumi/pulumi
 * pkg/resource/deploy/step_generator.go `checkResource` -> diag `resourceInvalid`; the harness:
 * `<urn>: check failed: <property>: <reason>`). The project's shape is `field: problem. Fix: ...`,
 * so every reason must end in a fix. Inputs tried: `{}`, then every property the first check
 * named set to one wrong value after another (number, empty and blank strings, lists, objects), so
 * the nested and cross-field checks speak too.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from ".";

interface Failure {
  property: string;
  reason: string;
}

interface Found {
  /** `<file>#<export>`, e.g. `providers/ipfs/pin.ts#ipfsPinProvider`. */
  provider: string;
  /** The failures of `check({}, {})`. */
  failures: Failure[];
  /** The failures of the WRONG probes. */
  probed: Failure[];
}

/** Wrong values each top-level property named by the `{}` check is set to, one probe each. */
const WRONG: unknown[] = [42, "", " x ", [42], [{}], [""], { a: 1 }, { a: "" }];

/**
 * Every exported dynamic ResourceProvider under providers/ and workflows/ (index.ts re-exports
 * skipped), checked with `{}` (`failures`) and with the WRONG probes (`probed`: all their failures).
 */
async function checkEveryProvider(): Promise<Found[]> {
  const root = REPO_ROOT;
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".ts") && e.name !== "index.ts" && !p.endsWith(".d.ts")) files.push(p);
    }
  };
  walk(path.join(root, "providers"));
  walk(path.join(root, "workflows"));
  const found: Found[] = [];
  for (const file of files.sort()) {
    const mod = require(file) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      const p = value as { check?: unknown; create?: unknown } | null;
      if (!p || typeof p !== "object" || typeof p.check !== "function" || typeof p.create !== "function")
        continue;
      const check = p.check as (olds: object, news: object) => Promise<{ failures?: Failure[] }>;
      const r = await check.call(p, {}, {});
      const failures = r.failures ?? [];
      const props = [...new Set(failures.map((f) => f.property.split(/[.[]/)[0]))];
      const probed: Failure[] = [];
      for (const v of WRONG) {
        const bad = Object.fromEntries(props.map((k) => [k, v]));
        probed.push(...((await check.call(p, {}, bad)).failures ?? []));
      }
      found.push({ provider: `${path.relative(root, file)}#${name}`, failures, probed });
    }
  }
  return found;
}

const hasFix = (f: Failure) => /\S\. Fix: \S/.test(f.reason);

describe("engine harness: every provider's check failures, as the CLI shows them", function () {
  this.timeout(120_000);
  let found: Found[];
  before(async () => {
    found = await checkEveryProvider();
  });

  it("finds every provider, and each refuses empty inputs with a property and a reason per failure", () => {
    // 18 dynamic resources today: a walk finding fewer lost some.
    assert.ok(found.length >= 18, `found ${found.map((f) => f.provider).join(", ")}`);
    for (const { provider, failures, probed } of found) {
      assert.ok(failures.length > 0, `${provider}: accepts empty inputs`);
      for (const f of failures) {
        assert.ok(f.property && !/\[\d+\]/.test(f.property), `${provider}: property "${f.property}"`);
        assert.ok(f.reason.trim(), `${provider}: ${f.property}: empty reason`);
      }
      // Wrong lists give element paths (`keys[0]`), never a bare index.
      for (const f of probed) {
        assert.ok(f.property && !/^\[/.test(f.property), `${provider}: property "${f.property}"`);
        assert.ok(f.reason.trim(), `${provider}: ${f.property}: empty reason`);
      }
    }
  });

  it("every reason, on empty and on wrong inputs, reads 'problem. Fix: ...'", () => {
    const without = found
      .map((p) => ({
        provider: p.provider,
        failures: [...p.failures, ...p.probed]
          .filter((f) => !hasFix(f))
          .map((f) => `${f.property}: ${f.reason}`),
      }))
      .filter((p) => p.failures.length > 0);
    assert.deepStrictEqual(without, []);
  });

  it("the wrong-value probes reach checks the empty input does not (nested paths)", () => {
    const nested = found.filter((p) => p.probed.some((f) => /[.[]/.test(f.property)));
    assert.ok(nested.length >= 5, `nested failures only in ${nested.map((p) => p.provider).join(", ")}`);
  });
});
