/**
 * TemplatesRelease's data: the apps' plists and where they go, the test gate, and what a release
 * records per branch. The inputs are declared once, as kit fields, in check.ts. Plain module: no
 * Pulumi imports.
 */
import { resourceLabel } from "../../providers/shared/errors";
import type { KitInputs } from "../../providers/shared/resource-kit";
import type { TemplatesReleaseFields } from "./check";

/** One app's plist and where it goes. */
export interface ReleaseApp {
  /** App name; unique in the release. */
  app: string;
  /** The build that made the plist (AppBuild's `buildId`); named in the commit message. */
  buildId: string;
  /** The plist text (AppBuild's `plist` output). */
  plist: string;
  /** Directories in the templates repo (relative to its root) that receive `<dir>/<plistFileName>`. */
  dirs: string[];
  /** Branches this app goes to. Default: every branch of the release. */
  branches?: string[];
}

/** What the release needs to know of the tests: AppTest's `passed` and `failures` outputs. */
export interface ReleaseGate {
  /** True only when every app test passed; anything else blocks the release. */
  passed: boolean;
  /** The failures, `<app>/<test>: <reason>`; the first five are named when the gate refuses. */
  failures: string[];
}

/** What TemplatesRelease's provider receives: derived from its field declarations (check.ts). */
export type TemplatesReleaseInputs = KitInputs<TemplatesReleaseFields>;

/** What a release did on one branch. */
export interface BranchRelease {
  /** The branch. */
  branch: string;
  /** Head commit after the release (the new commit, or the old head when nothing changed). */
  commit: string;
  /** IPFS root CID of the branch's tree (without .git and the hash file). */
  rootCid: string;
  /** True when this release made a commit on the branch. */
  committed: boolean;
}

/** What TemplatesRelease records. */
export interface TemplatesReleaseOutputs {
  /** Resource name. */
  name: string;
  /** The templates repo released to. */
  repoUrl: string;
  /** releaseFingerprint of the inputs released: a different one means release again. */
  fingerprint: string;
  /** One per branch, in the order of the `branches` input. */
  released: BranchRelease[];
}

/** The resource kind, in every message. */
export const KIND = "TemplatesRelease";
/** Author and committer of every release commit. */
export const ROBOT_NAME = "g8os build robot";
/** Its e-mail (`.invalid`: nobody receives mail there). */
export const ROBOT_EMAIL = "build-robot@g8os.invalid";
/** Default of `plistFileName`. */
export const DEFAULT_PLIST_FILE = "plist";
/** Default of `hashFileName`. */
export const DEFAULT_HASH_FILE = ".ipfs-hash";

/** `TemplatesRelease <name>`, for messages. */
export function label(i: { name?: unknown }): string {
  return resourceLabel(KIND, typeof i.name === "string" ? i.name : "?");
}
