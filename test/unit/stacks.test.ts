import * as assert from "assert";
import { validBuildConfig, vmConfig } from "./fixtures";
import { runStackUnderMocks } from "./run-stack";

/** A mock input's value: secrets arrive wrapped as { <sig>: <secret sig>, value }. */
function plain(v: unknown): string {
  return String(v && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v);
}

describe("stacks under mocks", function () {
  this.timeout(60_000);

  it("build-1 composes the build environment: keys, deploy key, redis password, network, host", () => {
    const r = runStackUnderMocks("build-1", validBuildConfig());
    assert.strictEqual(r.error, undefined);
    assert.strictEqual(r.outputs?.stackKind, "build");
    assert.strictEqual(r.outputs?.envNumber, 1);
    const byType = (suffix: string) => (r.resources ?? []).filter((x) => x.type.endsWith(suffix));
    assert.strictEqual(byType("tls:index/privateKey:PrivateKey")[0]?.inputs.algorithm, "ED25519");
    const pw = byType("random:index/randomPassword:RandomPassword")[0];
    assert.strictEqual(pw?.inputs.length, 32);
    const net = byType("zerotier:Network")[0];
    assert.strictEqual(net?.inputs.name, "g8os-build-1");
    assert.strictEqual(net?.inputs.private, true);
    assert.deepStrictEqual(net?.inputs.ipAssignmentPools, [{ start: "10.147.17.10", end: "10.147.17.250" }]);
    assert.strictEqual(byType("g8os:build:BuildHost").length, 1);
    const keys = byType("host:AuthorizedKeys")[0];
    assert.strictEqual(keys?.inputs.block, "build-1");
    assert.strictEqual((keys?.inputs.keys as string[]).length, 2, "group key + deploy key");
    assert.strictEqual(byType("host:ZerotierOnlySsh").length, 1);
    assert.match(
      String(byType("telegram:Message")[0]?.inputs.text),
      /Build env 1: physical host ovh4 .* ZeroTier IP 10\.147\.17\.1\b/,
    );
    assert.strictEqual((r.outputs?.buildHost as Record<string, unknown>).zerotierIp, "10.147.17.1");
  });

  it("build-1 authorises g8os:buildNetworkMembers on the build network before anything joins it", () => {
    const cfg = {
      ...validBuildConfig(),
      "g8os:buildNetworkMembers": JSON.stringify(["89E92CEEE5 alice-laptop", "0123456789 bob-desk"]),
    };
    const r = runStackUnderMocks("build-1", cfg);
    assert.strictEqual(r.error, undefined);
    const all = r.resources ?? [];
    const members = all.filter(
      (x) => x.type.endsWith("zerotier:Member") && x.name.includes("network-member"),
    );
    assert.deepStrictEqual(
      members.map((m) => [m.name, m.inputs.memberId, m.inputs.name, m.inputs.authorized]),
      [
        ["build-1-network-member-alice-laptop", "89e92ceee5", "alice-laptop", true],
        ["build-1-network-member-bob-desk", "0123456789", "bob-desk", true],
      ],
    );
    // Registered once its inputs resolve: the host's join waits for both members.
    const join = all.findIndex((x) => x.type.endsWith("host:ZerotierHostJoin"));
    assert.ok(join > all.indexOf(members[1]), "the host joins after the members are authorised");
    assert.deepStrictEqual(r.outputs?.buildNetworkMembers, [
      { name: "alice-laptop", nodeId: "89e92ceee5" },
      { name: "bob-desk", nodeId: "0123456789" },
    ]);
  });

  it("build-1 with vmsEnabled: KVM host, then 4 VMs in parallel with fixed IPs, cmdlines and announcements", () => {
    const cfg = { ...validBuildConfig(), ...vmConfig() };
    cfg["g8os:core0KernelFlags"] = JSON.stringify(["development"]);
    const r = runStackUnderMocks("build-1", cfg);
    assert.strictEqual(r.error, undefined);
    const all = r.resources ?? [];
    const byType = (suffix: string) => all.filter((x) => x.type.endsWith(suffix));
    // The KVM host is the physical host over its ZeroTier IP with the deploy key.
    const setup = byType("libvirt:KvmHostSetup")[0];
    assert.strictEqual(setup?.inputs.host, "10.147.17.1");
    assert.strictEqual(
      setup?.inputs.hostKeySha256,
      "SHA256:" + "A".repeat(43),
      "pinned by BuildHost's first contact",
    );
    assert.deepStrictEqual(
      byType("g8os:vm:UbuntuVm")
        .map((x) => x.name)
        .sort(),
      ["build-1-cockpit", "build-1-node"],
    );
    assert.deepStrictEqual(
      byType("g8os:vm:Core0Vm")
        .map((x) => x.name)
        .sort(),
      ["build-1-core0-1", "build-1-core0-2"],
    );
    // Fixed member IPs: host +1 build node, +2/+3 core0, +4 cockpit.
    const members = Object.fromEntries(
      byType("zerotier:Member").map((m) => [m.inputs.name, (m.inputs.ipAssignments as string[])[0]]),
    );
    assert.deepStrictEqual(members, {
      "ovh4-build-1": "10.147.17.1",
      "build-1-node": "10.147.17.2",
      "build-1-core0-1": "10.147.17.3",
      "build-1-core0-2": "10.147.17.4",
      "build-1-cockpit": "10.147.17.5",
    });
    const domains: Record<string, Record<string, unknown>> = Object.fromEntries(
      byType("libvirt:LibvirtDomain").map((d) => [String(d.inputs.name), d.inputs]),
    );
    assert.deepStrictEqual(Object.keys(domains).sort(), [
      "build-1-cockpit",
      "build-1-core0-1",
      "build-1-core0-2",
      "build-1-node",
    ]);
    assert.strictEqual(
      domains["build-1-core0-1"].cmdline,
      "console=ttyS0,115200n8 zerotier=8056c2e21c000001 development",
    );
    assert.strictEqual(domains["build-1-node"].kernel, undefined, "Ubuntu boots its own bootloader");
    // Secrets never on the kernel command line: the redis password travels on the seed.
    for (const d of Object.values(domains))
      assert.ok(!String(d.cmdline ?? "").includes("unit-test-password"));
    const core0Seed = byType("libvirt:CloudInitSeed").find((s) => s.name === "build-1-core0-1-seed");
    assert.match(plain(core0Seed?.inputs.userData), /\/g8os\/redis-password[\s\S]*unit-test-password/);
    // Each Ubuntu VM: cloud-init with the deploy + group keys, the pinned host key, the ZeroTier join.
    const nodeSeed = byType("libvirt:CloudInitSeed").find((s) => s.name === "build-1-node-seed");
    const userData = plain(nodeSeed?.inputs.userData);
    assert.match(userData, /hostname: "build-1-node"/);
    assert.match(userData, /g8os-deploy-build-1/);
    assert.match(userData, /alice@example/);
    assert.match(userData, /ed25519_private: "-----BEGIN OPENSSH PRIVATE KEY-----/);
    assert.match(userData, /zerotier-cli join 8056c2e21c000001/);
    // ufw lockdown and the key block per Ubuntu VM (plus the physical host's), announcements per VM.
    assert.strictEqual(byType("host:ZerotierOnlySsh").length, 3);
    assert.strictEqual(byType("host:AuthorizedKeys").length, 3);
    const texts = byType("telegram:Message").map((m) => String(m.inputs.text));
    for (const re of [
      /build-node build-1-node is up, ZeroTier IP 10\.147\.17\.2\b/,
      /cockpit build-1-cockpit is up, ZeroTier IP 10\.147\.17\.5\b/,
      /core0 node build-1-core0-1 booted, ZeroTier IP 10\.147\.17\.3\b/,
      /core0 node build-1-core0-2 booted, ZeroTier IP 10\.147\.17\.4\b/,
    ])
      assert.ok(
        texts.some((t) => re.test(t)),
        `announcement ${re}`,
      );
    // One shared Ubuntu image and one core0 kernel, fetched with their pinned digests.
    const images = byType("libvirt:LibvirtVolume").filter((v) => v.inputs.sourceUrl !== undefined);
    assert.deepStrictEqual(images.map((v) => v.inputs.sha256).sort(), ["a".repeat(64), "b".repeat(64)]);
    const nodes = (r.outputs?.vms as { nodes: { role: string; zerotierIp: string }[] }).nodes;
    assert.deepStrictEqual(
      nodes.map((n) => `${n.role} ${n.zerotierIp}`),
      ["build-node 10.147.17.2", "core0 10.147.17.3", "core0 10.147.17.4", "cockpit 10.147.17.5"],
    );
  });

  it("vmsEnabled without image digests, or with a VM address in a pool, fails naming the keys", () => {
    const cfg: Record<string, string | { secret: string }> = {
      ...validBuildConfig(),
      "g8os:vmsEnabled": "true",
    };
    cfg["g8os:cockpitZerotierIp"] = "10.147.17.20";
    cfg["g8os:core0KernelFlags"] = JSON.stringify(["organization=x y"]);
    const err = runStackUnderMocks("build-1", cfg).error ?? "";
    assert.match(err, /g8os:vmImageSha256/);
    assert.match(err, /g8os:core0KernelUrl/);
    assert.match(err, /g8os:cockpitZerotierIp: 10\.147\.17\.20 is inside zerotierPools\[0\]/);
    assert.match(err, /core0KernelFlags\[0\]/);
  });

  it("grid-1 composes the grid file: a verified node per node, a container per app on its node", () => {
    const r = runStackUnderMocks("grid-1", { "g8os:gridRedisPassword": { secret: "grid-redis-pw" } });
    assert.strictEqual(r.error, undefined);
    assert.strictEqual(r.outputs?.stackKind, "grid");
    assert.strictEqual(r.outputs?.managementNetwork, "8056c2e21c000001");
    const nodes = (r.resources ?? []).filter((x) => x.type.endsWith("core0:Node"));
    assert.deepStrictEqual(nodes.map((n) => n.inputs.address).sort(), ["10.147.17.3", "10.147.17.4"]);
    const app = (r.resources ?? []).find((x) => x.type.endsWith("core0:Container"));
    assert.strictEqual(app?.inputs.nodeAddress, "10.147.17.3");
    // Placed by the grid (grid-1.yaml pins nothing): node1 has the most room by its file caps.
    const placement = r.outputs?.placement as Record<string, { node: string; reason: string }>;
    assert.strictEqual(placement.redis.node, "node1");
    assert.match(placement.redis.reason, /most free: 4096 MiB/);
    assert.deepStrictEqual((app?.inputs.startCommands as { background: boolean }[])[0].background, true);
  });

  it("grid: a missing password and a bad grid file are config errors naming key, file and field", () => {
    assert.match(runStackUnderMocks("grid-1", {}).error ?? "", /g8os:gridRedisPassword: .* is required/);
    const bad = runStackUnderMocks("grid-7", { "g8os:gridRedisPassword": { secret: "pw" } }).error ?? "";
    assert.match(bad, /grid\/grid-7\.yaml: cannot be read\. Fix: set g8os:gridFile/);
  });

  it("an unknown stack name fails before any resource, naming the accepted forms", () => {
    const r = runStackUnderMocks("staging", validBuildConfig());
    assert.match(r.error ?? "", /Accepted names: build, build-<N>, grid, grid-<N>/);
    assert.deepStrictEqual(r.resources ?? [], []);
  });

  it("missing required config is reported all at once, each with its fix", () => {
    const r = runStackUnderMocks("build-1", {});
    const err = r.error ?? "";
    for (const key of [
      "telegramBotToken",
      "telegramChatId",
      "zerotierToken",
      "buildHostName",
      "buildHostAddress",
      "bootstrapPrivateKey",
    ]) {
      assert.match(err, new RegExp(`g8os:${key}`), `error should name g8os:${key}`);
    }
    assert.match(err, /pulumi config set --secret g8os:telegramBotToken/);
  });

  it("a secret set as plain text is rejected with the --secret fix", () => {
    const cfg = validBuildConfig();
    cfg["g8os:zerotierToken"] = "zt-token-in-plain-text";
    const r = runStackUnderMocks("build-1", cfg);
    assert.match(r.error ?? "", /g8os:zerotierToken: \(ZeroTier API token\) is stored in plain text/);
    assert.ok(!(r.error ?? "").includes("zt-token-in-plain-text"), "the error must not echo the secret");
  });

  it("bad values name the field: pool outside routes, bad CIDR, bad key, bad port", () => {
    const cfg = validBuildConfig();
    cfg["g8os:zerotierRoutes"] = JSON.stringify(["10.147.17.0/24", "10.147.17.0/33"]);
    cfg["g8os:zerotierPools"] = JSON.stringify(["10.9.0.1-10.9.0.9", "10.147.17.9-10.147.17.1"]);
    cfg["g8os:keyInline"] = JSON.stringify(["ssh-ed25519 AAAAtruncated"]);
    cfg["g8os:buildHostPort"] = "70000";
    const err = runStackUnderMocks("build-1", cfg).error ?? "";
    assert.match(err, /zerotierRoutes\[1\]/);
    assert.match(err, /zerotierPools\[0\].*not inside any of zerotierRoutes/);
    assert.match(err, /zerotierPools\[1\].*starts after it ends/);
    assert.match(err, /keyInline\[0\]/);
    assert.match(err, /g8os:buildHostPort: is "70000"; a TCP port must be a whole number from 1 to 65535/);
  });

  it("the host's fixed ZeroTier address must be inside a route and outside the pools", () => {
    const cfg = validBuildConfig();
    cfg["g8os:buildHostZerotierIp"] = "10.147.17.20";
    assert.match(
      runStackUnderMocks("build-1", cfg).error ?? "",
      /g8os:buildHostZerotierIp: 10\.147\.17\.20 is inside zerotierPools\[0\]/,
    );
    cfg["g8os:buildHostZerotierIp"] = "10.9.9.9";
    assert.match(
      runStackUnderMocks("build-1", cfg).error ?? "",
      /g8os:buildHostZerotierIp: 10\.9\.9\.9 is not inside any of zerotierRoutes/,
    );
  });
});

describe("Node version guard", () => {
  it("npm scripts on Node < 22 stop with the fix (npm ci brings Node 22)", function () {
    const { spawnSync } = require("child_process") as typeof import("child_process");
    const sys = spawnSync("/usr/bin/node", ["--version"], { encoding: "utf8" });
    if (sys.error || Number(sys.stdout.trim().slice(1).split(".")[0]) >= 22) this.skip();
    const r = spawnSync("/usr/bin/node", ["scripts/check-node.js"], { encoding: "utf8" });
    assert.strictEqual(r.status, 1);
    assert.match(r.stderr, /g8os needs Node >= 22 .*Run `npm ci` first/s);
  });
});

describe("build runs in the build stack (mocks)", function () {
  this.timeout(120_000);
  const runConfig = {
    "g8os:buildTreeDir": "test/build/fixtures/tree",
    "g8os:ipfsApiUrl": "http://10.147.17.2:5001",
    "g8os:ipfsGatewayUrl": "http://10.147.17.2:8080",
    "g8os:templatesRepoUrl": "ssh://git@10.147.17.2/gig/ays_templates.git",
    "g8os:templatesBranches": JSON.stringify(["master", "stable"]),
    "g8os:templatesKnownHosts":
      "10.147.17.2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq1e8x8pt4iIhBPg6w9kJh6zV+q7dK0P5c7V8z",
  };

  it("compose one BuildRun: an AppBuild per app of the tree, tests on the core0 VMs, a release", () => {
    const r = runStackUnderMocks("build-1", { ...validBuildConfig(), ...vmConfig(), ...runConfig });
    assert.strictEqual(r.error, undefined);
    const types = (r.resources ?? []).map((x) => x.type);
    assert.strictEqual(types.filter((t) => t.endsWith("g8os:build:BuildRun")).length, 1);
    const builds = (r.resources ?? []).filter((x) => x.type.endsWith(":AppBuild"));
    assert.deepStrictEqual(builds.map((b) => (b.inputs.spec as { name: string }).name).sort(), [
      "hello-c",
      "hello-sh",
    ]);
    const tests = (r.resources ?? []).find((x) => x.type.endsWith(":AppTest"));
    // nodes carry the redis password: the mock sees them as a secret ({<sig>, value}).
    const nodes = tests?.inputs.nodes as unknown[] | { value: unknown[] };
    assert.strictEqual(
      (Array.isArray(nodes) ? nodes : nodes.value).length,
      2,
      "tests spread over both core0 VMs",
    );
    assert.ok(types.some((t) => t.endsWith(":TemplatesRelease")));
  });

  it("a build tree without VMs, and an app naming an unknown branch, are config errors", () => {
    const noVms = runStackUnderMocks("build-1", { ...validBuildConfig(), ...runConfig });
    assert.match(noVms.error ?? "", /g8os:buildTreeDir: is set but the VMs are off/);
    const oneBranch = runStackUnderMocks("build-1", {
      ...validBuildConfig(),
      ...vmConfig(),
      ...runConfig,
      "g8os:templatesBranches": JSON.stringify(["master"]),
    });
    assert.match(
      oneBranch.error ?? "",
      /hello-sh\.yaml \(build tree of g8os:buildTreeDir\): branches\[\d\]: "stable" is not a known branch/,
    );
  });
});
