// SshKeyGroup's provider methods called directly, as the dynamic-provider host would call them.
import { strict as assert } from "assert";
import { UNKNOWN } from "../../providers/shared/dynamic";
import {
  checkGroupInputs,
  sshKeyGroupProvider as provider,
  SshKeyGroupInputs,
  SshKeyGroupOutputs,
} from "../../providers/keys/group";
import { ItsYouOnlineStandIn, makeTestKey, startItsYouOnlineStandIn } from "../testbed/keys";

const SECRET = "client-secret-5f4dcc3b5aa765d61d83";

describe("keys: SshKeyGroup provider", () => {
  const alice = makeTestKey("alice@laptop");
  const bob = makeTestKey("bob@work");
  let iyo: ItsYouOnlineStandIn;
  let inputs: SshKeyGroupInputs;
  beforeEach(async () => {
    iyo = await startItsYouOnlineStandIn({
      clientId: "ci",
      clientSecret: SECRET,
      organizations: { gig_build: ["alice", "bob"] },
      users: { alice: [{ label: "laptop", publickey: alice }], bob: [{ label: "work", publickey: bob }] },
    });
    inputs = {
      name: "build",
      source: { kind: "itsyouonline", baseUrl: iyo.url, organization: "gig_build", clientId: "ci" },
      clientSecret: SECRET,
    };
  });
  afterEach(async () => iyo.stop());

  const create = async () => (await provider.create(inputs)) as { id: string; outs: SshKeyGroupOutputs };

  it("create fetches the group; diff asks the source and sees nothing changed", async () => {
    const { id, outs } = await create();
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(outs.keys, [alice, bob].sort());
    const calls = iyo.requests.length;
    assert.equal((await provider.diff!(id, outs, inputs)).changes, false);
    assert.ok(iyo.requests.length > calls, "diff fetched from the source");
  });

  it("a key added at the source makes diff report a change and update returns the new keys", async () => {
    const { id, outs } = await create();
    const bob2 = makeTestKey("bob@home");
    iyo.setKeys("bob", [
      { label: "work", publickey: bob },
      { label: "home", publickey: bob2 },
    ]);
    assert.equal((await provider.diff!(id, outs, inputs)).changes, true);
    const upd = (await provider.update!(id, outs, inputs)) as { outs: SshKeyGroupOutputs };
    assert.deepEqual(upd.outs.keys, [alice, bob, bob2].sort());
    assert.equal((await provider.diff!(id, upd.outs, inputs)).changes, false);
  });

  it("a member granting access later is a change: missingGrants empties and the keys arrive", async () => {
    iyo.setGrants("bob", null);
    const { id, outs } = await create();
    assert.deepEqual(outs.keys, [alice]);
    assert.deepEqual(outs.missingGrants, [{ user: "bob", scopes: ["user:publickey:<label>"] }]);
    iyo.setGrants("bob", undefined);
    assert.equal((await provider.diff!(id, outs, inputs)).changes, true);
    const upd = (await provider.update!(id, outs, inputs)) as { outs: SshKeyGroupOutputs };
    assert.deepEqual(upd.outs.keys, [alice, bob].sort());
    assert.deepEqual(upd.outs.missingGrants, []);
  });

  it("a member removed at the source makes diff report a change; refresh (read) picks it up", async () => {
    const { id, outs } = await create();
    iyo.setUsers("gig_build", ["alice"]);
    assert.equal((await provider.diff!(id, outs, inputs)).changes, true);
    const r = (await provider.read!(id, outs)) as { id: string; props: SshKeyGroupOutputs };
    assert.equal(r.id, id);
    assert.deepEqual(r.props.keys, [alice]);
    assert.deepEqual(r.props.members, ["alice"]);
  });

  it("diff with unknown inputs reports a change without calling the source", async () => {
    const { id, outs } = await create();
    const calls = iyo.requests.length;
    const d = await provider.diff!(id, outs, { ...inputs, clientSecret: UNKNOWN });
    assert.equal(d.changes, true);
    assert.equal(iyo.requests.length, calls);
  });

  it("diff against an unreachable source fails naming the URL, not the secret", async () => {
    const { id, outs } = await create();
    await iyo.stop();
    const err = await Promise.resolve(provider.diff!(id, outs, inputs)).catch((e) => e);
    assert.match(
      err.message,
      /^SshKeyGroup "build": get ItsYou.online token failed: cannot reach http:\/\/127\.0\.0\.1/,
    );
    assert.ok(!err.message.includes(SECRET));
    iyo = await startItsYouOnlineStandIn({ clientId: "x", clientSecret: "y", organizations: {}, users: {} });
  });

  it("the client secret is the only secret in outputs (the resource lists it in additionalSecretOutputs)", async () => {
    const { outs } = await create();
    const { clientSecret, ...rest } = outs;
    assert.equal(clientSecret, SECRET);
    assert.ok(!JSON.stringify(rest).includes(SECRET));
  });

  it("check names bad fields per source kind", () => {
    const f = checkGroupInputs({
      name: "g",
      source: {
        kind: "itsyouonline",
        baseUrl: "ftp://x",
        organization: "",
        clientId: "ci",
        extraKeys: ["nope"],
      },
    });
    assert.deepEqual(
      f.map((x) => x.property),
      ["source.baseUrl", "source.organization", "clientSecret", "source.extraKeys[0]"],
    );
    assert.deepEqual(
      checkGroupInputs({
        name: "g",
        source: { kind: "keys-url", baseUrl: "https://github.com", users: [] },
      }).map((x) => x.property),
      ["source.users"],
    );
    assert.deepEqual(
      checkGroupInputs({
        name: "g",
        source: { kind: "keys-url", baseUrl: "https://github.com", users: ["a/b"] },
      }).map((x) => x.property),
      ["source.users[0]"],
    );
    assert.deepEqual(
      checkGroupInputs({ name: "g", source: { kind: "inline", keys: [alice, "ssh-rsa x"] } }).map(
        (x) => x.property,
      ),
      ["source.keys[1]"],
    );
    assert.deepEqual(
      checkGroupInputs({ name: "g", source: { kind: "ldap" } as never }).map((x) => x.property),
      ["source.kind"],
    );
    assert.deepEqual(checkGroupInputs({ name: "g", source: UNKNOWN as never }), []);
    assert.deepEqual(checkGroupInputs(inputs), []);
  });
});
