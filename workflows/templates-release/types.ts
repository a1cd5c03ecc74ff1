/**
 * TemplatesRelease's data: the apps' plists and where they go, the test gate, and what a release
 * records per branch. Plain module: no Pulumi imports.
 */
import { resourceLabel } from "../../providers/shared/errors";

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

/** What TemplatesRelease's provider receives. */
export interface TemplatesReleaseInputs {
  /** Resource name, in every message and in the default commit message. */
  name: string;
  /** `ssh://[user@]host[:port]/path` of the templates repo. */
  repoUrl: string;
  /** Private key with push rights. Secret. */
  deployKey: string;
  /** known_hosts lines pinning the git server's host key. */
  knownHosts: string;
  /** Branches to release to, at least one, in order. */
  branches: string[];
  /** The apps' plists and where they go. */
  apps: ReleaseApp[];
  /** The test gate (AppTest's `passed` and `failures`). */
  tests: ReleaseGate;
  /** IPFS RPC API the tree is added to and pinned on, e.g. http://127.0.0.1:5001 */
  ipfsApi: string;
  /** File name written into each app dir. Default `plist`. */
  plistFileName?: string;
  /** File at the repo root that holds the tree's IPFS hash. Default `.ipfs-hash`. */
  hashFileName?: string;
  /** First line of the commit message. Default `g8os build: <app>@<buildId>, ...`. */
  message?: string;
}

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
