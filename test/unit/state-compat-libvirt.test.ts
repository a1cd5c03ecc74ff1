/**
 * State written before the libvirt resources moved onto the resource kit still checks and diffs
 * with no changes (the kit's state-compat method, test/unit/state-compat-suite.ts, for
 * LibvirtVolume, CloudInitSeed, KvmHostSetup and LibvirtDomain). Fixtures (test/unit/fixtures/state-compat/libvirt-*.json) were
 * captured from this branch's pre-kit check (same rules as main 17b7a7f) and create's output shape.
 */
import * as path from "path";
import type { Fields, ResourceKit } from "../../providers/shared/resource-kit";
import { defineStateCompatCases, type StateCompatCase } from "./state-compat-suite";

const CASES: StateCompatCase[] = [
  {
    fixture: "libvirt-volume",
    load: async () => {
      const m = await import("../../providers/libvirt/volume");
      return { kit: m.volumeKit as unknown as ResourceKit<Fields>, provider: m.volumeProvider };
    },
    replace: ["sha256", "f".repeat(64)],
    deleteBeforeReplace: true,
    updates: [["downloadTimeoutSeconds", 600]],
  },
  {
    fixture: "libvirt-seed",
    load: async () => {
      const m = await import("../../providers/libvirt/seed");
      return { kit: m.seedKit as unknown as ResourceKit<Fields>, provider: m.seedProvider };
    },
    replace: ["host", "10.147.17.9"],
    deleteBeforeReplace: true,
    updates: [["userData", "#cloud-config\nhostname: other\n"]],
  },
  {
    fixture: "libvirt-host-setup",
    load: async () => {
      const m = await import("../../providers/libvirt/host-setup");
      return { kit: m.hostSetupKit as unknown as ResourceKit<Fields>, provider: m.hostSetupProvider };
    },
    replace: ["poolDir", "/srv/other-pool"],
    deleteBeforeReplace: false, // the new setup is made before the old one goes
    updates: [["domainType", "qemu"]],
    bareUnknownField: "host",
  },
  {
    fixture: "libvirt-domain",
    load: async () => {
      const m = await import("../../providers/libvirt/domain");
      return { kit: m.domainKit as unknown as ResourceKit<Fields>, provider: m.domainProvider };
    },
    replace: ["seedIso", "/var/lib/g8os/images/build-1-node-seed-99999999.iso"],
    deleteBeforeReplace: true,
    updates: [["memoryMiB", 8192]],
    bareUnknownField: "host",
  },
];

describe("state compatibility: libvirt resources on the kit read state written before it", () => {
  defineStateCompatCases(path.join(__dirname, "fixtures", "state-compat"), CASES);
});
