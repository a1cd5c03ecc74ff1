import { strict as assert } from "assert";
import * as crypto from "crypto";
import { fetchKeyGroup, KeySourceSpec } from "../../providers/keys/client";
import { OperationError } from "../../providers/shared/errors";
import {
  ItsYouOnlineStandIn,
  KeysEndpointStandIn,
  makeTestKey,
  startItsYouOnlineStandIn,
  startKeysEndpointStandIn,
} from "../testbed/keys";

const SECRET = "client-secret-5f4dcc3b5aa765d61d83";

/** `ssh-keygen -lf` style fingerprint of a key line, computed independently of the client. */
function fingerprint(line: string): string {
  const blob = Buffer.from(line.split(" ")[1], "base64");
  return "SHA256:" + crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}
const body = (line: string) => line.split(" ").slice(0, 2).join(" ");

describe("keys: fetchKeyGroup from an ItsYou.online-compatible API", () => {
  const alice1 = makeTestKey("alice@laptop");
  const alice2 = makeTestKey("alice@desk");
  const bob = makeTestKey("bob@work");
  let iyo: ItsYouOnlineStandIn;
  let source: KeySourceSpec;

  beforeEach(async () => {
    iyo = await startItsYouOnlineStandIn({
      clientId: "gig_build_ci",
      clientSecret: SECRET,
      organizations: { gig_build: ["alice", "bob", "carol"] },
      users: {
        alice: [
          { label: "laptop", publickey: alice1 },
          { label: "desk", publickey: alice2 },
        ],
        bob: [
          { label: "work", publickey: bob },
          { label: "pasted-wrong", publickey: "ssh-rsa AAAAthis-is-not-base64!!" },
        ],
        carol: [],
      },
    });
    source = { kind: "itsyouonline", baseUrl: iyo.url, organization: "gig_build", clientId: "gig_build_ci" };
  });
  afterEach(async () => iyo.stop());

  it("collects members' keys, sorted, with fingerprints, owners, keyless members and invalid keys", async () => {
    const g = await fetchKeyGroup(source, { clientSecret: SECRET });
    const expected = [alice1, alice2, bob].sort();
    assert.deepEqual(g.keys, expected);
    assert.deepEqual(g.fingerprints, expected.map(fingerprint));
    assert.deepEqual(
      g.owners,
      expected.map((k) => (k === bob ? "bob" : "alice")),
    );
    assert.deepEqual(g.members, ["alice", "bob", "carol"]);
    assert.deepEqual(g.membersWithoutKeys, ["carol"]);
    assert.deepEqual(g.invalidKeys, [
      { user: "bob", label: "pasted-wrong", reason: "key body is not valid base64" },
    ]);
    // alice and bob share their keys (the stand-in's default); carol has none to share.
    assert.deepEqual(g.missingGrants, [{ user: "carol", scopes: ["user:publickey:<label>"] }]);
    // The client secret travels only in the token call; members and keys use the token. Keys come
    // from `info` (what each user shared), never `publickeys` (user:admin only).
    assert.deepEqual(iyo.requests.map((r) => `${r.method} ${r.path} ${r.status}`).sort(), [
      "GET /api/organizations/gig_build/users 200",
      "GET /api/users/alice/info 200",
      "GET /api/users/bob/info 200",
      "GET /api/users/carol/info 200",
      "POST /v1/oauth/access_token 200",
    ]);
  });

  it("sees a key added and a member removed at the source", async () => {
    const before = await fetchKeyGroup(source, { clientSecret: SECRET });
    const dave = makeTestKey("dave@home");
    iyo.setUsers("gig_build", ["alice", "carol", "dave"]);
    iyo.setKeys("dave", [{ label: "home", publickey: dave }]);
    const after = await fetchKeyGroup(source, { clientSecret: SECRET });
    assert.notDeepEqual(after.keys, before.keys);
    assert.deepEqual(after.keys, [alice1, alice2, dave].sort());
    assert.deepEqual(after.members, ["alice", "carol", "dave"]);
  });

  it("falls back to the organization object on servers without /users", async () => {
    await iyo.stop();
    iyo = await startItsYouOnlineStandIn({
      clientId: "gig_build_ci",
      clientSecret: SECRET,
      organizations: { gig_build: ["alice", "bob"] },
      users: { alice: [{ label: "laptop", publickey: alice1 }], bob: [{ label: "work", publickey: bob }] },
      withoutUsersListing: true,
    });
    source = { ...source, baseUrl: iyo.url } as KeySourceSpec;
    const g = await fetchKeyGroup(source, { clientSecret: SECRET });
    assert.deepEqual(g.members, ["alice", "bob"]);
    assert.deepEqual(g.keys, [alice1, bob].sort());
  });

  it("a bad client secret fails naming the config keys, never the secret", async () => {
    const wrong = "wrong-secret-0000000000";
    const err = await fetchKeyGroup(source, { clientSecret: wrong, label: 'SshKeyGroup "build"' }).catch(
      (e) => e,
    );
    assert.ok(err instanceof OperationError);
    assert.match(err.message, /^SshKeyGroup "build": get ItsYou.online token failed/);
    assert.match(err.message, /HTTP 401/);
    assert.match(err.message, /g8os:itsyouonlineClientSecret/);
    assert.ok(err.message.includes(`${iyo.url}/v1/oauth/access_token`));
    assert.ok(!err.message.includes(wrong));
    assert.ok(!err.message.includes("client_secret"));
  });

  it("an unknown organization fails naming g8os:keyOrganization", async () => {
    const err = await fetchKeyGroup({ ...source, organization: "nope" } as KeySourceSpec, {
      clientSecret: SECRET,
    }).catch((e) => e);
    assert.ok(err instanceof OperationError);
    assert.match(err.message, /organization "nope" not found/);
    assert.match(err.message, /g8os:keyOrganization/);
  });

  it("a member who authorized nothing for the organization is named with the scope to grant; the others' keys stay", async () => {
    iyo.setGrants("bob", null);
    const g = await fetchKeyGroup(source, { clientSecret: SECRET });
    assert.deepEqual(g.keys, [alice1, alice2].sort(), "bob's keys are not readable");
    assert.deepEqual(
      g.missingGrants.map((m) => [m.user, m.scopes]),
      [
        ["bob", ["user:publickey:<label>"]],
        ["carol", ["user:publickey:<label>"]],
      ],
    );
    assert.ok(g.membersWithoutKeys.includes("bob"));
  });

  it("a member who authorized the organization but shared no key is named too", async () => {
    iyo.setGrants("alice", []);
    const g = await fetchKeyGroup(source, { clientSecret: SECRET });
    assert.deepEqual(g.keys, [bob]);
    assert.deepEqual(
      g.missingGrants.map((m) => m.user),
      ["alice", "carol"],
    );
  });

  it("names the exact scope the organization requires when the members listing says it is missing", async () => {
    await iyo.stop();
    iyo = await startItsYouOnlineStandIn({
      clientId: "gig_build",
      clientSecret: SECRET,
      organizations: { gig_build: ["alice", "bob"] },
      users: { alice: [{ label: "laptop", publickey: alice1 }], bob: [{ label: "work", publickey: bob }] },
      requiredScopes: { gig_build: ["user:publickey:ssh"] },
      // alice shares her laptop key as the "ssh" key the organization asks for; bob shared another label.
      grants: {
        alice: [{ requestedlabel: "ssh", reallabel: "laptop" }],
        bob: [{ requestedlabel: "backup", reallabel: "work" }],
      },
    });
    source = { ...source, baseUrl: iyo.url, clientId: "gig_build" } as KeySourceSpec;
    const g = await fetchKeyGroup(source, { clientSecret: SECRET });
    assert.deepEqual(g.keys, [alice1, bob].sort(), "what was shared is used");
    assert.deepEqual(g.missingGrants, [{ user: "bob", scopes: ["user:publickey:ssh"] }]);
  });

  it("no member granted access: the error names each member and the scope, and how to fix it", async () => {
    for (const u of ["alice", "bob", "carol"]) iyo.setGrants(u, null);
    const err = await fetchKeyGroup(source, { clientSecret: SECRET, label: 'SshKeyGroup "build"' }).catch(
      (e) => e,
    );
    assert.ok(err instanceof OperationError);
    assert.match(err.message, /gave no valid public key/);
    for (const u of ["alice", "bob", "carol"])
      assert.ok(
        err.message.includes(
          `member "${u}" has not shared an SSH public key with organization "gig_build" (scope user:publickey:<label>)`,
        ),
        err.message,
      );
    assert.match(err.message, /accept the organization's request to share their SSH public key/);
    assert.ok(!err.message.includes(SECRET));
  });

  it("retries a 5xx and succeeds", async () => {
    iyo.failNext(1, 503);
    const g = await fetchKeyGroup(source, { clientSecret: SECRET, retryDelayMs: 10 });
    assert.equal(g.keys.length, 3);
    assert.equal(iyo.requests[0].status, 503);
  });

  it("an unreachable source fails naming the URL without the secret", async () => {
    const url = iyo.url;
    await iyo.stop();
    const err = await fetchKeyGroup(source, { clientSecret: SECRET, retryDelayMs: 10, attempts: 2 }).catch(
      (e) => e,
    );
    assert.ok(err instanceof OperationError);
    assert.match(err.message, /cannot reach/);
    assert.ok(err.message.includes(`${url}/v1/oauth/access_token`), err.message);
    assert.ok(!err.message.includes(SECRET));
    assert.match(err.message, /source\.baseUrl/);
    iyo = await startItsYouOnlineStandIn({ clientId: "x", clientSecret: "y", organizations: {}, users: {} });
  });

  it("an organization whose members have no valid keys is an error naming the source", async () => {
    iyo.setUsers("gig_build", ["carol"]);
    const err = await fetchKeyGroup(source, { clientSecret: SECRET }).catch((e) => e);
    assert.ok(err instanceof OperationError);
    assert.match(
      err.message,
      /ItsYou.online organization "gig_build" at http:\/\/127\.0\.0\.1:\d+ gave no valid public key/,
    );
    assert.match(err.message, /g8os:keyInline/);
  });

  it("extraKeys join the group and a shared key is kept once", async () => {
    const breakGlass = makeTestKey("break-glass");
    iyo.setKeys("bob", [
      { label: "work", publickey: bob },
      { label: "shared", publickey: body(alice1) + " shared" },
    ]);
    const g = await fetchKeyGroup({ ...source, extraKeys: [breakGlass] } as KeySourceSpec, {
      clientSecret: SECRET,
    });
    assert.deepEqual(g.keys, [alice1, alice2, bob, breakGlass].sort());
    assert.equal(g.keys.filter((k) => k.startsWith(body(alice1))).length, 1);
  });
});

describe("keys: fetchKeyGroup from <user>.keys and inline", () => {
  const a = makeTestKey("");
  const b1 = makeTestKey("b@one");
  const b2 = makeTestKey("b@two");
  let ep: KeysEndpointStandIn;
  beforeEach(
    async () => (ep = await startKeysEndpointStandIn({ users: { anna: [a.trim()], ben: [b1, b2, b1] } })),
  );
  afterEach(async () => ep.stop());

  it("reads each user's lines, names keys without a comment after their owner, dedupes", async () => {
    const g = await fetchKeyGroup({ kind: "keys-url", baseUrl: ep.url, users: ["ben", "anna"] });
    assert.deepEqual(g.keys, [`${a.trim()} anna`, b1, b2].sort());
    assert.deepEqual(g.members, ["anna", "ben"]);
    assert.deepEqual(g.membersWithoutKeys, []);
    assert.deepEqual(ep.requests.map((r) => r.path).sort(), ["/anna.keys", "/ben.keys"]);
  });

  it("reports a user whose keys vanished as keyless, and an unknown user as an error naming g8os:keyUsers", async () => {
    ep.setUsers({ anna: [], ben: [b1] });
    const g = await fetchKeyGroup({ kind: "keys-url", baseUrl: ep.url, users: ["anna", "ben"] });
    assert.deepEqual(g.membersWithoutKeys, ["anna"]);
    const err = await fetchKeyGroup({ kind: "keys-url", baseUrl: ep.url, users: ["ben", "ghost"] }).catch(
      (e) => e,
    );
    assert.ok(err instanceof OperationError);
    assert.match(err.message, /ghost\.keys answered 404: no such user/);
    assert.match(err.message, /g8os:keyUsers/);
  });

  it("inline keys: validated with their index, deduped, sorted", async () => {
    const g = await fetchKeyGroup({ kind: "inline", keys: [b2, "ssh-ed25519 AAAAC3Nz", b1, b2 + " again"] });
    assert.deepEqual(g.keys, [b1, b2].sort());
    assert.deepEqual(g.invalidKeys, [
      {
        user: "inline",
        label: "keys[1]",
        reason: "key body does not match its declared type (truncated or corrupted key?)",
      },
    ]);
    assert.deepEqual(g.members, []);
  });

  it("an empty inline list is an error naming g8os:keyInline", async () => {
    await assert.rejects(
      fetchKeyGroup({ kind: "inline", keys: ["not a key"] }),
      /the inline key list gave no valid public key.*g8os:keyInline/,
    );
  });

  it("a comment cannot smuggle a second authorized_keys line", async () => {
    ep.setUsers({ anna: [`${body(a)} evil\ncommand="rm -rf /" ${body(b1)}`] });
    const g = await fetchKeyGroup({ kind: "keys-url", baseUrl: ep.url, users: ["anna"] });
    assert.ok(g.keys.every((k) => !k.includes("\n")));
    assert.deepEqual(
      g.invalidKeys.map((k) => k.user),
      ["anna"],
    );
  });
});
