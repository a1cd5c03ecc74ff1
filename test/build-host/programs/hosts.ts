/**
 * Test/bench program: one ZeroTier network and N BuildHosts (testbed hosts), inline group keys,
 * no Telegram. Config (namespace "test"): hosts = JSON [{name, address, zerotierIp}], groupKeys =
 * JSON [..], bootstrapKey (secret), ztUrl, ztToken (secret).
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { BuildHost } from "../../../components/build-host";
import { ZerotierNetwork } from "../../../providers/zerotier";

const cfg = new pulumi.Config("test");
const hosts = cfg.requireObject<{ name: string; address: string; zerotierIp: string }[]>("hosts");
const api = {
  backend: "controller" as const,
  apiUrl: cfg.require("ztUrl"),
  token: cfg.requireSecret("ztToken"),
};

const network = new ZerotierNetwork("bench-network", {
  ...api,
  name: "g8os-bench",
  ipAssignmentPools: [{ start: "10.214.0.180", end: "10.214.0.189" }],
  routes: [{ target: "10.214.0.0/24" }],
});
const deployKey = new tls.PrivateKey("bench-deploy-key", { algorithm: "ED25519" });

export const addresses = hosts.map(
  (h, i) =>
    new BuildHost(h.name, {
      hostName: h.name,
      envNumber: 90 + i,
      bootstrap: { address: h.address, privateKey: cfg.requireSecret("bootstrapKey") },
      deployKey,
      groupKeys: cfg.requireObject<string[]>("groupKeys"),
      zerotier: { ...api, networkId: network.networkId, address: h.zerotierIp, timeoutSec: 60 },
      firewallConfirmTimeoutSec: 30,
    }).zerotierIp,
);
