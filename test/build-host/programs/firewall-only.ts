/**
 * Test program: one ZerotierOnlySsh on a testbed host, reached on its public address, with a
 * policy that shuts that address out (SSH allowed only on an interface the host does not have).
 * Exercises the dead-man switch: the change must undo itself.
 */
import * as pulumi from "@pulumi/pulumi";
import { ZerotierOnlySsh } from "../../../providers/host";

const cfg = new pulumi.Config("test");
const address = cfg.require("address");

new ZerotierOnlySsh("locked-out", {
  connection: cfg
    .requireSecret("privateKey")
    .apply((key) => ({ addresses: [{ host: address }], privateKeys: [key] })),
  // Stands in for the ZeroTier address: reachable before the change, blocked after it.
  zerotierAddress: address,
  interfaceName: "ztnotthere",
  confirmTimeoutSec: 10,
  reachTimeoutSec: 10,
});
