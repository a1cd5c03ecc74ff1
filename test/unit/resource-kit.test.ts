/**
 * The resource kit (providers/shared/resource-kit.ts, kit-resource.ts): check, normalise, diff and
 * secret names derived from one declaration; the base class's props/options; derived Args types
 * carrying the field doc comments; the declaration surviving serialization as plain data.
 */
import { strict as assert } from "assert";
import * as path from "path";
import * as ts from "typescript";
import { UNKNOWN } from "../../providers/shared/dynamic";
import { InputError } from "../../providers/shared/errors";
import { declareResource, optional, required, withDefault } from "../../providers/shared/resource-kit";
import { kitResourceArgs } from "../../providers/shared/kit-resource";
import {
  collectFailures,
  expectationOf,
  intInRange,
  isBool,
  nonEmptyString,
  withFix,
} from "../../providers/shared/validate";

const fields = {
  /** Thing name. */
  name: required<string>({ validate: nonEmptyString }),
  /** Where it lives; replaces. */
  site: required<string>({ validate: nonEmptyString, change: "replace" }),
  /** How many. Default 2. */
  count: withDefault<number>(2, { validate: intInRange(1, 9) }),
  /** Enabled? */
  on: optional<boolean>({ validate: isBool }),
  /** Token, echoed in outputs. */
  token: withDefault<string>("", { secret: true }),
  /** Extra values to hide, not echoed. */
  hide: optional<string[]>({ secret: "input" }),
  /** Comment only: never diffed. */
  note: optional<string>({ change: "none" }),
  /** A field whose failures say what to do in its own words. */
  mode: optional<string>({
    validate: (v) => (v === "a" || v === "b" ? undefined : "is not a mode"),
    fix: 'set mode to "a" or "b"',
  }),
};

const kit = declareResource({
  kind: "Thing",
  module: "things",
  type: "Thing",
  fields,
  outputs: ["thingId"],
  secretOutputs: ["derived"],
  rules: (n) => [
    ...(n.count === 7 && n.on === false ? [{ property: "on", reason: "must be true when count is 7" }] : []),
    ...(n.count === 8 ? [{ property: "count", reason: "is unlucky", fix: "pick another count" }] : []),
  ],
});

describe("resource kit: check", () => {
  it("reports every failure at once, field checks first, then the rules hook, each with a fix", () => {
    const r = kit.check({ site: "", count: 7, on: false, mode: "c" });
    assert.deepEqual(r.failures, [
      // Missing: the fix says what the validator wants.
      { property: "name", reason: "is required. Fix: set name to a non-empty string" },
      { property: "site", reason: "must be a non-empty string. Fix: set site to a non-empty string" },
      // The field's own fix wins over the derived one.
      { property: "mode", reason: 'is not a mode. Fix: set mode to "a" or "b"' },
      // A rules reason without a fix gets one derived from its wording.
      { property: "on", reason: "must be true when count is 7. Fix: set on to true when count is 7" },
    ]);
    assert.deepEqual(kit.check({ name: "n", site: "s", count: 8 }).failures, [
      { property: "count", reason: "is unlucky. Fix: pick another count" },
    ]);
  });
  it("an unvalidated label field's fix names the resource's name; others point at the docs", () => {
    const k = declareResource({
      kind: "L",
      module: "m",
      type: "L",
      fields: { /** label */ name: required<string>(), /** other */ spec: required<object>() },
    });
    assert.deepEqual(k.check({}).failures, [
      {
        property: "name",
        reason: "is required. Fix: set name to the resource's name (the resource's constructor passes it)",
      },
      {
        property: "spec",
        reason: "is required. Fix: set spec as the resource's documentation of spec describes",
      },
    ]);
  });
  it("returns the inputs with defaults (copied) and only declared fields when there is no failure", () => {
    const r = kit.check({ name: "a", site: "s", __provider: "xyz", thingId: undefined });
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.inputs, { name: "a", site: "s", count: 2, token: "" });
  });
  it("skips unknown values and returns the inputs unchanged while any is unknown", () => {
    const news = { name: UNKNOWN, site: "s" };
    const r = kit.check(news);
    assert.deepEqual(r.failures, []);
    assert.equal(r.inputs, news);
  });
  it("labels with the name field, or ? when it is not a string", () => {
    assert.equal(kit.label({ name: "a" }), 'Thing "a"');
    assert.equal(kit.label({ name: 1 }), 'Thing "?"');
  });
  it("normalise copies defaults: changing one result leaves the declaration intact", () => {
    const k = declareResource({
      kind: "L",
      module: "m",
      type: "L",
      fields: { /** list */ xs: withDefault<string[]>([]) },
    });
    (k.normalise({}).xs as string[]).push("x");
    assert.deepEqual(k.normalise({}).xs, []);
  });
});

describe("check failures end in a fix (validate.ts withFix, collectFailures)", () => {
  it("derives the fix from the reason's wording", () => {
    const cases: [string, string][] = [
      [
        "must be a CIDR like 10.0.0.0/24",
        "must be a CIDR like 10.0.0.0/24. Fix: set p.q to a CIDR like 10.0.0.0/24",
      ],
      [
        "host port must be a number from 1 to 65535",
        "host port must be a number from 1 to 65535. Fix: set the host port of p.q to a number from 1 to 65535",
      ],
      [
        "must list at least one branch",
        "must list at least one branch. Fix: make p.q list at least one branch",
      ],
      ["has host bits set; use 10.0.0.0/24", "has host bits set. Fix: use 10.0.0.0/24"],
      ["is bad. Fix: do this", "is bad. Fix: do this"],
    ];
    for (const [reason, want] of cases) assert.equal(withFix("p.q", reason), want);
  });
  it("else from what the validator expects, else points at the field's documentation", () => {
    assert.equal(
      withFix("keys[0]", "key body is too short", { check: (v) => (v ? "x" : "must be an ssh key line") }),
      "key body is too short. Fix: set keys[0] to an ssh key line",
    );
    assert.equal(
      withFix("spec.x", "is odd"),
      "is odd. Fix: set spec.x as the resource's documentation of spec describes",
    );
    assert.equal(expectationOf(intInRange(1, 9)), "a whole number from 1 to 9");
    assert.equal(
      expectationOf(() => "has spaces"),
      undefined,
    );
  });
  it("collectFailures: missing and bad values both get a fix, an explicit one first", () => {
    assert.deepEqual(
      collectFailures([
        { path: "a", value: undefined, check: intInRange(1, 9) },
        { path: "b", value: 0, check: intInRange(1, 9) },
        { path: "c", value: undefined, check: nonEmptyString, fix: "set c to the site's name" },
      ]),
      [
        { property: "a", reason: "is required. Fix: set a to a whole number from 1 to 9" },
        {
          property: "b",
          reason: "must be a whole number from 1 to 9. Fix: set b to a whole number from 1 to 9",
        },
        { property: "c", reason: "is required. Fix: set c to the site's name" },
      ],
    );
  });
});

describe("resource kit: diff", () => {
  const olds = { name: "a", site: "s", count: 2, token: "", note: "n", thingId: "1" };
  it("no change: no changes, no replaces", () => {
    const d = kit.diff(olds, { name: "a", site: "s", count: 2, token: "", note: "other" });
    assert.deepEqual([d.changes, d.replaces, d.changed, d.detailedDiff], [false, [], [], {}]);
  });
  it("names each changed field with its kind", () => {
    const d = kit.diff(olds, { name: "b", site: "t", count: 2, token: "" });
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, ["site"]);
    assert.deepEqual(d.detailedDiff, { site: { kind: "replace" }, name: { kind: "update" } });
  });
  it("an unknown value counts as a change", () => {
    const d = kit.diff(olds, { name: "a", site: "s", count: UNKNOWN, token: "" });
    assert.deepEqual(d.changed, ["count"]);
  });
  it("extra names compare outputs too", () => {
    const d = kit.diff({ ...olds, keys: ["k1"] }, { ...olds, keys: ["k2"] }, { update: ["keys"] });
    assert.deepEqual(d.detailedDiff, { keys: { kind: "update" } });
  });
  it("deleteBeforeReplace only when something replaces", () => {
    const k = declareResource({ ...kit.decl, deleteBeforeReplace: true });
    assert.equal(k.diff(olds, { ...olds, name: "b" }).deleteBeforeReplace, false);
    assert.equal(k.diff(olds, { ...olds, site: "t" }).deleteBeforeReplace, true);
  });
});

describe("resource kit: secrets and the base class arguments", () => {
  it("secret names: echoed secret fields and declared secret outputs, not input-only secrets", () => {
    assert.deepEqual(kit.secretNames(), ["token", "derived"]);
  });
  it("merges the caller's additionalSecretOutputs (kept first) with the declared ones", () => {
    const a = kitResourceArgs(kit, { name: "a" }, { additionalSecretOutputs: ["mine", "token"] });
    assert.deepEqual(a.opts.additionalSecretOutputs, ["mine", "token", "derived"]);
  });
  it("seeds declared outputs as undefined and wraps set secret fields", async () => {
    const pulumi = await import("@pulumi/pulumi");
    const props = { name: "a", token: "t0ken", hide: ["x"] };
    const a = kitResourceArgs(kit, props, undefined);
    assert.ok("thingId" in a.props && a.props.thingId === undefined);
    assert.ok(pulumi.Output.isInstance(a.props.token));
    assert.ok(pulumi.Output.isInstance(a.props.hide));
    assert.equal(a.props.name, "a");
    assert.notEqual(a.props, props);
    assert.equal(props.token, "t0ken");
    assert.ok(!("on" in a.props), "an unset secret or field is not added");
    assert.equal(await (a.props.token as unknown as { isSecret: Promise<boolean> }).isSecret, true);
  });
});

describe("resource kit: serialization", () => {
  it("the declaration and kit survive a function-text round trip (plain data and functions)", () => {
    // What the closure serializer does to a captured kit: values by value, functions by source.
    for (const v of Object.values(kit.decl.fields)) {
      for (const x of Object.values(v)) {
        assert.ok(["string", "boolean", "number", "function", "object"].includes(typeof x));
        if (x && typeof x === "object") assert.deepEqual(JSON.parse(JSON.stringify(x)), x);
      }
    }
    for (const f of [kit.check, kit.diff, kit.normalise, kit.label, kit.secretNames]) {
      assert.equal(typeof f, "function");
      assert.ok(!/\bclass\b|new (Set|Map)\b/.test(f.toString()));
    }
  });
  it("a provider using the kit serializes and its check runs from the serialized text", async () => {
    const pulumi = await import("@pulumi/pulumi");
    const { ipfsPinProvider } = await import("../../providers/ipfs/pin");
    const sf = await pulumi.runtime.serializeFunction(() => ipfsPinProvider, { isFactoryFunction: true });
    assert.ok(!sf.text.includes("@pulumi/pulumi"), "the serialized provider must not require Pulumi");
    const mod = { exports: {} as Record<string, unknown> };
    new Function("module", "exports", "require", sf.text)(mod, mod.exports, require);
    // isFactoryFunction: the export is the factory's result, the provider object itself.
    const provider = mod.exports[sf.exportName] as typeof ipfsPinProvider;
    assert.notEqual(provider, ipfsPinProvider);
    const r = await provider.check!({}, { apiUrl: "ftp://x", cid: "nope", name: "" });
    assert.deepEqual(
      r.failures?.map((f) => f.property),
      ["apiUrl", "cid", "name"],
    );
  });
});

describe("resource kit: derived Args carry the field doc comments", () => {
  it("IpfsPinArgs properties show the declaration's JSDoc (compiler API, like an editor)", function () {
    this.timeout(60_000);
    const file = path.join(__dirname, "__kit_doc_probe.ts");
    const text =
      'import type { IpfsPinArgs } from "../../providers/ipfs/pin";\n' +
      'import type { IpfsPinInputs } from "../../providers/ipfs/pin";\n' +
      'import type { ZerotierMemberArgs } from "../../providers/zerotier/member";\n' +
      'import type { Core0ContainerArgs } from "../../providers/core0/container";\n' +
      "declare const a: IpfsPinArgs;\ndeclare const i: IpfsPinInputs;\n" +
      "declare const z: ZerotierMemberArgs;\ndeclare const c: Core0ContainerArgs;\n";
    const host = ts.createCompilerHost({ strict: true, skipLibCheck: true });
    const read = host.readFile;
    host.readFile = (f) => (path.resolve(f) === file ? text : read(f));
    const exists = host.fileExists;
    host.fileExists = (f) => path.resolve(f) === file || exists(f);
    const program = ts.createProgram([file], { strict: true, skipLibCheck: true, noEmit: true }, host);
    const checker = program.getTypeChecker();
    const sf = program.getSourceFile(file)!;
    const docOf = (varName: string, prop: string): string => {
      let out = "";
      sf.forEachChild((n) => {
        if (ts.isVariableStatement(n)) {
          const d = n.declarationList.declarations[0];
          if (d.name.getText(sf) !== varName) return;
          const p = checker.getTypeAtLocation(d).getProperty(prop);
          assert.ok(p, `${varName}.${prop} exists`);
          out = ts.displayPartsToString(p.getDocumentationComment(checker));
        }
      });
      return out;
    };
    assert.match(docOf("a", "apiUrl"), /IPFS RPC API base URL/);
    assert.match(docOf("a", "remoteToken"), /Bearer token/);
    assert.match(docOf("a", "recursive"), /Default true/);
    assert.match(docOf("a", "pinName"), /Default: the resource name/);
    assert.match(docOf("i", "cid"), /The CID to keep pinned/);
    // Fields spread in from a shared declaration (zerotier/common.ts connectionFields) keep theirs.
    assert.match(docOf("z", "token"), /authtoken\.secret/);
    assert.match(docOf("c", "memoryMb"), /Admission check only/);
  });
});

describe("resource kit: errors", () => {
  it("IpfsPin's constructor-time error names resource, field and fix", async () => {
    const { IpfsPin } = await import("../../providers/ipfs/pin");
    assert.throws(
      () => new IpfsPin("p", { apiUrl: "http://127.0.0.1:1", cid: "x", remoteToken: "t" }),
      (e: unknown) => e instanceof InputError && e.field === "remoteToken" && /IpfsPin "p"/.test(e.message),
    );
  });
});
