/**
 * Pulumi.yaml's `config:` schema is the list of known keys (unknown ones are refused with a "did you
 * mean"). This keeps it honest both ways: running the program over configurations that take every
 * branch (each key source, VMs with an initrd, build runs, the grid) must read exactly the schema's
 * keys, no fewer and no more. Also: a program error reaches the CLI as a pulumi.RunError.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { asRunError } from "../../stacks";
import { ConfigReader, PROJECT_FILE, schemaDefaults, schemaKeys } from "../../stacks/config-reader";
import { didYouMean } from "../../providers/shared/validate";
import { validBuildConfig, vmConfig } from "./fixtures";
import { runStacksUnderMocks, type BatchRun } from "./run-stack";

const KNOWN_HOST =
  "10.147.17.2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq1e8x8pt4iIhBPg6w9kJh6zV+q7dK0P5c7V8z";

describe("config schema (Pulumi.yaml) and the keys the program reads", function () {
  this.timeout(300_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-schema-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the program reads every schema key, and only schema keys", () => {
    const itsyou = validBuildConfig();
    delete itsyou["g8os:keySource"];
    const runs: BatchRun[] = [
      {
        stack: "build-1",
        config: {
          ...itsyou,
          "g8os:envNumber": "1",
          "g8os:itsyouonlineClientId": "ci",
          "g8os:itsyouonlineClientSecret": { secret: "s3cret-iyo" },
        },
      },
      {
        stack: "build-2",
        config: {
          ...validBuildConfig(),
          "g8os:keySource": "keys-url",
          "g8os:keySourceUrl": "https://github.com",
          "g8os:keyUsers": JSON.stringify(["alice"]),
        },
      },
      {
        stack: "build-3",
        config: {
          ...validBuildConfig(),
          ...vmConfig(),
          "g8os:core0InitrdUrl": "https://example.org/core0/initrd",
          "g8os:core0InitrdSha256": "c".repeat(64),
          "g8os:buildTreeDir": "test/build/fixtures/tree",
          "g8os:ipfsApiUrl": "http://10.147.17.2:5001",
          "g8os:ipfsGatewayUrl": "http://10.147.17.2:8080",
          "g8os:templatesRepoUrl": "ssh://git@10.147.17.2/gig/ays_templates.git",
          "g8os:templatesBranches": JSON.stringify(["master", "stable"]),
          "g8os:templatesKnownHosts": KNOWN_HOST,
        },
      },
      { stack: "grid-1", config: { "g8os:gridRedisPassword": { secret: "grid-pw" } } },
    ];
    const results = runStacksUnderMocks(runs.map((r) => ({ ...r, preview: false })));
    results.forEach((r, i) => assert.strictEqual(r.error, undefined, `${runs[i].stack}: ${r.error}`));
    const read = [...new Set(results.flatMap((r) => r.keysRead ?? []))].sort();
    const schema = schemaKeys().sort();
    assert.deepStrictEqual(
      read.filter((k) => !schema.includes(k)),
      [],
      "keys the program reads that Pulumi.yaml's config: lacks",
    );
    assert.deepStrictEqual(
      schema.filter((k) => !read.includes(k)),
      [],
      "schema keys the program never reads",
    );
  });

  it("a key missing from the schema is refused when read (program bug) and when set (typo)", () => {
    const file = path.join(dir, "Pulumi.yaml");
    fs.writeFileSync(file, "name: g8os\nconfig:\n  telegramChatId: {type: string}\n");
    assert.deepStrictEqual(schemaKeys(file), ["telegramChatId"]);
    pulumi.runtime.setAllConfig({ "g8os:telegramChatid": "-1001", "other:key": "x" }, []);
    const r = new ConfigReader();
    r.checkUnknownKeys();
    // The real schema knows telegramChatId: the typo gets it as the suggestion, other namespaces are left alone.
    assert.deepStrictEqual(r.problems, [
      "g8os:telegramChatid: is not a g8os setting (did you mean g8os:telegramChatId?). Fix: `pulumi config rm g8os:telegramChatid` and set g8os:telegramChatId instead",
    ]);
    r.string("noSuchKey");
    assert.match(
      r.problems[1],
      /^g8os:noSuchKey: is read by the program but missing from Pulumi\.yaml's config schema/,
    );
    pulumi.runtime.setAllConfig({}, []);
  });

  it("did-you-mean: near typos and shortened names, nothing for unrelated names", () => {
    const known = ["zerotierRoutes", "zerotierPools", "timeoutSeconds", "memoryMb"];
    assert.strictEqual(didYouMean("zerotierRoute", known), "zerotierRoutes");
    assert.strictEqual(didYouMean("ZeroTierPools", known), "zerotierPools");
    assert.strictEqual(didYouMean("timeout", known), "timeoutSeconds");
    assert.strictEqual(didYouMean("colour", known), undefined);
  });
});

describe("config as the CLI passes it (schema defaults filled in)", function () {
  this.timeout(300_000);

  it("every schema key has a default, so the CLI requires no key of the other stack kind", () => {
    const d = schemaDefaults();
    assert.deepStrictEqual(
      Object.keys(d).filter((k) => d[k] === undefined),
      [],
      "keys the CLI would demand in every stack",
    );
    // A declared type makes the CLI check the key itself and stop at the first mismatch.
    const yaml = require("js-yaml") as typeof import("js-yaml");
    const doc = yaml.load(fs.readFileSync(PROJECT_FILE, "utf8")) as { config: Record<string, object> };
    assert.deepStrictEqual(
      Object.entries(doc.config)
        .filter(([, v]) => "type" in v || "secret" in v)
        .map(([k]) => k),
      [],
      "keys the CLI would check one at a time (type) or refuse with their plain default (secret)",
    );
  });

  it("valid stacks with every unset key at its schema default run as without them", () => {
    const d = schemaDefaults();
    /** The CLI hands the program every key: the stack's value, else the schema default. */
    const cli = (cfg: Record<string, string | { secret: string }>) => {
      const out = { ...cfg };
      for (const [k, v] of Object.entries(d))
        if (!(`g8os:${k}` in out) && v !== undefined) out[`g8os:${k}`] = v;
      return out;
    };
    const runs: BatchRun[] = [
      { stack: "build-1", config: cli(validBuildConfig()) },
      { stack: "build-1", config: cli({ ...validBuildConfig(), ...vmConfig() }) },
      { stack: "grid-1", config: cli({ "g8os:gridRedisPassword": { secret: "grid-pw" } }) },
    ];
    const results = runStacksUnderMocks(runs.map((r) => ({ ...r, preview: false })));
    results.forEach((r, i) => assert.strictEqual(r.error, undefined, `${runs[i].stack}: ${r.error}`));
    // The defaults did what leaving the keys unset does: default pool and the VMs' default addresses.
    const net = (results[0].resources ?? []).find((x) => x.type.endsWith("zerotier:Network"));
    assert.deepStrictEqual(net?.inputs.ipAssignmentPools, [{ start: "10.147.17.10", end: "10.147.17.250" }]);
    const members = (results[1].resources ?? [])
      .filter((x) => x.type.endsWith("zerotier:Member"))
      .map((m) => (m.inputs.ipAssignments as string[])[0])
      .sort();
    assert.deepStrictEqual(members, [
      "10.147.17.1",
      "10.147.17.2",
      "10.147.17.3",
      "10.147.17.4",
      "10.147.17.5",
    ]);
    // Required keys left at their "" default are still reported as required, with the fix.
    const bare = runStacksUnderMocks([{ stack: "build-1", config: cli({}) }])[0];
    assert.match(
      bare.error ?? "",
      /g8os:telegramChatId: is required\. Fix: `pulumi config set g8os:telegramChatId/,
    );
    assert.match(
      bare.error ?? "",
      /g8os:bootstrapPrivateKey: \(SSH private key for the physical host\) is required/,
    );
  });
});

describe("program errors reach the CLI as pulumi.RunError", () => {
  it("keeps a RunError, converts the project's own errors to their message, marks bugs", () => {
    const run = new pulumi.RunError("g8os configuration has 1 problem");
    assert.strictEqual(asRunError(run), run);
    const sel = Object.assign(new Error("stack x is not a g8os stack"), { name: "StackSelectionError" });
    const own = asRunError(sel);
    assert.ok(pulumi.RunError.isInstance(own));
    assert.strictEqual(own.message, "stack x is not a g8os stack");
    const prev = process.env.G8OS_DEBUG;
    delete process.env.G8OS_DEBUG;
    const bug = asRunError(new TypeError("cannot read properties of undefined (reading 'x')"));
    if (prev !== undefined) process.env.G8OS_DEBUG = prev;
    assert.ok(pulumi.RunError.isInstance(bug));
    assert.match(bug.message, /^g8os program error \(TypeError\): cannot read properties/);
    assert.match(bug.message, /bug in the program/);
    assert.doesNotMatch(bug.message, /\n\s+at /, "no stack trace unless G8OS_DEBUG is set");
    assert.ok(pulumi.RunError.isInstance(asRunError("a string")));
  });
});
