/**
 * ZerotierOnlySsh's delete ("back to no firewall") on a real testbed host: it resets ufw on the
 * machine it locked down, leaves alone a machine that answers with another host key (a recycled
 * VM at the same ZeroTier IP has a new key and its own firewall resource), and fails clearly when
 * nothing answers.
 */
import * as assert from "assert";
import { zerotierOnlySshProvider } from "../../providers/host";
import { useTestbed, type TestHost } from "../testbed";
import { resetHost } from "./fixtures";

describe("ZerotierOnlySsh delete (testbed host)", function () {
  this.timeout(120_000);
  const tb = useTestbed(this, { hosts: 3, services: [] });
  let host: TestHost;
  let other: TestHost;

  const props = (address: string, hostKeySha256: string) => ({
    connection: {
      addresses: [{ host: address, port: 22 }],
      user: "root",
      privateKeys: [tb().bootstrapKey.privateKey],
      hostKeySha256,
    },
    zerotierAddress: "10.214.0.99",
    interfaceName: "ztexample0",
    sshPort: 22,
    enforced: true,
    closedAddresses: [],
  });
  /** A rule only this test adds: present = ufw was not reset. */
  const marked = async () => (await tb().exec(host.name, "ufw show added")).stdout.includes("2345/tcp");

  before(async () => {
    host = tb().host("g8t-h2");
    other = tb().host("g8t-h3");
    await resetHost(tb(), host);
  });
  after(async () => {
    if (host) await resetHost(tb(), host);
  });

  it("another host key at the address: the delete succeeds and touches nothing there", async () => {
    await tb().exec(host.name, "ufw allow 2345/tcp");
    assert.ok(await marked(), "rule added");
    // Pinned to another machine's key: as after the VM at this address was recycled.
    await zerotierOnlySshProvider.delete!("fw", props(host.address, other.hostKeySha256));
    assert.ok(await marked(), "ufw was not reset on a machine with another key");
  });

  it("the machine it locked down: ufw is reset", async () => {
    await zerotierOnlySshProvider.delete!("fw", props(host.address, host.hostKeySha256));
    assert.ok(!(await marked()), "ufw reset");
  });

  it("nothing answers: the delete fails, naming the resource and what to check", async () => {
    await assert.rejects(
      zerotierOnlySshProvider.delete!("fw", props("10.213.0.99", host.hostKeySha256)),
      (e: Error) => {
        assert.match(e.message, /ZerotierOnlySsh "10\.214\.0\.99"/);
        assert.match(e.message, /no address accepted a connection/);
        return true;
      },
    );
  });
});
