/**
 * The whole build stack (VMs on, build runs configured) previewed from an empty state through the
 * engine harness, as `pulumi preview` would on a new stack: most inputs are unknown (they are outputs
 * of resources not created yet), so every check must skip them instead of failing. No testbed:
 * a preview makes no remote call, so the config names loopback addresses where nothing listens,
 * and the trace file proves that nothing was called.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Harness } from ".";
import { emulatedProvider } from "./emulated";
import { UNKNOWN } from "./secrets";
import { sshKeyPair } from "../build-host/fixtures";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq1e8x8pt4iIhBPg6w9kJh6zV+q7dK0P5c7V8z alice@example";
const KEY_LINE = "127.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq1e8x8pt4iIhBPg6w9kJh6zV+q7dK0P5c7V8z";

describe("engine harness: preview of the whole build stack from an empty state", function () {
  this.timeout(300_000);
  let dir: string;
  let h: Harness;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-preview-"));
  });
  after(async () => {
    await h?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("remote.Command: a connection that is unknown as a whole passes check (it is checked at up)", async () => {
    const p = emulatedProvider("command:remote:Command")!;
    const ctx = { urn: "urn:x", type: "command:remote:Command", name: "x", secrets: [] };
    const unknown = await p.check(ctx, {}, { create: "true", connection: UNKNOWN });
    assert.deepEqual(unknown.failures, []);
    const partly = await p.check(
      ctx,
      {},
      { create: "true", connection: { host: UNKNOWN, privateKey: UNKNOWN } },
    );
    assert.deepEqual(partly.failures, []);
    // A known connection without a host still fails, as before.
    const missing = await p.check(ctx, {}, { create: "true", connection: { privateKey: UNKNOWN } });
    assert.deepEqual(
      missing.failures.map((f) => `${f.property}: ${f.reason}`),
      ["connection.host: is required. Fix: set connection.host to a non-empty string"],
    );
  });

  it("lists every resource of the build stack, fails on nothing and calls nothing remote", async () => {
    const traceFile = path.join(dir, "trace.jsonl");
    h = new Harness({
      stack: "build-1",
      stateFile: path.join(dir, "state.json"),
      env: { G8OS_TRACE_FILE: traceFile },
      config: {
        "g8os:telegramBotToken": { secret: "123456:PREVIEW-TOKEN" },
        "g8os:telegramChatId": "-1001",
        "g8os:zerotierToken": { secret: "zt-preview-token" },
        "g8os:keySource": "inline",
        "g8os:keyInline": JSON.stringify([KEY]),
        "g8os:buildHostName": "ovh4",
        "g8os:bootstrapPrivateKey": {
          secret: sshKeyPair("bootstrap@preview").privateKey,
        },
        "g8os:vmsEnabled": "true",
        "g8os:vmImageSha256": "a".repeat(64),
        "g8os:core0KernelSha256": "b".repeat(64),
        "g8os:buildHostAddress": "127.0.0.1",
        "g8os:buildHostPort": "1",
        "g8os:zerotierApiUrl": "http://127.0.0.1:1/api/v1",
        "g8os:telegramApiRoot": "http://127.0.0.1:1",
        "g8os:core0KernelUrl": "http://127.0.0.1:1/vmlinuz.efi",
        "g8os:vmImageUrl": "http://127.0.0.1:1/noble.img",
        "g8os:buildTreeDir": "test/build/fixtures/tree",
        "g8os:ipfsApiUrl": "http://127.0.0.1:1",
        "g8os:ipfsGatewayUrl": "http://127.0.0.1:1",
        "g8os:templatesRepoUrl": "ssh://git@127.0.0.1:1/gig/ays_templates.git",
        "g8os:templatesBranches": JSON.stringify(["master", "stable"]),
        "g8os:templatesKnownHosts": KEY_LINE,
      },
    });
    const r = await h.preview();
    assert.deepEqual(
      r.errors,
      [],
      `preview errors:\n${r.errors.join("\n")}\n--- log ---\n${r.log.slice(-3000)}`,
    );
    assert.equal(r.failed, false);
    const ops = new Set(r.steps.map((s) => s.op));
    assert.deepEqual([...ops], ["create"], "from an empty state every step is a create");
    const types = r.steps.map((s) => s.type);
    const count = (t: string) => types.filter((x) => x === t).length;
    // The chain the brief names: VMs (3 Ubuntu lockdowns + the host's), ZeroTier identities
    // generated on the KVM host (ZerotierIdentity, formerly remote.Command), and the build run's pieces.
    assert.equal(count("pulumi-nodejs:dynamic/host:ZerotierOnlySsh"), 3);
    const ids = count("pulumi-nodejs:dynamic/host:ZerotierIdentity");
    assert.ok(ids >= 4, `ZeroTier identities: ${ids}`);
    assert.ok(
      r.steps.some((s) => s.urn.endsWith("::build-1-node-zerotier-identity")),
      "the build node's identity command is previewed",
    );
    for (const t of ["build:AppBuild", "build:AppTest", "build:TemplatesRelease", "libvirt:LibvirtDomain"]) {
      assert.ok(
        count(`pulumi-nodejs:dynamic/${t}`) >= 1,
        `no ${t} in the preview: ${[...new Set(types)].join(", ")}`,
      );
    }
    assert.equal(h.stateText(), "", "a preview writes no state");
    assert.ok(
      !fs.existsSync(traceFile) || fs.readFileSync(traceFile, "utf8") === "",
      "no remote call in a preview",
    );
  });
});
