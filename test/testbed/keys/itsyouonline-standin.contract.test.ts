/**
 * Pins the ItsYou.online stand-in (test/testbed/keys) to what itsyouonline/identityserver
 * `specifications/api/itsyouonline.raml` says a third party may read (docs/protocols/itsyouonline.md):
 * - `/users/{username}/publickeys` is securedBy `user:admin`: an organization's client-credentials
 *   token gets 403;
 * - `/users/{username}/info` (securedBy `user:info`/`user:admin`) answers a `userview` "limited to
 *   the scopes that the user has authorized": `publicKeys` only for `user:publickey:<label>` grants,
 *   labelled as the organization requested (the `Authorization.publicKeys` requestedlabel ->
 *   reallabel map);
 * - `/organizations/{globalid}/users` answers `{haseditpermissions, users:[{username, role,
 *   missingscopes}]}`, missingscopes = "required roles that the user didn't share yet".
 * Raw fetch on purpose: these tests check the wire format, not our client.
 */
import { strict as assert } from "assert";
import { makeTestKey, startItsYouOnlineStandIn, type ItsYouOnlineStandIn } from "./index";

const SECRET = "iyo-contract-secret-0123456789";

describe("ItsYou.online stand-in: contract", () => {
  const laptop = makeTestKey("alice@laptop");
  const desk = makeTestKey("alice@desk");
  let iyo: ItsYouOnlineStandIn;
  let auth: Record<string, string>;

  before(async () => {
    iyo = await startItsYouOnlineStandIn({
      clientId: "gig_build",
      clientSecret: SECRET,
      organizations: { gig_build: ["alice", "bob", "carol"] },
      users: {
        alice: [
          { label: "laptop", publickey: laptop },
          { label: "desk", publickey: desk },
        ],
        bob: [{ label: "work", publickey: makeTestKey("bob@work") }],
        carol: [],
      },
      requiredScopes: { gig_build: ["user:publickey:ssh"] },
      grants: { alice: [{ requestedlabel: "ssh", reallabel: "desk" }], bob: null, carol: [] },
    });
    const q = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: "gig_build",
      client_secret: SECRET,
    });
    const tok = await fetch(`${iyo.url}/v1/oauth/access_token?${q}`, { method: "POST" });
    assert.equal(tok.status, 200);
    const j = (await tok.json()) as { access_token: string; token_type: string };
    assert.equal(j.token_type, "bearer");
    auth = { authorization: `token ${j.access_token}` };
  });
  after(async () => iyo.stop());

  const get = async (path: string, headers = auth): Promise<{ status: number; json: unknown }> => {
    const r = await fetch(`${iyo.url}${path}`, { headers });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined };
  };

  it("/api/users/{u}/publickeys needs user:admin: 403 for an organization's token", async () => {
    assert.equal((await get("/api/users/alice/publickeys")).status, 403);
  });

  it("/api/users/{u}/info shares only granted keys, under the label the organization requested", async () => {
    const r = await get("/api/users/alice/info");
    assert.equal(r.status, 200);
    const view = r.json as { username: string; publicKeys?: { label: string; publickey: string }[] };
    assert.equal(view.username, "alice");
    assert.deepEqual(view.publicKeys, [{ label: "ssh", publickey: desk }], "the laptop key is not shared");
  });

  it("/info: no publicKeys when none is shared; 403 when the user authorized nothing; 404 unknown user", async () => {
    const carol = await get("/api/users/carol/info");
    assert.equal(carol.status, 200);
    assert.equal((carol.json as { publicKeys?: unknown }).publicKeys, undefined);
    assert.equal((await get("/api/users/bob/info")).status, 403);
    assert.equal((await get("/api/users/nobody/info")).status, 404);
  });

  it("/api/organizations/{id}/users lists each member's missing required scopes", async () => {
    const r = await get("/api/organizations/gig_build/users");
    assert.equal(r.status, 200);
    const users = (r.json as { users: { username: string; role: string; missingscopes: string[] }[] }).users;
    assert.deepEqual(
      users.map((u) => [u.username, u.missingscopes]),
      [
        ["alice", []],
        ["bob", ["user:publickey:ssh"]],
        ["carol", ["user:publickey:ssh"]],
      ],
    );
  });

  it("every API call needs the token (401 without)", async () => {
    assert.equal((await get("/api/users/alice/info", {})).status, 401);
    assert.equal((await get("/api/organizations/gig_build/users", {})).status, 401);
  });
});
