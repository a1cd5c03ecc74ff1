/**
 * Pulumi.yaml's `config:` schema applied as the CLI applies it (rules and sources in
 * project-config.ts): defaults fill unset keys, a declared key without a default is required,
 * `secret: true` needs a secret value, types are checked; the harness fails an operation on any
 * of these before the program runs. Also: the repo's own Pulumi.yaml accepts the configs the
 * stacks accept (a schema that disagrees with the program fails here).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Harness, REPO_ROOT } from ".";
import * as yaml from "js-yaml";
import {
  applyProjectSchema,
  loadProjectSchema,
  projectFileProblems,
  type ProjectSchema,
  type StackConfigValue,
} from "./project-config";
import { runStackUnderMocks, type StackRun } from "../unit/run-stack";
import { validBuildConfig } from "../unit/fixtures";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq1e8x8pt4iIhBPg6w9kJh6zV+q7dK0P5c7V8z alice@example";

describe("engine harness: the project config schema (Pulumi.yaml)", function () {
  this.timeout(120_000);
  let dir: string;
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-schema-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const schema = (): ProjectSchema =>
    loadProjectSchema(
      write(
        "Pulumi.yaml",
        [
          "name: p",
          "runtime: nodejs",
          "config:",
          "  port: {type: integer, default: 22}",
          "  flag: {type: boolean, default: false}",
          "  pools: {type: array, items: {type: string}, default: [a-b]}",
          "  token: {type: string, secret: true}",
          "  name: {type: string}",
          "  aws:region: {value: eu-west-1}",
        ].join("\n"),
      ),
    );

  it("fills defaults (text for primitives, JSON for lists) and values of other packages' keys", () => {
    const r = applyProjectSchema(schema(), "dev", { "p:token": { secret: "s" }, "p:name": "n" });
    assert.equal(r.error, undefined);
    assert.deepEqual(r.config, {
      "p:token": { secret: "s" },
      "p:name": "n",
      "p:port": "22",
      "p:flag": "false",
      "p:pools": '["a-b"]',
      "aws:region": "eu-west-1",
    });
    // A value set on the stack wins over the default.
    assert.equal(
      applyProjectSchema(schema(), "dev", { "p:token": { secret: "s" }, "p:name": "n", "p:port": "2222" })
        .config["p:port"],
      "2222",
    );
  });

  it("a declared key without a default is required: every missing one in one CLI-worded error", () => {
    assert.match(
      applyProjectSchema(schema(), "dev", {}).error ?? "",
      /^Stack 'dev' is missing configuration values 'name' and 'token'\. Fix: /,
    );
    assert.match(
      applyProjectSchema(schema(), "dev", { "p:name": "n" }).error ?? "",
      /^Stack 'dev' is missing configuration value 'token'\./,
    );
  });

  it("secret: true needs a secret value; types are checked the CLI's way", () => {
    const base = { "p:token": { secret: "s" }, "p:name": "n" };
    assert.match(
      applyProjectSchema(schema(), "dev", { ...base, "p:token": "plain" }).error ?? "",
      /^Stack 'dev' with configuration key 'token' must be encrypted as it's secret\. Fix: pulumi config set --secret p:token/,
    );
    const typeError = (k: string, v: string) =>
      applyProjectSchema(schema(), "dev", { ...base, [k]: v }).error;
    assert.match(typeError("p:port", "22.5") ?? "", /configuration key 'port' must be of type 'integer'/);
    assert.equal(typeError("p:port", "-3"), undefined);
    assert.match(typeError("p:flag", "yes") ?? "", /configuration key 'flag' must be of type 'boolean'/);
    assert.equal(typeError("p:flag", "true"), undefined);
    assert.match(
      typeError("p:pools", '["a", 1]') ?? "",
      /configuration key 'pools' must be of type 'array<string>'/,
    );
    assert.match(typeError("p:pools", "a-b") ?? "", /must be of type 'array<string>'/);
  });

  it("a schema the CLI would reject fails to load, naming the file and key", () => {
    const bad = (lines: string) => () => loadProjectSchema(write("bad.yaml", `name: p\nconfig:\n${lines}\n`));
    assert.throws(
      bad("  l: {type: array}"),
      /bad\.yaml: The configuration key 'l' declares an array but does not specify/,
    );
    assert.throws(
      bad("  n: {type: integer, default: x}"),
      /default value specified for configuration key 'n' is not of the expected type 'integer'/,
    );
    assert.throws(
      bad("  aws:region: {type: string}"),
      /'aws:region' is not namespaced by the project and should not define a type/,
    );
  });

  it("the project file's shape follows pulumi/pulumi sdk/go/common/workspace/project.json: every problem listed", () => {
    const problems = (text: string) => projectFileProblems(yaml.load(text) as Record<string, unknown>);
    assert.deepEqual(
      problems("name: p\nruntime: nodejs\nconfig:\n  a: 1\n  b: [x]\n  c: {type: string, default: x}"),
      [],
    );
    assert.deepEqual(
      problems(
        [
          "name: p",
          "runtime: {name: nodejs, typescript: true}",
          "main: [index.ts]",
          "config:",
          "  ratio: 0.5",
          "  empty:",
          "  port: {type: int, defualt: 22}",
          "  list: {type: array, items: {type: array}}",
          "  flag: {type: boolean, secret: 'yes', description: 3}",
        ].join("\n"),
      ),
      [
        "#/main: must be a string",
        "#/runtime: 'typescript' not allowed",
        "#/config/ratio: a bare number must be an integer",
        "#/config/empty: must be a string, an integer, a boolean, an array or a declaration {type, default, ...}",
        "#/config/port: 'defualt' not allowed; the allowed attributes are 'type', 'items', 'description', 'secret', 'default', 'value'",
        "#/config/port/type: must be one of string, integer, boolean, array, object",
        "#/config/list/items: missing property 'items'",
        "#/config/flag/description: must be a string",
        "#/config/flag/secret: must be a boolean",
      ],
    );
    assert.throws(
      () =>
        loadProjectSchema(write("shape.yaml", "name: p\nconfig:\n  port: {type: integer, defualt: 22}\n")),
      /shape\.yaml: could not validate: #\/config\/port: 'defualt' not allowed/,
    );
  });

  it("a bare value is a default for the project's keys and a value for another package's (RewriteShorthandConfigValues)", () => {
    const s = loadProjectSchema(
      write("short.yaml", "name: p\nconfig:\n  port: 22\n  list: [a]\n  aws:region: eu-west-1\n"),
    );
    assert.deepEqual(s.config, {
      port: { default: 22 },
      list: { default: ["a"] },
      "aws:region": { value: "eu-west-1" },
    });
    assert.deepEqual(applyProjectSchema(s, "dev", {}).config, {
      "p:port": "22",
      "p:list": '["a"]',
      "aws:region": "eu-west-1",
    });
  });

  it("the repo's Pulumi.yaml passes the project.json rules; every key is a declaration with a default and a description", () => {
    const doc = yaml.load(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as Record<
      string,
      unknown
    >;
    assert.deepEqual(projectFileProblems(doc), []);
    const config = doc.config as Record<string, Record<string, unknown>>;
    assert.ok(Object.keys(config).length > 20);
    for (const [key, e] of Object.entries(config)) {
      assert.ok(e && typeof e === "object" && !Array.isArray(e), `${key}: a declaration`);
      assert.ok("default" in e && !("value" in e), `${key}: has a default (no value)`);
      assert.equal(typeof e.description, "string", `${key}: has a description`);
    }
  });

  it("the repo's Pulumi.yaml accepts the build and the grid stack's minimal configs", () => {
    const repo = loadProjectSchema(path.join(REPO_ROOT, "Pulumi.yaml"));
    const build = applyProjectSchema(repo, "build-1", validBuildConfig());
    assert.equal(build.error, undefined);
    assert.equal(
      applyProjectSchema(repo, "grid-1", { "g8os:gridRedisPassword": { secret: "pw" } }).error,
      undefined,
    );
    // Defaults the program also has reach it as config: the schema's own must fit their types.
    assert.equal(build.config["g8os:vmsEnabled"], "false");
    assert.equal(build.config["g8os:buildHostPort"], "22");
  });

  it("the schema's defaults are the program's: each stack registers the same with and without them", function () {
    this.timeout(300_000);
    const repo = loadProjectSchema(path.join(REPO_ROOT, "Pulumi.yaml"));
    const stacks: [string, Record<string, StackConfigValue>][] = [
      [
        "build-1",
        {
          ...validBuildConfig(),
          "g8os:vmsEnabled": "true",
          "g8os:vmImageSha256": "a".repeat(64),
          "g8os:core0KernelUrl": "http://127.0.0.1:1/vmlinuz.efi",
          "g8os:core0KernelSha256": "b".repeat(64),
          "g8os:buildTreeDir": "test/build/fixtures/tree",
          "g8os:ipfsApiUrl": "http://127.0.0.1:1",
          "g8os:ipfsGatewayUrl": "http://127.0.0.1:1",
          "g8os:templatesRepoUrl": "ssh://git@127.0.0.1:1/t.git",
          "g8os:templatesBranches": JSON.stringify(["master", "stable"]),
          "g8os:templatesKnownHosts": `127.0.0.1 ${KEY.split(" ").slice(0, 2).join(" ")}`,
        },
      ],
      ["grid-1", { "g8os:gridRedisPassword": { secret: "grid-pw" } }],
    ];
    // By type and name (registration order varies between runs); serialized providers left out (large).
    const byName = (r: StackRun): Map<string, string> =>
      new Map(
        (r.resources ?? []).map((x) => [
          `${x.type}::${x.name}`,
          JSON.stringify({ ...x.inputs, __provider: undefined }),
        ]),
      );
    for (const [stack, config] of stacks) {
      const applied = applyProjectSchema(repo, stack, config);
      assert.equal(applied.error, undefined);
      const without = runStackUnderMocks(stack, config);
      const withDefaults = runStackUnderMocks(stack, applied.config);
      assert.equal(without.error, undefined, without.error);
      assert.equal(withDefaults.error, undefined, withDefaults.error);
      assert.ok((without.resources ?? []).length > 0, `${stack} registered resources`);
      const a = byName(without);
      const b = byName(withDefaults);
      const differ = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
      assert.deepEqual(
        differ,
        [],
        `${stack}: a Pulumi.yaml default disagrees with the program for these resources`,
      );
    }
  });

  it("an operation whose config the schema rejects fails before the program runs", async () => {
    const projectFile = write(
      "Pulumi.yaml",
      "name: selftest\nruntime: nodejs\nconfig:\n  required: {type: string}\n",
    );
    const h = new Harness({
      program: path.join(__dirname, "selftest", "program.ts"),
      project: "selftest",
      stack: "schema",
      projectFile,
      stateFile: path.join(dir, "state.json"),
      config: { "selftest:spec": JSON.stringify({ files: [] }) },
    });
    try {
      const r = await h.preview();
      assert.equal(r.failed, true);
      assert.deepEqual(r.errors, [
        `Stack 'schema' is missing configuration value 'required'. Fix: set them (pulumi config set [--secret]), or give them a default in ${projectFile}`,
      ]);
      assert.deepEqual(r.steps, [], "nothing registered: the program never ran");
      h.setConfig("selftest:required", "x");
      const ok = await h.preview();
      assert.deepEqual(ok.errors, []);
      assert.ok(ok.steps.length > 0);
    } finally {
      await h.close();
    }
  });
});
