/**
 * Stack program for the ZeroTier harness tests: one network and one member, shaped by `zt:*` config
 * so each scenario changes only config between operations.
 */
import * as pulumi from "@pulumi/pulumi";
import { ZerotierMember, ZerotierNetwork } from "../../../providers/zerotier";

const cfg = new pulumi.Config("zt");
const conn = {
  backend: cfg.require("backend") as "central" | "controller",
  apiUrl: cfg.require("apiUrl"),
  token: cfg.requireSecret("token"),
};
const network = new ZerotierNetwork("build", {
  ...conn,
  name: cfg.get("networkName") ?? "g8os-build",
  description: "G8OS build network",
  routes: [{ target: "10.147.17.0/24" }],
  ipAssignmentPools: cfg.getObject<{ start: string; end: string }[]>("pools") ?? [
    { start: "10.147.17.10", end: "10.147.17.99" },
  ],
  dns: { domain: "build.g8os.test", servers: ["10.147.17.1"] },
});
const member = new ZerotierMember("host1", {
  ...conn,
  networkId: cfg.get("networkIdOverride") || network.networkId,
  memberId: cfg.require("memberId"),
  name: "host1",
});

export = {
  networkId: network.networkId,
  memberAuthorized: member.authorized,
  assignedIps: member.assignedIps,
};
