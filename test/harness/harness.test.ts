/**
 * Self-test of the engine harness: a real stack program (selftest/program.ts) with a small dynamic
 * provider that manages files, run through preview/up/refresh/destroy. Each `describe` is one
 * stack's story: its `it`s run in order on the same state.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findResource, Harness, RunResult, StepOp } from "./index";
import { defaultParallel, detailedDiff, engineSecretFilter } from "./deployment";
import { deleteInReverseOrder, type StateResource } from "./state";
import type { FileSpec, Spec } from "./selftest/spec";

const PROGRAM = path.join(__dirname, "selftest", "program.ts");

interface Fixture {
  stack: string;
  dir: string;
  marker: string;
  h: Harness;
  setSpec(spec: Spec): void;
}

const made: Fixture[] = [];

/**
 * Stops the fixtures' processes and removes their temp dirs: those of the given stacks. (Fixtures
 * made when a describe is defined exist before any hook runs, so each describe cleans only its own.)
 */
async function cleanUp(...stacks: string[]): Promise<void> {
  const done = made.filter((f) => stacks.includes(f.stack));
  made.splice(0, made.length, ...made.filter((f) => !done.includes(f)));
  for (const f of done) {
    await f.h.close();
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
}

function fixture(stack: string, spec: Spec): Fixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-harness-selftest-"));
  const marker = path.join(dir, "marker");
  const h = new Harness({
    program: PROGRAM,
    project: "selftest",
    stack,
    stateFile: path.join(dir, "state.json"),
    env: { HARNESS_SELFTEST_MARKER: marker },
    config: { "selftest:spec": JSON.stringify(spec) },
  });
  const f: Fixture = {
    stack,
    dir,
    marker,
    h,
    setSpec: (s) => h.setConfig("selftest:spec", JSON.stringify(s)),
  };
  made.push(f);
  return f;
}

function file(dir: string, name: string, extra: Partial<FileSpec> = {}): FileSpec {
  return { name, path: path.join(dir, `${name}.txt`), content: `content of ${name}`, ...extra };
}

/** op per resource name (the URN's last segment), for custom resources and components alike. */
function ops(r: RunResult): Record<string, StepOp> {
  return Object.fromEntries(r.steps.map((s) => [s.urn.slice(s.urn.lastIndexOf("::") + 2), s.op]));
}

/** Methods the provider ran, in order, with the pid that ran each and the file's path. */
function markerLines(f: Fixture): { method: string; pid: number; path: string }[] {
  if (!fs.existsSync(f.marker)) return [];
  return fs
    .readFileSync(f.marker, "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const [method, pid, ...rest] = l.split(" ");
      return { method, pid: Number(pid), path: rest.join(" ") };
    });
}

function resetMarker(f: Fixture): void {
  fs.rmSync(f.marker, { force: true });
}

describe("engine harness: one stack's life (files, secrets, random, tls)", function () {
  const f = fixture("life", { files: [] });
  const a = file(f.dir, "a", { inGroup: true });
  const b = file(f.dir, "b", { after: "a", secret: true, content: "top secret payload" });
  const c = file(f.dir, "c", { inGroup: true, deleteBeforeReplace: true });
  const d = file(f.dir, "d");
  const e = file(f.dir, "e");
  const commandFile = path.join(f.dir, "command.txt");
  let spec: Spec = {
    files: [a, b, c, d, e],
    password: { length: 24 },
    key: "ED25519",
    command: { create: `echo hello; echo made > ${commandFile}`, delete: `rm ${commandFile}` },
  };
  let first: RunResult;

  before(async () => {
    f.setSpec(spec);
    first = await f.h.up();
  });
  after(() => cleanUp(f.stack));

  it("up creates every resource, in dependency order, and records them in state", () => {
    assert.deepStrictEqual(first.errors, []);
    assert.strictEqual(first.failed, false);
    assert.deepStrictEqual(ops(first), {
      "selftest-life": "create",
      group: "create",
      a: "create",
      b: "create",
      c: "create",
      d: "create",
      e: "create",
      password: "create",
      key: "create",
      command: "create",
    });
    assert.ok(
      first.steps.findIndex((s) => s.urn.endsWith("::a")) <
        first.steps.findIndex((s) => s.urn.endsWith("::b")),
      "b depends on a's path, so it completes after a",
    );
    assert.strictEqual(fs.readFileSync(a.path, "utf8"), a.content);
    assert.strictEqual(fs.readFileSync(b.path, "utf8"), `${b.content} after ${a.path}`);
    const state = f.h.state();
    const stack = findResource(state, "pulumi:pulumi:Stack");
    const group = findResource(state, "selftest:index:Group");
    const ra = findResource(state, "::a");
    const rb = findResource(state, "::b");
    assert.strictEqual(
      ra.urn,
      "urn:pulumi:life::selftest::selftest:index:Group$pulumi-nodejs:dynamic/selftest:File::a",
    );
    assert.strictEqual(rb.urn, "urn:pulumi:life::selftest::pulumi-nodejs:dynamic/selftest:File::b");
    assert.strictEqual(ra.parent, group.urn);
    assert.strictEqual(group.parent, stack.urn);
    assert.strictEqual(group.custom, false);
    assert.strictEqual(ra.custom, true);
    assert.ok(ra.id.startsWith(`${a.path}#`));
    assert.deepStrictEqual(rb.propertyDependencies.content, [ra.urn]);
    assert.ok(rb.dependencies.includes(ra.urn));
    assert.strictEqual(typeof ra.inputs.__provider, "string", "the serialized provider is stored in inputs");
    assert.strictEqual(typeof ra.outputs.__provider, "string", "and in outputs");
    assert.strictEqual(findResource(state, "::c").options.deleteBeforeReplace, true);
    assert.deepStrictEqual(first.outputs.paths, { a: a.path, b: b.path, c: c.path, d: d.path, e: e.path });
    assert.match(first.log, /info: selftest program ran with 5 files/, "pulumi.log reaches the engine's Log");
  });

  it("keeps secrets out of the state file and decrypts them for assertions", () => {
    const text = f.h.stateText();
    const password = first.outputs.password as string;
    const privateKey = first.outputs.privateKeyOpenssh as string;
    assert.ok(!text.includes("top secret payload"), "secret input in plaintext");
    assert.ok(!text.includes(password), "RandomPassword.result in plaintext");
    assert.ok(!text.includes(privateKey.split("\n")[1]), "private key in plaintext");
    assert.match(text, /"ciphertext": "v1:/);
    const rb = findResource(f.h.stateDecrypted(), "::b");
    assert.strictEqual(rb.inputs.content, `${b.content} after ${a.path}`);
    assert.strictEqual(
      rb.outputs.content,
      `${b.content} after ${a.path}`,
      "same-named output of a secret input",
    );
    const pw = findResource(f.h.stateDecrypted(), "RandomPassword::password");
    assert.strictEqual(pw.outputs.result, password);
  });

  it("RandomPassword and PrivateKey give real values", () => {
    const password = first.outputs.password as string;
    assert.strictEqual(password.length, 24);
    assert.match(password, /[A-Z]/);
    assert.match(password, /[a-z]/);
    const bcrypt = require("bcryptjs") as typeof import("bcryptjs");
    assert.ok(bcrypt.compareSync(password, first.outputs.bcryptHash as string), "bcryptHash matches result");

    const keyFile = path.join(f.dir, "id_test");
    fs.writeFileSync(keyFile, first.outputs.privateKeyOpenssh as string, { mode: 0o600 });
    const derived = execFileSync("ssh-keygen", ["-y", "-f", keyFile]).toString().trim();
    const publicKey = first.outputs.publicKeyOpenssh as string;
    assert.ok(publicKey.endsWith("\n"));
    assert.strictEqual(derived, publicKey.trim(), "ssh-keygen derives the same public key");
    fs.writeFileSync(`${keyFile}.pub`, publicKey);
    const listed = execFileSync("ssh-keygen", ["-l", "-f", `${keyFile}.pub`]).toString();
    assert.ok(
      listed.includes(first.outputs.fingerprint as string),
      `${listed} lacks ${first.outputs.fingerprint}`,
    );
  });

  it("local.Command runs its create command and captures stdout", () => {
    assert.strictEqual(first.outputs.commandStdout, "hello");
    assert.strictEqual(fs.readFileSync(commandFile, "utf8"), "made\n");
  });

  it("ran the provider methods in the provider host, not in the test or program process", () => {
    const lines = markerLines(f);
    assert.ok(lines.some((l) => l.method === "create"));
    // Two operations: up's own preview, then the up; one host process each.
    const pids = [...new Set(lines.map((l) => l.pid))];
    assert.strictEqual(pids.length, 2, "one host process per operation (preview, then up)");
    for (const hostPid of pids) {
      assert.notStrictEqual(hostPid, process.pid);
      assert.notStrictEqual(hostPid, first.outputs.programPid);
    }
    assert.notStrictEqual(first.outputs.programPid, process.pid);
  });

  it("up previews first, as the CLI does: check and diff only, then the up in a new process", () => {
    assert.ok(first.preview, "up returns the preview it ran");
    assert.deepStrictEqual(first.preview.errors, []);
    assert.deepStrictEqual(
      Object.values(ops(first.preview)).filter((op) => op !== "create"),
      [],
      "from an empty state the preview shows creates only",
    );
    assert.deepStrictEqual(Object.keys(ops(first.preview)).sort(), Object.keys(ops(first)).sort());
    const lines = markerLines(f);
    const previewPid = lines[0].pid;
    const inPreview = lines.filter((l) => l.pid === previewPid).map((l) => l.method);
    assert.deepStrictEqual(
      [...new Set(inPreview)],
      ["check"],
      "the preview only checked (nothing to diff yet)",
    );
    const firstUp = lines.findIndex((l) => l.pid !== previewPid);
    assert.ok(firstUp > 0, "the up ran in another host");
    assert.ok(
      lines.slice(firstUp).every((l) => l.pid !== previewPid),
      "the up started after the preview ended",
    );
  });

  it("a preview of an unchanged program reports every resource the same", async () => {
    resetMarker(f);
    const r = await f.h.previewOk();
    assert.strictEqual(r.steps.length, 10);
    assert.deepStrictEqual(
      r.steps.filter((s) => s.op !== "same"),
      [],
    );
    assert.deepStrictEqual(
      markerLines(f)
        .map((l) => l.method)
        .filter((m) => m !== "check" && m !== "diff"),
      [],
      "preview only checks and diffs",
    );
  });

  it("content change = update, path change = replace (create first), dropped = delete: previewed, then applied", async () => {
    const before = f.h.stateText();
    const oldD = { path: d.path, id: findResource(f.h.state(), "::d").id };
    a.content = "new content of a";
    d.path = path.join(f.dir, "d-moved.txt");
    spec = { ...spec, files: [a, b, c, d] };
    f.setSpec(spec);

    const p = await f.h.previewOk();
    assert.strictEqual(ops(p).a, "update");
    assert.deepStrictEqual(p.steps.find((s) => s.urn.endsWith("::a"))!.diffs, ["content"]);
    assert.strictEqual(ops(p).b, "same", "b embeds a's path, which does not change");
    assert.strictEqual(ops(p).d, "replace");
    assert.deepStrictEqual(p.steps.find((s) => s.urn.endsWith("::d"))!.diffs, ["path"]);
    // Field names and why, as `pulumi preview --diff` prints them (~content, +-path).
    assert.deepStrictEqual(p.steps.find((s) => s.urn.endsWith("::a"))!.detailedDiff, { content: "update" });
    assert.deepStrictEqual(p.steps.find((s) => s.urn.endsWith("::d"))!.detailedDiff, {
      path: "update-replace",
    });
    assert.strictEqual(ops(p).e, "delete");
    const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    assert.deepStrictEqual(
      p.outputs.paths,
      { a: a.path, b: b.path, c: c.path, d: d.path },
      "inputs are known",
    );
    assert.deepStrictEqual(
      p.outputs.sizes,
      { a: UNKNOWN, b: b.content.length + " after ".length + a.path.length, c: c.content.length, d: UNKNOWN },
      "outputs that are not inputs are unknown in a preview of an update or replace",
    );
    assert.strictEqual(fs.readFileSync(a.path, "utf8"), "content of a", "preview touched a file");
    assert.ok(
      fs.existsSync(oldD.path) && !fs.existsSync(d.path) && fs.existsSync(e.path),
      "preview touched files",
    );
    assert.strictEqual(f.h.stateText(), before, "preview wrote state");

    resetMarker(f);
    const u = await f.h.upOk();
    assert.strictEqual(ops(u).a, "update");
    assert.strictEqual(ops(u).d, "replace");
    assert.strictEqual(ops(u).e, "delete");
    assert.strictEqual(fs.readFileSync(a.path, "utf8"), "new content of a");
    assert.strictEqual(findResource(f.h.state(), "::a").outputs.content, "new content of a");
    assert.ok(!fs.existsSync(oldD.path) && fs.existsSync(d.path) && !fs.existsSync(e.path));
    const lines = markerLines(f);
    const createdNew = lines.findIndex((l) => l.method === "create" && l.path === d.path);
    const deletedOld = lines.findIndex((l) => l.method === "delete" && l.path === oldD.path);
    assert.ok(createdNew >= 0 && createdNew < deletedOld, "create-before-delete");
    const rd = findResource(f.h.state(), "::d");
    assert.notStrictEqual(rd.id, oldD.id);
    assert.strictEqual(f.h.state().filter((r) => r.urn === rd.urn).length, 1, "old half gone from state");
  });

  it("refresh sees a file deleted outside, and the next up creates it again", async () => {
    fs.rmSync(c.path);
    const r = await f.h.refreshOk();
    assert.strictEqual(ops(r).c, "refresh-delete");
    assert.strictEqual(ops(r).a, "same");
    assert.throws(() => findResource(f.h.state(), "::c"), /no resource matches/);

    const u = await f.h.upOk();
    assert.strictEqual(ops(u).c, "create");
    assert.strictEqual(fs.readFileSync(c.path, "utf8"), c.content);
  });

  it("up --replace replaces a resource whose inputs did not change (delete first, as its option says)", async () => {
    resetMarker(f);
    const rc = findResource(f.h.state(), "::c");
    const u = await f.h.upOk({ replace: [rc.urn], skipPreview: true });
    assert.strictEqual(u.preview, undefined, "--skip-preview runs no preview");
    assert.strictEqual(new Set(markerLines(f).map((l) => l.pid)).size, 1, "one operation only");
    assert.strictEqual(ops(u).c, "replace");
    assert.strictEqual(ops(u).a, "same");
    const forC = markerLines(f)
      .filter((l) => l.path === c.path && (l.method === "create" || l.method === "delete"))
      .map((l) => l.method);
    assert.deepStrictEqual(forC, ["delete", "create"]);
    assert.notStrictEqual(findResource(f.h.state(), "::c").id, rc.id);
    assert.ok(fs.existsSync(c.path));
  });

  it("destroy --target with a dependent outside the list fails and deletes nothing, as the CLI does", async () => {
    const ra = findResource(f.h.state(), "::a");
    const rb = findResource(f.h.state(), "::b");
    const before = f.h.stateText();
    const r = await f.h.destroy({ target: [ra.urn] });
    assert.strictEqual(r.failed, true);
    assert.deepStrictEqual(r.errors, [
      `Resource '${rb.urn}' will be destroyed but was not specified in --target list.\n` +
        "Either include resource in --target list or pass --target-dependents to proceed.",
    ]);
    assert.deepStrictEqual(r.steps, []);
    assert.strictEqual(f.h.stateText(), before);
    assert.ok(fs.existsSync(a.path) && fs.existsSync(b.path));
  });

  it("destroy --target --target-dependents removes the target and its dependents only", async () => {
    const ra = findResource(f.h.state(), "::a");
    const r = await f.h.destroyOk({ target: [ra.urn], targetDependents: true });
    assert.deepStrictEqual(
      r.steps.map((s) => [s.urn.slice(s.urn.lastIndexOf("::") + 2), s.op]),
      [
        ["b", "delete"],
        ["a", "delete"],
      ],
    );
    assert.ok(!fs.existsSync(a.path) && !fs.existsSync(b.path) && fs.existsSync(c.path));
    const left = f.h.state().map((s) => s.urn.slice(s.urn.lastIndexOf("::") + 2));
    assert.deepStrictEqual(left.sort(), ["c", "command", "d", "group", "key", "password", "selftest-life"]);
  });

  it("destroy removes everything, children before parents, with the provider stored in state", async () => {
    await assert.rejects(f.h.destroy({ parallel: 0 }), /parallel is 0; it must be a positive integer/);
    const r = await f.h.destroyOk({ parallel: 2 });
    const order = r.steps.map((s) => s.urn.slice(s.urn.lastIndexOf("::") + 2));
    assert.strictEqual(order.length, 7);
    assert.ok(order.indexOf("c") < order.indexOf("group"));
    assert.strictEqual(order[order.length - 1], "selftest-life");
    assert.deepStrictEqual(f.h.state(), []);
    assert.ok(!fs.existsSync(c.path) && !fs.existsSync(d.path));
    assert.ok(!fs.existsSync(commandFile), "local.Command ran its delete command");
  });
});

describe("engine harness: failures", function () {
  after(() => cleanUp("fail", "check", "throws", "partial"));

  it("a failing create keeps its successful siblings in state, stops its dependents; errors filtered as the engine does", async () => {
    const f = fixture("fail", { files: [] });
    const good = file(f.dir, "good");
    const bad = file(f.dir, "bad", { content: "FAIL s3cr3t-value cfg-s3cr3t ok", secret: true });
    const child = file(f.dir, "child", { after: "bad" });
    f.setSpec({ files: [good, bad, child] });
    // Secret config values are filtered (but not ones shorter than 3 characters, nor "true"/"false").
    f.h.setConfig("selftest:token", { secret: "cfg-s3cr3t" });
    f.h.setConfig("selftest:short", { secret: "ok" });
    const r = await f.h.up();
    assert.strictEqual(r.failed, true);
    // A secret INPUT that the provider puts in its message is shown, as the engine shows it: the
    // engine filters only secret config (pkg/engine/events.go); this provider is careless on purpose.
    assert.ok(
      r.errors.some((e) =>
        e.includes(
          '::bad: create failed: File "' + bad.path + '": create refused "FAIL s3cr3t-value [secret] ok"',
        ),
      ),
      r.errors.join("\n"),
    );
    assert.ok(!r.errors.join("\n").includes("cfg-s3cr3t"), "a secret config value leaked into an error");
    assert.strictEqual(ops(r).good, "create");
    assert.ok(r.steps.find((s) => s.urn.endsWith("::bad"))!.error);
    assert.strictEqual(ops(r).child, undefined, "the dependent never ran");
    const names = f.h.state().map((s) => s.urn.slice(s.urn.lastIndexOf("::") + 2));
    assert.ok(names.includes("good") && !names.includes("bad") && !names.includes("child"), names.join());
    assert.ok(fs.existsSync(good.path));
  });

  it("a check failure names the property and the reason", async () => {
    const f = fixture("check", { files: [{ name: "rel", path: "relative/path.txt", content: "x" }] });
    const r = await f.h.up();
    assert.strictEqual(r.failed, true);
    assert.ok(
      r.errors.some((e) => e.includes("::rel: check failed: path: must be an absolute path")),
      r.errors.join("\n"),
    );
    assert.throws(() => findResource(f.h.state(), "::rel"));
  });

  it("a program that throws fails the run with its error, and preview writes nothing", async () => {
    const f = fixture("throws", { files: [{ name: "x", path: "/tmp/x", content: "x", after: "nope" }] });
    const r = await f.h.preview();
    assert.strictEqual(r.failed, true);
    assert.ok(
      r.errors.some((e) => e.includes("spec: file x is after nope")),
      r.errors.join("\n"),
    );
    assert.strictEqual(f.h.stateText(), "");
  });

  it("a partial create is recorded as pending and the next up finishes it with Update", async () => {
    const f = fixture("partial", { files: [] });
    const p = file(f.dir, "p", { content: "PARTIAL" });
    f.setSpec({ files: [p] });
    const r = await f.h.up();
    assert.strictEqual(r.failed, true);
    assert.ok(
      r.errors.some((e) => /create failed half-way .*recorded as pending/.test(e)),
      r.errors.join("\n"),
    );
    const pending = findResource(f.h.state(), "::p");
    assert.strictEqual(pending.pendingCreate, true);
    assert.ok(pending.id.startsWith(p.path));

    resetMarker(f);
    const u = await f.h.upOk();
    assert.strictEqual(ops(u).p, "update", "the engine updates a resource with init errors");
    assert.ok(markerLines(f).some((l) => l.method === "update"));
    const done = findResource(f.h.state(), "::p");
    assert.strictEqual(done.pendingCreate, undefined);
    assert.strictEqual(done.id, pending.id);
  });
});

describe("engine harness: replaceOnChanges on a dynamic resource, as the engine applies it", function () {
  this.timeout(300_000);
  const f = fixture("roc", { files: [] });
  const x = file(f.dir, "x", { replaceOnChanges: ["content"] });
  after(() => cleanUp(f.stack));

  it("does not replace: the dynamic host sends no changed keys for it to match (an update)", async () => {
    f.setSpec({ files: [x] });
    await f.h.upOk({ skipPreview: true });
    const id = findResource(f.h.state(), "::x").id;
    f.setSpec({ files: [{ ...x, content: "changed" }] });
    const u = await f.h.upOk();
    const step = u.steps.find((s) => s.urn.endsWith("::x"))!;
    assert.strictEqual(step.op, "update");
    assert.deepStrictEqual(step.detailedDiff, { content: "update" });
    assert.strictEqual(u.preview!.steps.find((s) => s.urn.endsWith("::x"))!.op, "update", "preview agrees");
    assert.strictEqual(findResource(f.h.state(), "::x").id, id);
  });
});

describe("engine harness: detailed diff of a step", function () {
  it("input diff with add/delete/update, replace keys marked; drift (equal inputs) names the fields", () => {
    assert.deepStrictEqual(
      detailedDiff({ a: 1, b: 2, __provider: "p" }, { a: 2, c: 3, __provider: "q" }, {}, ["a"], []),
      {
        a: "update-replace",
        b: "delete",
        c: "add",
      },
    );
    // Inputs equal, the provider still says changes (it diffs old outputs): what differs from them.
    assert.deepStrictEqual(detailedDiff({ a: 1, b: 2 }, { a: 1, b: 2 }, { a: 1, b: 5 }, [], []), {
      b: "update",
    });
    assert.deepStrictEqual(detailedDiff({ a: 1 }, { a: 1 }, { a: 1 }, [], ["conn.host"]), { conn: "update" });
  });
});

describe("engine harness: the engine's secret filter for messages", function () {
  it("replaces secrets of 3+ characters, not true/false, also JSON-escaped; longest first", () => {
    const secrets = ["ab", "TRUE", 'pa"ss', "token", "token-long"];
    assert.strictEqual(
      engineSecretFilter('ab TRUE pa"ss {"k":"pa\\"ss"} token-long token', secrets),
      'ab TRUE [secret] {"k":"[secret]"} [secret] [secret]',
    );
  });
});

describe("engine harness: delete scheduling", function () {
  const res = (name: string, deps: string[] = []): StateResource => ({
    urn: `urn:pulumi:s::p::t::${name}`,
    type: "t",
    id: name,
    custom: true,
    inputs: {},
    outputs: {},
    dependencies: deps.map((d) => `urn:pulumi:s::p::t::${d}`),
    propertyDependencies: {},
    options: {
      dependsOn: [],
      protect: false,
      ignoreChanges: [],
      replaceOnChanges: [],
      additionalSecretOutputs: [],
    },
  });
  // root <- a, b, c, d (four independent dependents of one resource)
  const doomed = [
    res("root"),
    res("a", ["root"]),
    res("b", ["root"]),
    res("c", ["root"]),
    res("d", ["root"]),
  ];

  async function run(parallel?: number): Promise<{ order: string[]; maxActive: number }> {
    const order: string[] = [];
    let active = 0;
    let maxActive = 0;
    await deleteInReverseOrder(
      doomed,
      async (r) => {
        maxActive = Math.max(maxActive, ++active);
        await new Promise((resolve) => setTimeout(resolve, 20));
        active--;
        order.push(r.id);
        return true;
      },
      parallel,
    );
    return { order, maxActive };
  }

  it("independent deletes run concurrently by default, dependents before what they depend on", async () => {
    const r = await run();
    assert.strictEqual(r.maxActive, 4);
    assert.strictEqual(r.order[r.order.length - 1], "root");
  });

  it("parallel bounds how many deletes run at once", async () => {
    const r = await run(2);
    assert.strictEqual(r.maxActive, 2);
    assert.strictEqual(r.order.length, 5);
    assert.strictEqual(r.order[4], "root");
    assert.strictEqual((await run(1)).maxActive, 1);
  });
});

describe("engine harness: delete-before-replace deletes the dependents it condemns first", function () {
  const f = fixture("dbr", { files: [] });
  const a = file(f.dir, "a", { deleteBeforeReplace: true });
  // b's path (a replace key) comes from a: condemned. e's from b: condemned through b.
  const b = file(f.dir, "b", { pathAfter: "a" });
  const e = file(f.dir, "e", { pathAfter: "b" });
  // c's and d's content (an update key) comes from b and a: updated, not condemned.
  const c = file(f.dir, "c", { after: "b" });
  const d = file(f.dir, "d", { after: "a" });
  const moved = { ...a, path: path.join(f.dir, "a-moved.txt") };

  before(async () => {
    f.setSpec({ files: [a, b, e, c, d] });
    await f.h.upOk();
  });
  after(() => cleanUp(f.stack));

  it("up --replace a (delete-before-replace) replaces b and e too, though their inputs stay the same; the preview shows it", async () => {
    resetMarker(f);
    const ra = findResource(f.h.state(), "::a");
    const u = await f.h.upOk({ replace: [ra.urn] });
    const expected = {
      "selftest-dbr": "same",
      a: "replace",
      b: "replace",
      e: "replace",
      c: "same",
      d: "same",
    };
    assert.deepStrictEqual(ops(u.preview!), expected);
    assert.deepStrictEqual(ops(u), expected);
    // The replace keys that condemned it: its path comes from a.
    assert.deepStrictEqual(u.steps.find((s) => s.urn.endsWith("::b"))!.diffs, ["path"]);
    const calls = markerLines(f)
      .filter((l) => l.method === "create" || l.method === "delete")
      .map((l) => `${l.method} ${path.basename(l.path)}`);
    assert.deepStrictEqual(calls, [
      "delete a.txt.b.e",
      "delete a.txt.b",
      "delete a.txt",
      "create a.txt",
      "create a.txt.b",
      "create a.txt.b.e",
    ]);
  });

  it("preview of a move: the condemned dependents are replaces, the others updates", async () => {
    f.setSpec({ files: [moved, b, e, c, d] });
    const p = await f.h.previewOk();
    assert.deepStrictEqual(ops(p), {
      "selftest-dbr": "same",
      a: "replace",
      b: "replace",
      e: "replace",
      c: "update",
      d: "update",
    });
  });

  it("up deletes e, then b, then a, before it creates a, b, e again; c and d are updated in place", async () => {
    resetMarker(f);
    const u = await f.h.upOk({ skipPreview: true });
    assert.deepStrictEqual(ops(u), {
      "selftest-dbr": "same",
      a: "replace",
      b: "replace",
      e: "replace",
      c: "update",
      d: "update",
    });
    const calls = markerLines(f)
      .filter((l) => l.method === "create" || l.method === "delete")
      .map((l) => `${l.method} ${path.basename(l.path)}`);
    // Without the dependents' deletes, b and e would be created anew first and deleted last.
    assert.deepStrictEqual(calls.slice(0, 4), [
      "delete a.txt.b.e",
      "delete a.txt.b",
      "delete a.txt",
      "create a-moved.txt",
    ]);
    assert.deepStrictEqual(calls.slice(4).sort(), ["create a-moved.txt.b", "create a-moved.txt.b.e"]);
    assert.ok(!fs.existsSync(a.path) && !fs.existsSync(`${a.path}.b`) && !fs.existsSync(`${a.path}.b.e`));
    assert.ok(fs.existsSync(`${moved.path}.b.e`));
    assert.ok(f.h.state().every((r) => !r.pendingReplacement && !r.pendingDelete));
  });

  it("a condemned dependent the program dropped is gone without a second delete call", async () => {
    const back = { ...a };
    f.setSpec({ files: [back, b, c, d] });
    resetMarker(f);
    const u = await f.h.upOk({ skipPreview: true });
    assert.strictEqual(ops(u).e, "delete");
    const deletes = markerLines(f)
      .filter((l) => l.method === "delete")
      .map((l) => path.basename(l.path));
    assert.deepStrictEqual(deletes, ["a-moved.txt.b.e", "a-moved.txt.b", "a-moved.txt"]);
    assert.throws(() => findResource(f.h.state(), "::e"), /no resource matches/);
  });
});

describe("engine harness: --parallel bounds creates, updates and deletes", function () {
  const f = fixture("parallel", { files: [] });
  const slow = (name: string, extra: Partial<FileSpec> = {}): FileSpec =>
    file(f.dir, name, { holdMs: 300, ...extra });
  const spec = { files: [slow("p1"), slow("p2"), slow("p3"), slow("p4"), slow("q", { after: "p1" })] };
  after(() => cleanUp(f.stack));

  /** Most `<method>-begin`s open at once, and whether q began only after p1 ended. */
  function concurrency(method: string): { max: number; qAfterP1: boolean } {
    let open = 0;
    let max = 0;
    const lines = markerLines(f);
    for (const l of lines) {
      if (l.method === `${method}-begin`) max = Math.max(max, ++open);
      if (l.method === `${method}-end`) open--;
    }
    const at = (m: string, name: string) =>
      lines.findIndex((l) => l.method === m && path.basename(l.path) === `${name}.txt`);
    return { max, qAfterP1: at(`${method}-begin`, "q") > at(`${method}-end`, "p1") };
  }

  it("up --parallel 2: two creates at a time, the dependent after its dependency", async () => {
    f.setSpec(spec);
    await assert.rejects(f.h.up({ parallel: 1.5 }), /parallel is 1.5; it must be a positive integer/);
    await f.h.upOk({ parallel: 2, skipPreview: true });
    assert.deepStrictEqual(concurrency("create"), { max: 2, qAfterP1: true });
  });

  it("updates are bounded too", async () => {
    f.setSpec({ files: spec.files.map((s) => ({ ...s, content: `${s.content} v2` })) });
    resetMarker(f);
    await f.h.upOk({ parallel: 2, skipPreview: true });
    assert.deepStrictEqual(concurrency("update"), { max: 2, qAfterP1: true });
  });

  it("destroy --parallel 3: three deletes at a time; default: 4 per CPU", async () => {
    resetMarker(f);
    await f.h.destroyOk({ parallel: 3, skipPreview: true });
    const { max } = concurrency("delete");
    assert.strictEqual(max, 3);
    assert.strictEqual(defaultParallel(), os.availableParallelism() * 4);
  });
});

describe("engine harness: refresh and destroy preview first, as the CLI does", function () {
  const f = fixture("previews", { files: [] });
  const a = file(f.dir, "a");
  const b = file(f.dir, "b", { after: "a" });
  before(async () => {
    f.setSpec({ files: [a, b] });
    await f.h.upOk();
  });
  after(() => cleanUp(f.stack));

  it("refresh: a preview that reads and writes nothing, then the refresh; skipPreview reads once", async () => {
    fs.rmSync(b.path);
    resetMarker(f);
    const before = f.h.stateText();
    const r = await f.h.refresh({ skipPreview: false });
    assert.ok(r.preview, "the preview result is kept");
    assert.strictEqual(ops(r.preview).b, "refresh-delete");
    assert.strictEqual(ops(r).b, "refresh-delete");
    const reads = markerLines(f).filter((l) => l.method === "read");
    assert.strictEqual(reads.length, 4, "a and b read by the preview, then by the refresh");
    assert.strictEqual(new Set(reads.map((l) => l.pid)).size, 2, "preview and refresh are two operations");
    assert.notStrictEqual(f.h.stateText(), before);

    resetMarker(f);
    const s = await f.h.refresh({ skipPreview: true });
    assert.strictEqual(s.preview, undefined);
    assert.strictEqual(markerLines(f).filter((l) => l.method === "read").length, 1);
  });

  it("destroy: the preview lists the deletes without a provider call; a failed preview stops it", async () => {
    await f.h.upOk();
    const ra = findResource(f.h.state(), "::a");
    const failed = await f.h.destroy({ target: [ra.urn] });
    assert.ok(failed.preview?.failed);
    assert.ok(fs.existsSync(b.path));

    resetMarker(f);
    const r = await f.h.destroyOk();
    assert.deepStrictEqual(
      r.preview!.steps.map((s) => [s.urn.slice(s.urn.lastIndexOf("::") + 2), s.op]),
      r.steps.map((s) => [s.urn.slice(s.urn.lastIndexOf("::") + 2), s.op]),
    );
    const deletes = markerLines(f).filter((l) => l.method === "delete");
    assert.strictEqual(deletes.length, 2, "only the destroy itself deleted");
    assert.deepStrictEqual(f.h.state(), []);
  });
});
