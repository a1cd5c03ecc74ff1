/**
 * The engine applies `replaceOnChanges` to the provider's changed keys only
 * (pulumi/pulumi pkg/resource/deploy/step_generator.go `applyReplaceOnChanges`), and a dynamic
 * provider that answers `changes` sends none (sdk/nodejs/cmd/dynamic-provider `diff`), so
 * `replaceOnChanges: ["connection"]` on ZerotierOnlySsh (components/vm/ubuntu.ts) never replaced it
 * under the real engine: a recycled VM (new host key) got an "update" that writes nothing, and was
 * never locked down. Its diff must ask for the replace itself.
 */
import { strict as assert } from "assert";
import { zerotierOnlySshProvider } from "../../providers/host/firewall";
import { UNKNOWN } from "./secrets";

const conn = (hostKeySha256: unknown, keys = ["k1"]) => ({
  addresses: [{ host: "10.147.17.2", port: 22 }],
  privateKeys: keys,
  user: "root",
  hostKeySha256,
});
const inputs = (connection: unknown) => ({
  connection,
  zerotierAddress: "10.147.17.2",
  interfaceName: "ztabc",
  sshPort: 22,
  confirmTimeoutSec: 90,
});

describe("ZerotierOnlySsh diff: a new host key replaces (replaceOnChanges cannot)", function () {
  const diff = (olds: unknown, news: unknown) =>
    zerotierOnlySshProvider.diff!("ufw@x", { ...(olds as object), enforced: true }, news);

  it("a new host key (recycled VM) is a replace of the connection", async () => {
    const d = await diff(inputs(conn("SHA256:old")), inputs(conn("SHA256:new")));
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, ["connection"]);
  });

  it("a host key not known yet (preview of a recycle) is shown as a replace", async () => {
    assert.deepEqual((await diff(inputs(conn("SHA256:old")), inputs(UNKNOWN))).replaces, ["connection"]);
    assert.deepEqual((await diff(inputs(conn("SHA256:old")), inputs(conn(UNKNOWN)))).replaces, [
      "connection",
    ]);
  });

  it("another key list for the same host is an update (same host, nothing to lock down again)", async () => {
    const d = await diff(inputs(conn("SHA256:same")), inputs(conn("SHA256:same", ["k1", "k2"])));
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, []);
  });
});
