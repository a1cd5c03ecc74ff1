/**
 * The `pulumi` CLI stand-in driven by the real Automation API (`@pulumi/pulumi/automation`,
 * LocalWorkspace over a local program on a file backend), as the cockpit will drive it. No testbed:
 * the fixture program's dynamic resources write files under a temp dir. Each `it` runs in order on
 * the same stack unless it says otherwise.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  CommandError,
  ConcurrentUpdateError,
  EngineEvent,
  LocalWorkspace,
  LocalWorkspaceOptions,
  PulumiCommand,
  Stack,
  StackNotFoundError,
} from "@pulumi/pulumi/automation";

const CLI_ROOT = __dirname; // PulumiCommand.get({ root }) runs <root>/bin/pulumi
const FIXTURE = path.join(__dirname, "fixture-program");
const SDK_VERSION = (require("@pulumi/pulumi/package.json") as { version: string }).version;
const TOKEN = "tok-6e1f0c3b9a7d";

interface Env {
  root: string;
  workDir: string;
  out: string;
  backend: string;
  opts: LocalWorkspaceOptions;
}

/** A temp project dir whose Pulumi.yaml runs the fixture program, a file backend and PULUMI_HOME. */
async function makeEnv(cliVersion?: string): Promise<Env> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-pulumi-cli-"));
  const workDir = path.join(root, "project");
  const out = path.join(root, "out");
  const backend = path.join(root, "backend");
  for (const d of [workDir, out, backend]) fs.mkdirSync(d);
  const project = fs
    .readFileSync(path.join(FIXTURE, "Pulumi.yaml"), "utf8")
    .replace(/^main: .*$/m, `main: ${path.relative(workDir, path.join(FIXTURE, "index.ts"))}`);
  fs.writeFileSync(path.join(workDir, "Pulumi.yaml"), project);
  const saved = process.env.G8OS_PULUMI_CLI_VERSION;
  if (cliVersion) process.env.G8OS_PULUMI_CLI_VERSION = cliVersion;
  let pulumiCommand: PulumiCommand;
  try {
    pulumiCommand = await PulumiCommand.get({ root: CLI_ROOT });
  } finally {
    if (saved === undefined) delete process.env.G8OS_PULUMI_CLI_VERSION;
    else process.env.G8OS_PULUMI_CLI_VERSION = saved;
  }
  return {
    root,
    workDir,
    out,
    backend,
    opts: {
      pulumiCommand,
      envVars: {
        PULUMI_BACKEND_URL: `file://${backend}`,
        PULUMI_HOME: path.join(root, "home"),
        PULUMI_CONFIG_PASSPHRASE: "cli-test-passphrase",
      },
    },
  };
}

function stateFiles(e: Env): string {
  const dir = path.join(e.backend, ".pulumi", "stacks", "clifixture");
  return fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), "utf8"))
    .join("\n");
}

const envs: Env[] = [];
after(() => {
  for (const e of envs.splice(0)) fs.rmSync(e.root, { recursive: true, force: true });
});

describe("pulumi CLI stand-in through the Automation API", function () {
  this.timeout(300_000);
  let e: Env;
  let stack: Stack;

  before(async () => {
    e = await makeEnv();
    envs.push(e);
  });

  it("answers `pulumi version` with the SDK's own version, which the SDK accepts", () => {
    assert.strictEqual(e.opts.pulumiCommand!.version?.toString(), SDK_VERSION);
  });

  it("createOrSelectStack creates the stack once, then selects it", async () => {
    stack = await LocalWorkspace.createOrSelectStack({ stackName: "dev", workDir: e.workDir }, e.opts);
    const again = await LocalWorkspace.createOrSelectStack({ stackName: "dev", workDir: e.workDir }, e.opts);
    const list = await again.workspace.listStacks();
    assert.deepStrictEqual(
      list.map((s) => [s.name, s.current]),
      [["dev", true]],
    );
    await assert.rejects(
      LocalWorkspace.selectStack({ stackName: "nope", workDir: e.workDir }, e.opts),
      StackNotFoundError,
    );
  });

  it("config set/get, --secret kept encrypted in Pulumi.dev.yaml, --path objects", async () => {
    await stack.setConfig("dir", { value: e.out });
    await stack.setConfig("token", { value: TOKEN, secret: true });
    await stack.setConfig("extra.list[0]", { value: "a" }, true);
    assert.deepStrictEqual(await stack.getConfig("token"), { value: TOKEN, secret: true });
    assert.deepStrictEqual(await stack.getConfig("extra.list[0]", true), { value: "a", secret: false });
    const all = await stack.getAllConfig();
    assert.deepStrictEqual(Object.keys(all).sort(), [
      "clifixture:dir",
      "clifixture:extra",
      "clifixture:token",
    ]);
    assert.strictEqual(all["clifixture:token"].secret, true);
    const yaml = fs.readFileSync(path.join(e.workDir, "Pulumi.dev.yaml"), "utf8");
    assert.ok(!yaml.includes(TOKEN), yaml);
    assert.match(yaml, /secure: v1:/);
    await stack.removeConfig("extra");
    assert.ok(!("clifixture:extra" in (await stack.getAllConfig())));
  });

  it("preview: changeSummary counts the creates and nothing is written", async () => {
    const events: EngineEvent[] = [];
    const r = await stack.preview({ onEvent: (ev) => events.push(ev) });
    assert.deepStrictEqual(r.changeSummary, { create: 3 });
    assert.ok(r.stdout.includes("Previewing update (dev):"), r.stdout);
    assert.deepStrictEqual(fs.readdirSync(e.out), []);
    const pre = events.filter((ev) => ev.resourcePreEvent).map((ev) => ev.resourcePreEvent!.metadata);
    assert.ok(pre.every((m) => m.op === "create"));
    assert.ok(
      events.filter((ev) => ev.resourcePreEvent).every((ev) => ev.resourcePreEvent!.planning === true),
    );
  });

  it("up: outputs (secret kept secret), engine events through onEvent, the summary, the log through onOutput", async () => {
    const events: EngineEvent[] = [];
    let log = "";
    const r = await stack.up({ onEvent: (ev) => events.push(ev), onOutput: (t) => (log += t) });
    assert.strictEqual(r.outputs.greetingPath.value, path.join(e.out, "greeting.txt"));
    assert.strictEqual(r.outputs.greetingSize.value, 5);
    assert.deepStrictEqual(r.outputs.tokenEcho, { value: TOKEN, secret: true });
    assert.strictEqual(fs.readFileSync(path.join(e.out, "greeting.txt"), "utf8"), "hello");
    assert.strictEqual(r.summary.kind, "update");
    assert.strictEqual(r.summary.result, "succeeded");
    assert.deepStrictEqual(r.summary.resourceChanges, { create: 3 });
    // Events: prelude first, a pre/outputs pair per resource, then summary and the closing cancel.
    assert.ok(events[0].preludeEvent, JSON.stringify(events[0]));
    assert.strictEqual(events[0].preludeEvent!.config["clifixture:token"], "[secret]");
    const greetingUrn = "urn:pulumi:dev::clifixture::pulumi-nodejs:dynamic/clifixture:Note::greeting";
    const outs = events.find((ev) => ev.resOutputsEvent?.metadata.urn === greetingUrn)!.resOutputsEvent!;
    assert.strictEqual(outs.metadata.op, "create");
    assert.strictEqual(outs.metadata.new?.outputs.content, "hello");
    assert.ok(events.some((ev) => ev.resourcePreEvent?.metadata.urn === greetingUrn));
    const summary = events.find((ev) => ev.summaryEvent)!.summaryEvent!;
    assert.deepStrictEqual(summary.resourceChanges, { create: 3 });
    assert.ok(events[events.length - 1].cancelEvent, "the CLI ends every event log with a cancelEvent");
    assert.deepStrictEqual(
      events.map((ev) => ev.sequence),
      events.map((_, i) => i),
    );
    assert.ok(log.includes("Updating (dev):"), log);
    assert.ok(log.includes("greeting created"), log);
    assert.ok(log.includes("+ 3 created"), log);
    assert.ok(!log.includes(TOKEN), "the display masks secrets");
    assert.strictEqual(r.stdout.trimEnd(), log.trimEnd(), "stdout is what onOutput streamed");
    assert.ok(!stateFiles(e).includes(TOKEN), "no plaintext secret in the backend's files");
  });

  it("a second up changes nothing (file event log, as for CLIs up to 3.205)", async () => {
    const old = await makeEnv("3.200.0");
    envs.push(old);
    const ws = await LocalWorkspace.create({
      ...e.opts,
      pulumiCommand: old.opts.pulumiCommand,
      workDir: e.workDir,
    });
    const s = await Stack.select("dev", ws);
    const events: EngineEvent[] = [];
    const r = await s.up({ onEvent: (ev) => events.push(ev) });
    assert.deepStrictEqual(r.summary.resourceChanges, { same: 3 });
    assert.deepStrictEqual(events.find((ev) => ev.summaryEvent)?.summaryEvent?.resourceChanges, { same: 3 });
  });

  it("stack output and stack history show the last update", async () => {
    const outs = await stack.outputs();
    assert.deepStrictEqual(outs.tokenEcho, { value: TOKEN, secret: true });
    const history = await stack.history();
    assert.deepStrictEqual(
      history.map((h) => h.kind),
      ["update", "update"],
    );
    assert.ok(history[0].startTime instanceof Date && history[0].endTime! >= history[0].startTime);
  });

  it("a config change: preview shows the update, up applies it with --diff", async () => {
    await stack.setConfig("greeting", { value: "hi there" });
    const p = await stack.preview({ diff: true });
    assert.deepStrictEqual(p.changeSummary, { same: 2, update: 1 });
    assert.ok(p.stdout.includes("~ content"), p.stdout);
    const r = await stack.up({ diff: true });
    assert.deepStrictEqual(r.summary.resourceChanges, { same: 2, update: 1 });
    assert.strictEqual(fs.readFileSync(path.join(e.out, "greeting.txt"), "utf8"), "hi there");
  });

  it("refresh: preview-only finds the drift and keeps the state; refresh records it", async () => {
    fs.writeFileSync(path.join(e.out, "greeting.txt"), "edited by hand");
    const before = stateFiles(e);
    const p = await stack.previewRefresh();
    // refresh reads custom resources only (the stack resource has nothing to read)
    assert.deepStrictEqual(p.changeSummary, { same: 1, update: 1 });
    assert.strictEqual(stateFiles(e), before, "a refresh preview writes nothing");
    const events: EngineEvent[] = [];
    const r = await stack.refresh({ onEvent: (ev) => events.push(ev) });
    assert.strictEqual(r.summary.kind, "refresh");
    assert.deepStrictEqual(r.summary.resourceChanges, { same: 1, update: 1 });
    const greeting = events.find((ev) => ev.resOutputsEvent?.metadata.op === "update")!.resOutputsEvent!;
    assert.strictEqual(greeting.metadata.new?.outputs.content, "edited by hand");
  });

  it("stack export and import round-trip the state", async () => {
    const exported = await stack.exportStack();
    assert.strictEqual(exported.version, 3);
    fs.rmSync(path.join(e.backend, ".pulumi", "stacks", "clifixture", "dev.json"));
    assert.deepStrictEqual(await stack.outputs(), {});
    await stack.importStack(exported);
    // Stack outputs are the program's, from the last up ("hi there"): a refresh does not run the program.
    assert.strictEqual((await stack.outputs()).greetingSize.value, 8);
    assert.strictEqual((await stack.exportStack()).deployment.resources.length, 3);
  });

  it("a failing resource: up rejects with the provider's check failure and exit code 1", async () => {
    await stack.setConfig("dir", { value: "relative/dir" });
    await assert.rejects(stack.up(), (err: Error) => {
      assert.ok(err instanceof CommandError, String(err));
      assert.match(err.message, /exit code 1\b/);
      assert.match(err.message, /path: must be an absolute path/);
      return true;
    });
    await stack.setConfig("dir", { value: e.out });
    const last = await stack.info();
    assert.strictEqual(last?.result, "failed");
  });

  it("destroy: deletes every resource, then the stack can be removed", async () => {
    const r = await stack.destroy();
    assert.strictEqual(r.summary.kind, "destroy");
    assert.deepStrictEqual(r.summary.resourceChanges, { delete: 3 });
    assert.deepStrictEqual(fs.readdirSync(e.out), []);
    assert.deepStrictEqual(await stack.outputs(), {});
    await stack.workspace.removeStack("dev");
    assert.deepStrictEqual(await stack.workspace.listStacks(), []);
  });
});

describe("pulumi CLI stand-in: cancel and the stack lock", function () {
  this.timeout(300_000);

  it("a second up while one runs is a ConcurrentUpdateError; abort (SIGINT) cancels the run", async () => {
    const e = await makeEnv();
    envs.push(e);
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: "slow", workDir: e.workDir }, e.opts);
    await stack.setConfig("dir", { value: e.out });
    await stack.setConfig("delayMs", { value: "120000" });
    const lock = path.join(e.backend, ".pulumi", "locks", "clifixture", "slow", "update.json");
    const abort = new AbortController();
    const events: EngineEvent[] = [];
    const running = stack.up({ signal: abort.signal, onEvent: (ev) => events.push(ev) }).then(
      () => undefined,
      (err: Error) => err,
    );
    const deadline = Date.now() + 120_000;
    while (!fs.existsSync(lock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(fs.existsSync(lock), "the running up holds the stack lock");
    await assert.rejects(stack.up(), ConcurrentUpdateError);
    // Let the program register its (slow) resources, then abort as a caller would.
    await new Promise((r) => setTimeout(r, 8000));
    const t0 = Date.now();
    abort.abort();
    const err = await running;
    assert.ok(err instanceof CommandError, `the cancelled up must reject, got ${String(err)}`);
    assert.match(err.message, /exit code 8\b/, "ExitCancelled, as the CLI");
    assert.match(err.message, /update canceled/);
    assert.ok(Date.now() - t0 < 60_000, "cancel does not wait for the 120 s create");
    assert.ok(
      !events.some((ev) => ev.resOutputsEvent?.metadata.type.endsWith("clifixture:Note")),
      "no note was created",
    );
    assert.ok(events.some((ev) => ev.cancelEvent));
    assert.ok(!fs.existsSync(lock), "the lock is released");
    assert.deepStrictEqual(fs.readdirSync(e.out), []);
    assert.strictEqual((await stack.info())?.result, "failed");
  });
});
