/**
 * Build tree loader: the sample tree loads with defaults filled; every bad input is reported with
 * its file, field and fix, all problems at once.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BuildTreeError, loadBuildTree } from "../../workflows/app-tree";

const FIXTURES = path.join(__dirname, "fixtures");

describe("build: build tree loader", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-tree-"));
    fs.mkdirSync(path.join(dir, "src"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const good = (name: string, extra = ""): string =>
    `name: ${name}\nsource: {path: src}\nbuild: {steps: [make]}\noutputs: [{from: a, to: /a}]\n` +
    `processes: [{name: p, args: [/a]}]\ntests: [{name: t, process: p, command: /a}]\n` +
    `templates: [apps/x]\nbranches: [master]\n${extra}`;
  const write = (file: string, body: string) => fs.writeFileSync(path.join(dir, file), body);
  const problemsOf = (opts = {}): string[] => {
    try {
      loadBuildTree(dir, opts);
    } catch (err) {
      assert.ok(err instanceof BuildTreeError, String(err));
      return err.problems.map((p) => `${path.basename(p.file)}|${p.field}|${p.problem}|${p.fix}`);
    }
    assert.fail("expected a BuildTreeError");
  };

  it("loads the sample tree with defaults filled", () => {
    const tree = loadBuildTree(path.join(FIXTURES, "tree"), { knownBranches: ["master", "stable"] });
    assert.deepEqual(
      tree.apps.map((a) => a.name),
      ["hello-c", "hello-sh"],
    );
    const c = tree.apps[0];
    assert.equal(c.source.path, path.join(FIXTURES, "apps", "hello-c"));
    assert.deepEqual(
      c.steps.map((s) => [s.name, s.timeoutSeconds]),
      [
        ["compile", 1800],
        ["runtime", 1800],
      ],
    );
    assert.equal(c.steps[0].run, "make");
    // The folded YAML runtime step is one command line (copied for the chrooted container).
    assert.match(c.steps[1].run, /^mkdir -p out\/rt && for p in sh; do .* out\/rt\/libc\.so\.6$/);
    assert.deepEqual(c.outputs, [
      { from: "hello", to: "/usr/bin/hello", mode: "0755" },
      { from: "hello.c", to: "/usr/share/doc/hello/hello.c" },
      { from: "out/rt/sh", to: "/bin/sh", mode: "0755" },
      { from: "out/rt/ld.so", to: "/lib64/ld-linux-x86-64.so.2", mode: "0755" },
      { from: "out/rt/libc.so.6", to: "/lib/x86_64-linux-gnu/libc.so.6" },
    ]);
    assert.deepEqual(c.processes, [{ name: "hello", args: ["/usr/bin/hello"], env: {}, cwd: "/" }]);
    assert.deepEqual(c.tests[1], {
      name: "counts-args",
      process: "hello",
      command: "/usr/bin/hello --count a b c",
      expectExitCode: 0,
      expectOutput: "^3$",
      timeoutSeconds: 10,
    });
    assert.deepEqual(c.resources, { memoryMb: 16, cpu: 1 });
    const sh = tree.apps[1];
    assert.deepEqual(
      sh.steps.map((s) => s.name),
      ["step 1", "stamp", "runtime"],
    );
    assert.deepEqual(sh.branches, ["master", "stable"]);
    assert.deepEqual(sh.resources, { memoryMb: 8, cpu: 0 });
    // Plain JSON: fit for resource inputs as is.
    assert.deepEqual(JSON.parse(JSON.stringify(tree.apps)), tree.apps);
  });

  it("git sources default the ref to master", () => {
    write("g.yaml", good("g").replace("{path: src}", "{git: 'file:///srv/g.git'}"));
    const [g] = loadBuildTree(dir).apps;
    assert.deepEqual(g.source, { git: "file:///srv/g.git", ref: "master" });
  });

  it("reports a missing field with file, field and fix", () => {
    write("a.yaml", good("a").replace("outputs: [{from: a, to: /a}]\n", ""));
    const [p] = problemsOf();
    assert.equal(
      p,
      "a.yaml|outputs|is missing|list files the build makes: `- {from: hello, to: /usr/bin/hello}`",
    );
  });

  it("reports an unknown branch against the known list", () => {
    write("a.yaml", good("a").replace("[master]", "[master, nightly]"));
    const ps = problemsOf({ knownBranches: ["master", "stable"] });
    assert.deepEqual(ps, ['a.yaml|branches[1]|"nightly" is not a known branch|use one of master, stable']);
    // Without a known list any branch name is accepted.
    assert.equal(loadBuildTree(dir).apps[0].branches[1], "nightly");
  });

  it("reports a test that refers to an undefined process", () => {
    write("a.yaml", good("a").replace("process: p,", "process: web,"));
    assert.deepEqual(problemsOf(), [
      'a.yaml|tests[0].process|refers to process "web", which is not defined|use one of p, or add it to processes',
    ]);
  });

  it("reports duplicate app names, naming both files", () => {
    write("a.yaml", good("same"));
    write("b.yaml", good("same"));
    const [p] = problemsOf();
    assert.match(p, /^b\.yaml\|name\|app "same" is also defined in .*a\.yaml\|give each app a unique name$/);
  });

  it("reports every problem at once, across files, each with its fix", () => {
    write(
      "a.yaml",
      "name: Bad Name\nsource: {git: x, path: y}\nbuild: {steps: []}\noutputs: [{from: ../x, to: rel, mode: 755}]\n" +
        "tests: [{name: t, process: p, command: c, expectOutput: '('}]\ntemplates: [/abs]\nbranches: [master]\ncolour: red\n",
    );
    write("b.yaml", "name: [unclosed\n");
    write("c.yaml", good("c").replace("{path: src}", "{path: nowhere}"));
    const ps = problemsOf();
    const fields = ps.map((p) => p.split("|").slice(0, 2).join("|"));
    assert.deepEqual(fields, [
      "a.yaml|colour",
      "a.yaml|name",
      "a.yaml|source",
      "a.yaml|build.steps",
      "a.yaml|outputs[0].from",
      "a.yaml|outputs[0].to",
      "a.yaml|outputs[0].mode",
      "a.yaml|tests[0].process",
      "a.yaml|tests[0].expectOutput",
      "a.yaml|templates[0]",
      "b.yaml|(yaml)",
      "c.yaml|source.path",
    ]);
    assert.ok(
      ps.every((p) => p.split("|")[3].length > 0),
      "every problem has a fix",
    );
    assert.match(ps[6], /quoted octal string\|write e\.g\. mode: "0755"/);
    // The thrown message lists them too, one per line.
    try {
      loadBuildTree(dir);
    } catch (err) {
      assert.match((err as Error).message, /12 problems/);
      assert.match(
        (err as Error).message,
        /c\.yaml: source\.path: directory .*nowhere does not exist\. Fix:/,
      );
    }
  });

  it("an empty or missing directory is an error", () => {
    assert.match(problemsOf()[0], /holds no \*\.yaml app files/);
    assert.throws(() => loadBuildTree(path.join(dir, "nope")), /does not exist or is not a directory/);
  });
});
