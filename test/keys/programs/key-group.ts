/**
 * Harness program: an SshKeyGroup from an ItsYou.online stand-in, and a stand-in "host" resource that
 * consumes its `keys` (as the real hosts' authorized_keys do), so a source change shows downstream.
 * Config: g8os:keySourceUrl, g8os:keyOrganization, g8os:itsyouonlineClientId, g8os:itsyouonlineClientSecret (secret).
 */
import * as pulumi from "@pulumi/pulumi";
import { SshKeyGroup } from "../../../providers/keys/group";
import { diffFields } from "../../../providers/shared/dynamic";

const config = new pulumi.Config("g8os");

const group = new SshKeyGroup("build", {
  source: {
    kind: "itsyouonline",
    baseUrl: config.require("keySourceUrl"),
    organization: config.require("keyOrganization"),
    clientId: config.require("itsyouonlineClientId"),
  },
  clientSecret: config.requireSecret("itsyouonlineClientSecret"),
});

/** Test-only consumer: records the keys it was given, updates when they change. */
const consumerProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
    const d = diffFields(olds, news, { updateOn: ["authorizedKeys"] });
    return { changes: d.changes, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs: Record<string, unknown>) {
    return { id: "host-1", outs: { authorizedKeys: inputs.authorizedKeys } };
  },
  async update(_id: string, _olds: Record<string, unknown>, news: Record<string, unknown>) {
    return { outs: { authorizedKeys: news.authorizedKeys } };
  },
};

class KeyConsumer extends pulumi.dynamic.Resource {
  declare readonly authorizedKeys: pulumi.Output<string[]>;
  constructor(name: string, args: { authorizedKeys: pulumi.Input<string[]> }) {
    super(consumerProvider, name, { ...args }, {}, "test", "KeyConsumer");
  }
}

const host = new KeyConsumer("host", { authorizedKeys: group.keys });

export = {
  keys: group.keys,
  members: group.members,
  membersWithoutKeys: group.membersWithoutKeys,
  fingerprints: group.fingerprints,
  hostKeys: host.authorizedKeys,
};
