/**
 * The production path end to end: the cockpit with its real engine (Automation API
 * `LocalWorkspace` + `PulumiCommand.get({ root })`) driving the `pulumi` CLI stand-in of the engine
 * harness (test/harness/cli/) on a small project of dynamic resources (test/cockpit/fixture-program/,
 * files under a temp dir). The stack is created beforehand with the Automation API the way the
 * bootstrap machine hands it over. No testbed, nothing outside 127.0.0.1 and the temp dir.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  LocalWorkspace,
  PulumiCommand,
  type LocalWorkspaceOptions,
  type Stack,
} from "@pulumi/pulumi/automation";
import { checkConfig } from "../../cockpit/config";
import { startCockpit, type Cockpit } from "../../cockpit/service";
import { startIssuer, type Issuer } from "./issuer";
import { call, iyoClaims, PASSPHRASE, readSse, seenResponses, until } from "./setup";

const CLI_ROOT = path.join(__dirname, "..", "harness", "cli");
const FIXTURE = path.join(__dirname, "fixture-program");

describe("cockpit runs through the Automation API and the pulumi CLI stand-in", function () {
  this.timeout(300_000);
  let issuer: Issuer;
  let root: string;
  let out: string;
  let c: Cockpit;
  let logLines: string[];
  let admin: Stack;
  let op: string;
  let viewer: string;

  before(async () => {
    issuer = await startIssuer();
    op = issuer.sign(iyoClaims("otto", ["build.ops"]));
    viewer = issuer.sign(iyoClaims("vera", ["build"]));
    root = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-cockpit-cli-"));
    const projectDir = path.join(root, "project");
    out = path.join(root, "out");
    const dataDir = path.join(root, "data");
    for (const d of [projectDir, out, dataDir]) fs.mkdirSync(d);
    fs.writeFileSync(
      path.join(projectDir, "Pulumi.yaml"),
      fs
        .readFileSync(path.join(FIXTURE, "Pulumi.yaml"), "utf8")
        .replace(/^main: .*$/m, `main: ${path.relative(projectDir, path.join(FIXTURE, "index.ts"))}`),
    );
    const passphraseFile = path.join(root, "passphrase");
    fs.writeFileSync(passphraseFile, PASSPHRASE, { mode: 0o600 });
    const backendUrl = `file://${path.join(dataDir, "state")}`;
    fs.mkdirSync(path.join(dataDir, "state"));
    const home = path.join(root, "home");
    // The hand-over: the stack exists in the backend, its config in the project directory.
    const opts: LocalWorkspaceOptions = {
      pulumiCommand: await PulumiCommand.get({ root: CLI_ROOT }),
      envVars: {
        PULUMI_BACKEND_URL: backendUrl,
        PULUMI_CONFIG_PASSPHRASE_FILE: passphraseFile,
        PULUMI_HOME: home,
      },
    };
    admin = await LocalWorkspace.createStack({ stackName: "dev", workDir: projectDir }, opts);
    await admin.setConfig("cockpitfixture:dir", { value: out });
    // A stack whose config was synced but whose state was never handed over.
    fs.writeFileSync(path.join(projectDir, "Pulumi.other.yaml"), "config: {}\n");
    const cfg = checkConfig(
      {
        listen: { host: "127.0.0.1", port: 0 },
        projectDir,
        dataDir,
        pulumi: { root: CLI_ROOT, passphraseFile, backendUrl, home },
        auth: {
          mode: "itsyouonline",
          jwksUrl: issuer.jwksUrl,
          organization: "build",
          operatorOrganization: "build.ops",
        },
      },
      path.join(root, "cockpit.yaml"),
    );
    logLines = [];
    c = await startCockpit(cfg, { log: (l) => logLines.push(l) });
  });
  after(async () => {
    await c?.close();
    await issuer?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const runRequest = async (body: Record<string, unknown>) => {
    const r = await call(c.url, "POST", "/api/runs", { token: op, body });
    assert.strictEqual(r.status, 202, r.text);
    return r.json as { run: { id: string }; position: number };
  };
  const getRun = async (id: string) =>
    (await call(c.url, "GET", `/api/runs/${id}`, { token: viewer })).json.run;
  const finished = async (id: string) =>
    until(
      async () => {
        const r = await getRun(id);
        return ["succeeded", "failed", "cancelled"].includes(r.state) ? r : undefined;
      },
      `run ${id} to finish`,
      240_000,
    );
  type Step = { urn: string; op: string; changedFields: string[]; done: boolean };
  const stepOf = (run: { steps: Step[] }, name: string) =>
    run.steps.find((s) => s.urn.endsWith(`::${name}`)) as Step;

  it("preview: nothing written, the planned creates reported", async () => {
    const { run } = await runRequest({ stack: "dev", kind: "preview" });
    const r = await finished(run.id);
    assert.strictEqual(r.state, "succeeded", r.error);
    // The engine counts the stack itself too: 2 resources + the stack.
    assert.strictEqual(r.changes.create, 3, JSON.stringify(r.changes));
    assert.strictEqual(stepOf(r, "vm1").op, "create");
    assert.ok(!fs.existsSync(path.join(out, "vm1.json")));
  });

  it("up: the resources are created, the steps and the state's resources reported", async () => {
    const { run } = await runRequest({ stack: "dev", kind: "up" });
    const r = await finished(run.id);
    assert.strictEqual(r.state, "succeeded", r.error);
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(out, "vm1.json"), "utf8")), { size: 1 });
    assert.strictEqual(stepOf(r, "vm2").op, "create");
    assert.ok(stepOf(r, "vm2").done);
    const res = await call(c.url, "GET", "/api/stacks/dev/resources", { token: viewer });
    assert.strictEqual(res.status, 200, res.text);
    const types = res.json.resources.map((x: { type: string }) => x.type);
    assert.ok(types.includes("pulumi:pulumi:Stack"), types.join());
    assert.strictEqual(res.json.resources.filter((x: { urn: string }) => /::vm[12]$/.test(x.urn)).length, 2);
  });

  it("an up with approval: the preview shows the changed field, nothing changes until approved", async () => {
    await admin.setConfig("cockpitfixture:size", { value: "2" });
    const { run } = await runRequest({ stack: "dev", kind: "up", approval: true });
    const waiting = await until(
      async () => {
        const r = await getRun(run.id);
        assert.ok(!["failed", "cancelled"].includes(r.state), r.error);
        return r.state === "awaiting-approval" ? r : undefined;
      },
      "awaiting-approval",
      240_000,
    );
    const planned = waiting.previewSteps.find((s: { urn: string }) => s.urn.endsWith("::vm1"));
    assert.strictEqual(planned.op, "update");
    assert.deepStrictEqual(planned.changedFields, ["size"]);
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(out, "vm1.json"), "utf8")), { size: 1 });
    const ok = await call(c.url, "POST", `/api/runs/${run.id}/approve`, { token: op });
    assert.strictEqual(ok.status, 200, ok.text);
    const r = await finished(run.id);
    assert.strictEqual(r.state, "succeeded", r.error);
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(out, "vm1.json"), "utf8")), { size: 2 });
  });

  it("two runs asked at once: the second waits (position 1), both succeed", async () => {
    const a = await runRequest({ stack: "dev", kind: "refresh" });
    const b = await runRequest({ stack: "dev", kind: "preview" });
    assert.deepStrictEqual([a.position, b.position], [0, 1]);
    assert.strictEqual((await getRun(b.run.id)).state, "queued");
    assert.strictEqual((await finished(a.run.id)).state, "succeeded");
    const rb = await finished(b.run.id);
    assert.strictEqual(rb.state, "succeeded", rb.error);
    assert.ok(new Date(rb.startedAt) >= new Date((await getRun(a.run.id)).finishedAt));
  });

  it("drift: refresh --preview-only names the changed field and keeps the state; up --refresh repairs it", async () => {
    fs.writeFileSync(path.join(out, "vm1.json"), JSON.stringify({ size: 7 }));
    const check = async () => {
      const { run } = await runRequest({ stack: "dev", kind: "drift" });
      const r = await finished(run.id);
      assert.strictEqual(r.state, "succeeded", r.error);
      return r;
    };
    const d = await check();
    assert.strictEqual(stepOf(d, "vm1").op, "update", JSON.stringify(d.steps));
    assert.deepStrictEqual(stepOf(d, "vm1").changedFields, ["size"]);
    assert.strictEqual(stepOf(d, "vm2").op, "same");
    // Nothing kept: a second check finds the same drift.
    assert.deepStrictEqual(stepOf(await check(), "vm1").changedFields, ["size"]);
    const { run } = await runRequest({ stack: "dev", kind: "up", refresh: true, approval: true });
    const waiting = await until(
      async () => {
        const r = await getRun(run.id);
        assert.ok(!["failed", "cancelled"].includes(r.state), r.error);
        return r.state === "awaiting-approval" ? r : undefined;
      },
      "the repair's preview",
      240_000,
    );
    assert.ok(
      waiting.previewSteps.some((s: Step) => s.urn.endsWith("::vm1") && s.op === "update"),
      JSON.stringify(waiting.previewSteps),
    );
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(out, "vm1.json"), "utf8")), { size: 7 });
    assert.strictEqual((await call(c.url, "POST", `/api/runs/${run.id}/approve`, { token: op })).status, 200);
    assert.strictEqual((await finished(run.id)).state, "succeeded");
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(out, "vm1.json"), "utf8")), { size: 2 });
    const after = await check();
    assert.strictEqual(stepOf(after, "vm1").op, "same", JSON.stringify(after.steps));
  });

  it("refresh notices a change made outside and reports the resource's step", async () => {
    fs.writeFileSync(path.join(out, "vm2.json"), JSON.stringify({ size: 9 }));
    const { run } = await runRequest({ stack: "dev", kind: "refresh" });
    const r = await finished(run.id);
    assert.strictEqual(r.state, "succeeded", r.error);
    assert.ok(stepOf(r, "vm2"), JSON.stringify(r.steps));
  });

  it("destroy --target removes only that VM", async () => {
    const urn = (
      await call(c.url, "GET", "/api/stacks/dev/resources", { token: viewer })
    ).json.resources.find((x: { urn: string }) => x.urn.endsWith("::vm1")).urn;
    const { run } = await runRequest({ stack: "dev", kind: "destroy", target: urn });
    const r = await finished(run.id);
    assert.strictEqual(r.state, "succeeded", r.error);
    assert.ok(!fs.existsSync(path.join(out, "vm1.json")), "vm1 was not destroyed");
    assert.ok(fs.existsSync(path.join(out, "vm2.json")), "vm2 was destroyed too");
  });

  it("cancel stops a running up (SIGINT to the CLI); the live log streamed the CLI's output", async () => {
    await admin.setConfig("cockpitfixture:delayMs", { value: "60000" });
    await admin.setConfig("cockpitfixture:size", { value: "3" });
    const { run } = await runRequest({ stack: "dev", kind: "up" });
    const live: string[] = [];
    const stream = readSse(c.url, `/api/runs/${run.id}/log`, viewer, (e) => {
      if (e.event === "log") live.push(e.data);
    });
    await until(async () => (await getRun(run.id)).state === "running", "running", 60_000);
    // Wait until the provider is inside a step (its marker file), so the cancel hits a run in flight.
    await until(
      () =>
        fs.existsSync(path.join(out, "vm1.json.inflight")) ||
        fs.existsSync(path.join(out, "vm2.json.inflight")),
      "a step in flight",
      120_000,
    );
    const started = Date.now();
    const cr = await call(c.url, "POST", `/api/runs/${run.id}/cancel`, { token: op });
    assert.strictEqual(cr.status, 200, cr.text);
    const r = await finished(run.id);
    assert.strictEqual(r.state, "cancelled", r.error);
    assert.ok(Date.now() - started < 50_000, "the cancel waited for the step's delay");
    // vm2 still holds what the refresh test wrote outside: the cancelled update (size 3) never landed.
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(out, "vm2.json"), "utf8")), { size: 9 });
    const { events } = await stream;
    assert.strictEqual(events[events.length - 1].event, "end");
    const text = live.join("");
    assert.match(text, /--- pulumi up dev/);
    // More than the cockpit's own lines: the CLI's output came through.
    assert.ok(
      text.split("\n").some((l) => l.trim() && !l.startsWith("---")),
      text,
    );
  });

  it("a stack without state in the backend: its run fails naming the hand-over, resources answer 500 saying so", async () => {
    const { run } = await runRequest({ stack: "other", kind: "preview" });
    const r = await finished(run.id);
    assert.strictEqual(r.state, "failed");
    assert.match(r.error, /stack "other": select failed: the backend file:\/\/.* has no state for it/);
    const res = await call(c.url, "GET", "/api/stacks/other/resources", { token: viewer });
    assert.strictEqual(res.status, 500);
    assert.match(res.json.error.problem, /has no state for it/);
  });

  it("no secret in responses, the service log or the run logs", () => {
    const logsDir = path.join(root, "data", "logs");
    const runLogs = fs.readdirSync(logsDir).map((f) => fs.readFileSync(path.join(logsDir, f), "utf8"));
    for (const [where, text] of [
      ["responses", seenResponses.join("\n")],
      ["service log", logLines.join("\n")],
      ["run logs", runLogs.join("\n")],
    ]) {
      assert.ok(!text.includes(PASSPHRASE), `the passphrase is in ${where}`);
      assert.ok(!text.includes(op), `a JWT is in ${where}`);
    }
  });
});
