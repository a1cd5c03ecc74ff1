/**
 * State written by the code before the resource kit still checks and diffs with no changes.
 * Fixtures (test/unit/fixtures/state-compat/<resource>.json) were captured from main 17b7a7f,
 * before each resource moved onto the kit: `raw` is what the constructor sends, `checked` what
 * that code's check returned for it, `outputs` the shape its create returned (built from the
 * code, see each fixture's `captured`). The tests per resource: test/unit/state-compat-suite.ts.
 */
import * as path from "path";
import type { Fields, ResourceKit } from "../../providers/shared/resource-kit";
import { defineStateCompatCases, type StateCompatCase } from "./state-compat-suite";

const CASES: StateCompatCase[] = [
  {
    fixture: "ipfs-pin",
    load: async () => {
      const m = await import("../../providers/ipfs/pin");
      return { kit: m.ipfsPinKit as unknown as ResourceKit<Fields>, provider: m.ipfsPinProvider };
    },
    replace: ["cid", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"],
    updates: [["name", "site-2"]],
  },
  {
    fixture: "telegram-message",
    load: async () => {
      const m = await import("../../providers/telegram/message");
      return {
        kit: m.telegramMessageKit as unknown as ResourceKit<Fields>,
        provider: m.telegramMessageProvider,
      };
    },
    updates: [["key", "run-2"]],
  },
  {
    fixture: "keys-group",
    load: async () => {
      const m = await import("../../providers/keys/group");
      return { kit: m.sshKeyGroupKit as unknown as ResourceKit<Fields>, provider: m.sshKeyGroupProvider };
    },
    // An inline source is fetched without network; another key changes source and the fetched keys.
    updates: [["clientSecret", "not-used-by-inline"]],
  },
  {
    fixture: "zerotier-network",
    load: async () => {
      const m = await import("../../providers/zerotier/network");
      return {
        kit: m.zerotierNetworkKit as unknown as ResourceKit<Fields>,
        provider: m.zerotierNetworkProvider,
      };
    },
    replace: ["backend", "central"],
    updates: [["description", "the build network"]],
  },
  {
    fixture: "zerotier-member",
    load: async () => {
      const m = await import("../../providers/zerotier/member");
      return {
        kit: m.zerotierMemberKit as unknown as ResourceKit<Fields>,
        provider: m.zerotierMemberProvider,
      };
    },
    replace: ["memberId", "0102030405"],
    updates: [["authorized", false]],
  },
  {
    fixture: "core0-node",
    load: async () => {
      const m = await import("../../providers/core0/node");
      return { kit: m.core0NodeKit as unknown as ResourceKit<Fields>, provider: m.core0NodeProvider };
    },
    replace: ["address", "10.147.17.21"],
    updates: [["password", "redis-pass-2"]],
  },
  {
    fixture: "core0-container",
    load: async () => {
      const m = await import("../../providers/core0/container");
      return {
        kit: m.core0ContainerKit as unknown as ResourceKit<Fields>,
        provider: m.core0ContainerProvider,
      };
    },
    replace: ["plistUrl", "https://hub.example.com/web-2.plist"],
    updates: [["memoryMb", 256]],
  },
];

describe("state compatibility: resources on the kit read state written before it", () => {
  defineStateCompatCases(path.join(__dirname, "fixtures", "state-compat"), CASES);
});
