/**
 * The build stack's physical-host bootstrap, end to end: the real program (index.ts, stack build-1)
 * through the engine harness and the real dynamic-provider host, against a testbed host (network
 * namespace with its own sshd and ufw), the ZeroTier stand-in and its node agent, an ItsYou.online
 * stand-in and the telegram-test-api emulator.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pollUntil } from "../../providers/shared/retry";
import { ZerotierClient } from "../../providers/zerotier/client";
import { testbedBuildConfig } from "../../scripts/sandbox-config";
import { Harness, findResource, type ConfigValue, type RunResult } from "../harness";
import { useTestbed, type TestHost } from "../testbed";
import { startItsYouOnlineStandIn, type ItsYouOnlineStandIn } from "../testbed/keys";
import { startTelegramEmulator, type TelegramEmulator } from "../testbed/telegram";
import { requireZerotierStandIn } from "../testbed/zerotier/service";
import { assertNoSecrets, canLogIn, resetHost, sshKeyPair, sshPortOpen, type KeyPair } from "./fixtures";

/** g8os:buildNetworkMembers of this suite: `<node id> <name>`. */
const MEMBERS = ["0a1b2c3d4e operator", "5f6e7d8c9b carol-laptop"];
const TG_TOKEN = "777001:build-host-e2e-bot-token-x9";
const TG_CHAT = "-100777";
const IYO_SECRET = "iyo-client-secret-e2e-5c1d";
const ORG = "gig_build";

function traceWrites(file: string): { writes: number; calls: number } {
  const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];
  const events = lines.map((l) => JSON.parse(l) as { write: boolean });
  return { writes: events.filter((e) => e.write).length, calls: events.length };
}

function ops(r: RunResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of r.steps) out[s.urn.split("::").pop() as string] = s.op;
  return out;
}

describe("build stack: physical host bootstrap (testbed)", function () {
  this.timeout(900_000);
  const tb = useTestbed(this, { hosts: 3 });
  let host: TestHost;
  let iyo: ItsYouOnlineStandIn;
  let tg: TelegramEmulator;
  let harness: Harness;
  let zt: ZerotierClient;
  let ztToken: string;
  const traceFile = path.join(os.tmpdir(), `g8os-build-host-trace-${process.pid}.jsonl`);
  const alice: KeyPair = sshKeyPair("alice@gig");
  const bob: KeyPair = sshKeyPair("bob@gig");
  const carol: KeyPair = sshKeyPair("carol@gig");
  const runs: RunResult[] = [];
  let zerotierIp = "";

  const record = (r: RunResult): RunResult => {
    runs.push(r);
    return r;
  };

  before(async () => {
    host = tb().hosts[0];
    await resetHost(tb(), host);
    const info = requireZerotierStandIn(tb());
    ztToken = info.token;
    zt = new ZerotierClient({ backend: "controller", apiUrl: info.url, token: info.token, label: "test" });
    iyo = await startItsYouOnlineStandIn({
      clientId: "g8os-test",
      clientSecret: IYO_SECRET,
      organizations: { [ORG]: ["alice", "bob"] },
      users: {
        alice: [{ label: "laptop", publickey: alice.publicKey }],
        bob: [{ label: "desk", publickey: bob.publicKey }],
        carol: [{ label: "laptop", publickey: carol.publicKey }],
      },
    });
    tg = await startTelegramEmulator();
    const config: Record<string, ConfigValue> = testbedBuildConfig({
      telegram: { apiRoot: tg.apiRoot, botToken: TG_TOKEN, chatId: TG_CHAT },
      zerotier: { url: info.url, token: info.token, timeoutSec: 60 },
      pools: ["10.214.0.100-10.214.0.149"],
      host: {
        name: "ovh4",
        address: host.address,
        bootstrapPrivateKey: tb().bootstrapKey.privateKey,
        zerotierIp: "10.214.0.150",
      },
      keys: {
        kind: "itsyouonline",
        url: iyo.url,
        organization: ORG,
        clientId: "g8os-test",
        clientSecret: IYO_SECRET,
      },
      firewallConfirmTimeoutSec: 20,
    });
    // The operator's and a group member's machines (node ids only: the testbed's root namespace
    // sits on the ZeroTier bridge itself, so nothing here depends on these members being online).
    config["g8os:buildNetworkMembers"] = JSON.stringify(MEMBERS);
    harness = new Harness({ stack: "build-1", config, env: { G8OS_TRACE_FILE: traceFile } });
  });

  after(async () => {
    if (harness) {
      await harness.destroy().catch(() => undefined);
      await harness.close();
    }
    await iyo?.stop();
    await tg?.stop();
    if (host) await resetHost(tb(), host);
    fs.rmSync(traceFile, { force: true });
  });

  it("up from empty: SSH only over ZeroTier, with the deploy key and group keys, announced on Telegram", async () => {
    const r = record(await harness.up());
    assert.ok(!r.failed, `up failed:\n${r.errors.join("\n")}\n${r.log.slice(-3000)}`);
    const out = r.outputs.buildHost as { zerotierIp: string; hostKeySha256: string };
    zerotierIp = out.zerotierIp;
    assert.strictEqual(zerotierIp, "10.214.0.150", "the configured fixed address");
    assert.strictEqual(out.hostKeySha256, host.hostKeySha256, "host key pinned on first contact");

    const deployKey = String(findResource(harness.stateDecrypted(), "deploy-key").outputs.privateKeyOpenssh);
    assert.ok(await canLogIn(zerotierIp, deployKey), "deploy key logs in over ZeroTier");
    assert.ok(await canLogIn(zerotierIp, alice.privateKey), "a group member logs in over ZeroTier");
    assert.ok(!(await canLogIn(zerotierIp, carol.privateKey)), "a non-member cannot log in");
    assert.ok(!(await sshPortOpen(host.address)), "SSH on the public address is refused");

    const ufw = await tb().exec(host.name, "ufw status verbose");
    assert.match(ufw.stdout, /Status: active/);
    assert.match(ufw.stdout, /Default: deny \(incoming\)/);

    const msgs = tg.messages(TG_TOKEN, TG_CHAT);
    assert.strictEqual(msgs.length, 1);
    assert.match(
      msgs[0].text,
      new RegExp(`Build env 1: physical host ovh4 .*ZeroTier IP ${zerotierIp.replace(/\./g, "\\.")}`),
    );
  });

  it("g8os:buildNetworkMembers are authorised members, named, before the host joins the network", async () => {
    const network = String(findResource(harness.state(), "build-1-network").outputs.networkId);
    const join = findResource(harness.state(), "build-1-host-zerotier-join");
    for (const entry of MEMBERS) {
      const [nodeId, name] = entry.split(" ");
      const m = await zt.getMember(network, nodeId);
      assert.deepStrictEqual([m?.authorized, m?.name], [true, name], `${name} on the controller`);
      const urn = findResource(harness.state(), `build-1-network-member-${name}`).urn;
      assert.ok(join.dependencies.includes(urn), `the host's join depends on ${name}'s member`);
    }
  });

  it("preview right after: no changes; a no-op up makes no remote write", async () => {
    const p = record(await harness.previewOk());
    const changed = p.steps.filter((s) => s.op !== "same");
    assert.deepStrictEqual(changed, [], "preview right after up shows no change");
    fs.rmSync(traceFile, { force: true });
    const u = record(await harness.upOk());
    assert.deepStrictEqual(
      u.steps.filter((s) => s.op !== "same"),
      [],
    );
    const t = traceWrites(traceFile);
    assert.strictEqual(t.writes, 0, "no remote write on a no-op up");
  });

  it("a key added to and one removed from the group: preview shows only the key updates; after up carol logs in, bob cannot", async () => {
    iyo.setUsers(ORG, ["alice", "carol"]);
    const p = record(await harness.previewOk());
    const changed = Object.entries(ops(p)).filter(([, op]) => op !== "same");
    const names = changed.map(([n]) => n).sort();
    assert.deepStrictEqual(
      names,
      ["build-1-host-authorized-keys", "build-1-key-group"],
      `changes: ${JSON.stringify(changed)}`,
    );
    assert.ok(changed.every(([, op]) => op === "update"));
    record(await harness.upOk());
    assert.ok(await canLogIn(zerotierIp, carol.privateKey), "added member logs in");
    assert.ok(!(await canLogIn(zerotierIp, bob.privateKey)), "removed member is locked out");
    assert.ok(await canLogIn(zerotierIp, alice.privateKey));
  });

  it("a machine removed from g8os:buildNetworkMembers leaves the network, added again it rejoins; nothing else changes", async () => {
    const network = String(findResource(harness.state(), "build-1-network").outputs.networkId);
    harness.setConfig("g8os:buildNetworkMembers", JSON.stringify(MEMBERS.slice(0, 1)));
    const p = record(await harness.previewOk());
    const changed = Object.entries(ops(p)).filter(([, op]) => op !== "same");
    assert.deepStrictEqual(changed, [["build-1-network-member-carol-laptop", "delete"]]);
    record(await harness.upOk());
    assert.strictEqual(await zt.getMember(network, MEMBERS[1].split(" ")[0]), undefined, "member removed");
    assert.strictEqual((await zt.getMember(network, MEMBERS[0].split(" ")[0]))?.authorized, true);
    assert.ok(await canLogIn(zerotierIp, alice.privateKey), "the host is untouched");

    // Added again: the preview shows that create only (the host and VMs wait on it by URN, known).
    harness.setConfig("g8os:buildNetworkMembers", JSON.stringify(MEMBERS));
    const again = Object.entries(ops(record(await harness.previewOk()))).filter(([, op]) => op !== "same");
    assert.deepStrictEqual(again, [["build-1-network-member-carol-laptop", "create"]]);
    record(await harness.upOk());
    assert.strictEqual((await zt.getMember(network, MEMBERS[1].split(" ")[0]))?.authorized, true);
  });

  it("member deauthorised outside: refresh reports it and up re-authorises, even while the API answers 429", async () => {
    const network = String(findResource(harness.state(), "build-1-network").outputs.networkId);
    const member = String(findResource(harness.state(), "build-1-host-member").outputs.memberId);
    await zt.upsertMember(network, member, { authorized: false });
    const refreshed = record(await harness.refreshOk());
    assert.strictEqual(ops(refreshed)["build-1-host-member"], "refresh-update");
    const p = record(await harness.previewOk());
    assert.strictEqual(ops(p)["build-1-host-member"], "update");

    // A burst of 429s with Retry-After: the client backs off and the up still converges.
    const info = requireZerotierStandIn(tb());
    const res = await fetch(`${info.url}/_fault`, {
      method: "POST",
      body: JSON.stringify({ status: 429, count: 4, retryAfterS: 1 }),
    });
    assert.strictEqual(res.status, 200);
    record(await harness.upOk());
    assert.strictEqual((await zt.getMember(network, member))?.authorized, true);
    assert.ok(await canLogIn(zerotierIp, alice.privateKey), "host reachable over ZeroTier again");
  });

  it("network deleted outside: refresh reports it, up re-creates it under the same id and the host is back", async () => {
    const network = String(findResource(harness.state(), "build-1-network").outputs.networkId);
    await zt.deleteNetwork(network);
    // The node notices at its next config request (about a second): wait for it, with a deadline.
    await pollUntil(async () => ((await canLogIn(zerotierIp, alice.privateKey)) ? undefined : true), {
      timeoutMs: 30_000,
      intervalMs: 1000,
      what: "the host to be cut off once its network is gone",
    });
    const refreshed = record(await harness.refreshOk());
    const r = ops(refreshed);
    assert.strictEqual(r["build-1-network"], "refresh-update", "network marked deleted, id kept");
    assert.strictEqual(r["build-1-host-member"], "refresh-delete", "its members went with it");
    record(await harness.upOk());
    assert.strictEqual(String(findResource(harness.state(), "build-1-network").outputs.networkId), network);
    assert.ok(
      await canLogIn(zerotierIp, alice.privateKey),
      "reachable over ZeroTier again, nobody touched the host",
    );
    assert.ok(!(await sshPortOpen(host.address)), "public address still closed");
  });

  it("no secret appears in plaintext in state, logs or Telegram messages", () => {
    const decrypted = harness.stateDecrypted();
    const secrets: Record<string, string> = {
      "Telegram token": TG_TOKEN,
      "ZeroTier token": ztToken,
      "ItsYou.online client secret": IYO_SECRET,
      "bootstrap private key": tb().bootstrapKey.privateKey,
      "deploy private key": String(findResource(decrypted, "deploy-key").outputs.privateKeyOpenssh),
      "redis password": String(findResource(decrypted, "redis-password").outputs.result),
    };
    assertNoSecrets("harness state", harness.stateText(), secrets);
    runs.forEach((r, i) => assertNoSecrets(`run ${i} log and errors`, r.log + r.errors.join("\n"), secrets));
    assertNoSecrets(
      "Telegram messages",
      tg
        .messages(TG_TOKEN)
        .map((m) => m.text)
        .join("\n"),
      secrets,
    );
  });

  it("destroy gives the host back: ufw off, network left, the g8os block removed, public SSH open", async () => {
    record(await harness.destroyOk());
    assert.deepStrictEqual(
      harness.state().filter((s) => s.custom),
      [],
    );
    assert.ok(await sshPortOpen(host.address));
    const keys = await tb().exec(host.name, "cat /root/.ssh/authorized_keys");
    assert.ok(!keys.stdout.includes("g8os build-1"), "managed block removed");
    assert.ok(keys.stdout.includes(tb().bootstrapKey.publicKey.split(" ")[1]), "bootstrap key untouched");
    const nets = await tb().exec(host.name, "zerotier-cli listnetworks -j");
    assert.strictEqual(JSON.parse(nets.stdout).length, 0);
  });
});
