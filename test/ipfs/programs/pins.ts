/**
 * Harness program: IpfsPins from config.
 * Config: g8os:ipfsApiUrl, g8os:pins (JSON list of {name, cid, recursive?, remote?}),
 * g8os:remoteToken (secret, optional: the Bearer token every remote pin uses).
 */
import * as pulumi from "@pulumi/pulumi";
import { IpfsPin, type RemotePinSpec } from "../../../providers/ipfs";

const config = new pulumi.Config("g8os");
const apiUrl = config.require("ipfsApiUrl");
const token = config.getSecret("remoteToken");
const pins =
  config.requireObject<{ name: string; cid: string; recursive?: boolean; remote?: RemotePinSpec }[]>("pins");

const created = pins.map(
  (p) =>
    new IpfsPin(p.name, {
      apiUrl,
      cid: p.cid,
      recursive: p.recursive,
      remote: p.remote,
      remoteToken: p.remote ? token : undefined,
    }),
);

export = {
  pins: created.map((p) => ({ cid: p.cid, remotePin: p.remotePin })),
};
