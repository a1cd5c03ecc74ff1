// SshKeyGroup through the engine harness: real dynamic-provider host, JSON state between runs.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Harness } from "../harness";
import { ItsYouOnlineStandIn, makeTestKey, startItsYouOnlineStandIn } from "../testbed/keys";

const SECRET = "iyo-client-secret-7c4a8d09ca3762af61e5";

describe("keys: SshKeyGroup through the harness", function () {
  this.timeout(180_000);
  const alice = makeTestKey("alice@laptop");
  const bob = makeTestKey("bob@work");
  let iyo: ItsYouOnlineStandIn;
  let h: Harness;
  let dir: string;

  before(async () => {
    iyo = await startItsYouOnlineStandIn({
      clientId: "gig_build_ci",
      clientSecret: SECRET,
      organizations: { gig_build: ["alice", "bob"] },
      users: { alice: [{ label: "laptop", publickey: alice }], bob: [{ label: "work", publickey: bob }] },
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-keys-"));
    h = new Harness({
      program: path.join(__dirname, "programs", "key-group.ts"),
      stack: "build-1",
      stateFile: path.join(dir, "state.json"),
      config: {
        "g8os:keySourceUrl": iyo.url,
        "g8os:keyOrganization": "gig_build",
        "g8os:itsyouonlineClientId": "gig_build_ci",
        "g8os:itsyouonlineClientSecret": { secret: SECRET },
      },
    });
  });
  after(async () => {
    await h?.close();
    await iyo?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const stepOf = (r: { steps: Array<{ type: string; op: string; diffs: string[] }> }, type: RegExp) =>
    r.steps.find((s) => type.test(s.type));

  it("creates the group and hands its keys to the consumer", async () => {
    const r = await h.upOk();
    assert.deepEqual(r.outputs.keys, [alice, bob].sort());
    assert.deepEqual(r.outputs.hostKeys, [alice, bob].sort());
    assert.equal(stepOf(r, /keys:SshKeyGroup$/)?.op, "create");
  });

  it("keeps the client secret out of state in plaintext", () => {
    const text = h.stateText();
    assert.ok(!text.includes(SECRET), "client secret in plaintext state");
    const group = h.stateDecrypted().find((s) => /SshKeyGroup$/.test(s.type));
    assert.equal((group?.outputs as Record<string, unknown>).clientSecret, SECRET);
  });

  it("a no-op preview shows no change", async () => {
    const r = await h.preview();
    assert.ok(!r.failed, r.errors.join("\n"));
    assert.deepEqual(
      r.steps.filter((s) => s.op !== "same").map((s) => `${s.type} ${s.op}`),
      [],
    );
  });

  it("a key added at the source shows in preview as an update of the group and of its consumer", async () => {
    const carol = makeTestKey("carol@home");
    iyo.setUsers("gig_build", ["alice", "bob", "carol"]);
    iyo.setKeys("carol", [{ label: "home", publickey: carol }]);
    const p = await h.preview();
    assert.ok(!p.failed, p.errors.join("\n"));
    assert.equal(stepOf(p, /keys:SshKeyGroup$/)?.op, "update");
    assert.equal(stepOf(p, /KeyConsumer$/)?.op, "update");
    const u = await h.upOk();
    assert.deepEqual(u.outputs.hostKeys, [alice, bob, carol].sort());
    assert.deepEqual(u.outputs.members, ["alice", "bob", "carol"]);
  });

  it("refresh picks up a member removed at the source", async () => {
    iyo.setUsers("gig_build", ["alice", "carol"]);
    await h.refreshOk();
    const group = h.stateDecrypted().find((s) => /SshKeyGroup$/.test(s.type));
    const outs = group?.outputs as { members: string[]; keys: string[] };
    assert.deepEqual(outs.members, ["alice", "carol"]);
    assert.ok(!outs.keys.includes(bob));
    assert.ok(!h.stateText().includes(SECRET));
  });

  it("an unreachable source fails the preview on the group, naming the URL and not the secret", async () => {
    const url = iyo.url;
    await iyo.stop();
    const p = await h.preview();
    assert.ok(p.failed);
    const all = p.errors.join("\n") + p.log;
    assert.ok(all.includes(`${url}/v1/oauth/access_token`), all);
    assert.ok(!all.includes(SECRET));
  });
});
