/**
 * BuildHost failure paths on the testbed: a ZeroTier interface that never comes up, the ufw
 * dead-man switch undoing a change that shut the host out, and bad inputs. In each, the host stays
 * reachable on its bootstrap address and the error says what failed and what to check.
 */
import * as assert from "assert";
import * as path from "path";
import { testbedBuildConfig } from "../../scripts/sandbox-config";
import { Harness, findResource, type ConfigValue } from "../harness";
import { useTestbed, type TestHost } from "../testbed";
import { startItsYouOnlineStandIn, type ItsYouOnlineStandIn } from "../testbed/keys";
import { startTelegramEmulator, type TelegramEmulator } from "../testbed/telegram";
import { requireZerotierStandIn } from "../testbed/zerotier/service";
import { canLogIn, resetHost, sshKeyPair } from "./fixtures";

const TG_TOKEN = "777002:build-host-failures-token";

describe("build stack: failures leave the host reachable (testbed)", function () {
  this.timeout(900_000);
  const tb = useTestbed(this, { hosts: 3 });
  let h2: TestHost;
  let h3: TestHost;
  let iyo: ItsYouOnlineStandIn;
  let tg: TelegramEmulator;
  const member = sshKeyPair("dave@gig");
  const harnesses: Harness[] = [];

  function stackConfig(host: TestHost, ztIp: string): Record<string, ConfigValue> {
    const zt = requireZerotierStandIn(tb());
    return testbedBuildConfig({
      telegram: { apiRoot: tg.apiRoot, botToken: TG_TOKEN, chatId: "-100778" },
      zerotier: { url: zt.url, token: zt.token, timeoutSec: 15 },
      pools: ["10.214.0.160-10.214.0.169"],
      host: {
        name: host.name,
        address: host.address,
        bootstrapPrivateKey: tb().bootstrapKey.privateKey,
        zerotierIp: ztIp,
      },
      keys: {
        kind: "itsyouonline",
        url: iyo.url,
        clientId: "g8os-test",
        clientSecret: "iyo-failures-secret",
      },
      firewallConfirmTimeoutSec: 15,
    });
  }

  function harness(opts: ConstructorParameters<typeof Harness>[0]): Harness {
    const h = new Harness(opts);
    harnesses.push(h);
    return h;
  }

  async function setManageInterfaces(host: TestHost, on: boolean): Promise<void> {
    const file = "/var/lib/zerotier-one/g8os-standin.json";
    const r = await tb().exec(
      host.name,
      `node -e 'const f="${file}";const c=JSON.parse(require("fs").readFileSync(f,"utf8"));c.manageInterfaces=${on};require("fs").writeFileSync(f,JSON.stringify(c))'` +
        // Like zerotier-one, the agent reads its config at start: restart it (the cli respawns it).
        " && (kill $(cat /var/lib/zerotier-one/agent.pid) 2>/dev/null; rm -f /var/lib/zerotier-one/agent.pid; zerotier-cli listnetworks >/dev/null)",
    );
    assert.strictEqual(r.code, 0, r.stderr);
  }

  before(async () => {
    [, h2, h3] = tb().hosts;
    await resetHost(tb(), h2);
    await resetHost(tb(), h3);
    iyo = await startItsYouOnlineStandIn({
      clientId: "g8os-test",
      clientSecret: "iyo-failures-secret",
      organizations: { gig_build: ["dave"], empty_org: ["erin"] },
      users: { dave: [{ label: "laptop", publickey: member.publicKey }], erin: [] },
    });
    tg = await startTelegramEmulator();
  });

  after(async () => {
    for (const h of harnesses) {
      await h.destroy().catch(() => undefined);
      await h.close();
    }
    if (h2) await setManageInterfaces(h2, true).catch(() => undefined);
    await iyo?.stop();
    await tg?.stop();
    if (h2) await resetHost(tb(), h2);
    if (h3) await resetHost(tb(), h3);
  });

  it("the ZeroTier interface never comes up: ufw untouched, host reachable, error says what to check; the next up converges", async () => {
    await setManageInterfaces(h2, false);
    const h = harness({ stack: "build-2", config: stackConfig(h2, "10.214.0.170") });
    const r = await h.up();
    assert.ok(r.failed, "up must fail");
    const err = r.errors.join("\n");
    assert.match(err, /ZerotierOnlySsh/);
    assert.match(err, /SSH over ZeroTier to .*\(ufw was not changed\)/);
    assert.match(err, /Check: that the host.s member is authorised/);
    assert.match(
      err,
      /this machine \(the one running `pulumi up`\) is an authorised member of the same network/,
    );
    assert.ok(await canLogIn(h2.address, tb().bootstrapKey.privateKey), "bootstrap address still works");
    assert.match((await tb().exec(h2.name, "ufw status")).stdout, /Status: inactive/);
    // What succeeded is kept; nothing is orphaned: the member and keys are in state.
    findResource(h.state(), "build-2-host-member");
    findResource(h.state(), "build-2-host-authorized-keys");
    assert.strictEqual(tg.messages(TG_TOKEN).length, 0, "no announcement for a host that is not locked down");

    await setManageInterfaces(h2, true);
    const again = await h.up();
    assert.ok(!again.failed, again.errors.join("\n"));
    assert.ok(await canLogIn("10.214.0.170", member.privateKey), "converged: reachable over ZeroTier");
    assert.strictEqual(tg.messages(TG_TOKEN).length, 1);
  });

  it("a firewall change that shuts the host out is undone by the dead-man switch", async () => {
    const h = harness({
      program: path.join(__dirname, "programs", "firewall-only.ts"),
      stack: "build-9",
      config: { "test:address": h3.address, "test:privateKey": { secret: tb().bootstrapKey.privateKey } },
    });
    const r = await h.up();
    assert.ok(r.failed, "up must fail");
    const err = r.errors.join("\n");
    assert.match(err, /confirm the lockdown over ZeroTier/);
    assert.match(err, /Now: the dead-man switch restored the last confirmed firewall; ufw is inactive/);
    assert.ok(err.includes(h3.address), "names the host's address");
    assert.ok(await canLogIn(h3.address, tb().bootstrapKey.privateKey), "reachable again");
    assert.match((await tb().exec(h3.name, "ufw status")).stdout, /Status: inactive/);
  });

  it("a wrong bootstrap key and an unreachable host fail on the first host step, naming what to check", async () => {
    const wrong = harness({
      stack: "build-3",
      config: {
        ...stackConfig(h3, "10.214.0.171"),
        "g8os:bootstrapPrivateKey": { secret: sshKeyPair("x").privateKey },
      },
    });
    const r1 = await wrong.up();
    assert.ok(r1.failed);
    assert.match(r1.errors.join("\n"), /ZerotierHostJoin.*not authorised/s);

    const gone = harness({
      stack: "build-4",
      config: { ...stackConfig(h3, "10.214.0.172"), "g8os:buildHostAddress": "10.213.0.99" },
    });
    const r2 = await gone.up();
    assert.ok(r2.failed);
    assert.match(
      r2.errors.join("\n"),
      /ZerotierHostJoin.*no address accepted a connection.*Check: that the host is up/s,
    );
  });

  it("an empty key group fails naming the source and the fix, before any host step", async () => {
    const h = harness({
      stack: "build-5",
      config: { ...stackConfig(h3, "10.214.0.173"), "g8os:keyOrganization": "empty_org" },
    });
    const r = await h.up();
    assert.ok(r.failed);
    assert.match(r.errors.join("\n"), /SshKeyGroup.*(no valid key|empty)/is);
    assert.ok(!h.state().some((s) => s.type.endsWith("AuthorizedKeys")), "no keys written to any host");
  });
});
