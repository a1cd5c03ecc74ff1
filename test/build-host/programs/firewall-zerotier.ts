/**
 * Test program: one ZerotierOnlySsh on a testbed host already joined to the ZeroTier stand-in,
 * reached over its ZeroTier address first and its bootstrap address second (as BuildHost wires it).
 */
import * as pulumi from "@pulumi/pulumi";
import { ZerotierOnlySsh } from "../../../providers/host";

const cfg = new pulumi.Config("test");
const ztIp = cfg.require("zerotierIp");
const bootstrap = cfg.require("address");
const hostKey = cfg.require("hostKeySha256");

const fw = new ZerotierOnlySsh("drift-host-firewall", {
  connection: cfg.requireSecret("privateKey").apply((key) => ({
    addresses: [{ host: ztIp }, { host: bootstrap }],
    privateKeys: [key],
    hostKeySha256: hostKey,
  })),
  zerotierAddress: ztIp,
  interfaceName: cfg.require("interfaceName"),
  confirmTimeoutSec: cfg.requireNumber("confirmTimeoutSec"),
  reachTimeoutSec: 30,
  displayName: "drift-host",
});

export const enforced = fw.enforced;
export const foreignRules = fw.foreignRules;
