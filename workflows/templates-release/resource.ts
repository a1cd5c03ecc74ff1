/**
 * TemplatesRelease: puts each app's plist into the AYS templates repo, per branch, and publishes
 * the repo tree on IPFS under one hash, once every app test passed; a thin resource over the
 * release (release.ts).
 *
 * Decisions:
 * - Gate: `tests` (the AppTest outputs) must say passed. Otherwise check fails and create/update
 *   refuse before touching git or IPFS: nothing is pushed.
 * - No-op when nothing changed: diff compares a fingerprint of what would be written (plists,
 *   dirs, branches, repo), so a no-op up runs nothing.
 * - read returns the recorded state (it does not query the remote); delete does nothing: released
 *   commits are history and stay in the repo.
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, resourceLabel } from "../../providers/shared/errors";
import { containsUnknown } from "../../providers/shared/dynamic";
import { checkReleaseInputs, releaseFingerprint } from "./check";
import { release } from "./release";
import {
  type BranchRelease,
  KIND,
  type ReleaseApp,
  type TemplatesReleaseInputs,
  type TemplatesReleaseOutputs,
} from "./types";

export const templatesReleaseProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: TemplatesReleaseInputs, news: TemplatesReleaseInputs) {
    return { inputs: news, failures: checkReleaseInputs(news) };
  },

  async diff(_id: string, olds: TemplatesReleaseOutputs, news: TemplatesReleaseInputs) {
    const unknown = containsUnknown([
      news.apps,
      news.branches,
      news.repoUrl,
      news.plistFileName,
      news.hashFileName,
    ]);
    const changes = unknown || olds.fingerprint !== releaseFingerprint(news);
    return { changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: TemplatesReleaseInputs) {
    const crypto = require("crypto") as typeof import("crypto");
    const outs = await release(inputs);
    return { id: `templates-${inputs.name}-${crypto.randomUUID().slice(0, 8)}`, outs };
  },

  async read(id: string, props: TemplatesReleaseOutputs) {
    return { id, props };
  },

  async update(_id: string, _olds: TemplatesReleaseOutputs, news: TemplatesReleaseInputs) {
    return { outs: await release(news) };
  },

  async delete() {
    // Released commits are history: they stay in the templates repo.
  },
};

export interface TemplatesReleaseArgs {
  /** `ssh://[user@]host[:port]/path` of the AYS templates repo. */
  repoUrl: pulumi.Input<string>;
  /** Private key with push rights (wrapped as a secret). */
  deployKey: pulumi.Input<string>;
  /** known_hosts line(s) of the git server. */
  knownHosts: pulumi.Input<string>;
  /** Branches to release to, e.g. ["master", "develop"]. */
  branches: pulumi.Input<pulumi.Input<string>[]>;
  /** Per app: plist text, template dirs, optional branches. */
  apps: pulumi.Input<pulumi.Input<ReleaseApp>[]>;
  /** The AppTest outcome: `{ passed: appTest.passed, failures: appTest.failures }`. */
  tests: pulumi.Input<{ passed: pulumi.Input<boolean>; failures: pulumi.Input<pulumi.Input<string>[]> }>;
  /** IPFS RPC API to add and pin the tree on. */
  ipfsApi: pulumi.Input<string>;
  /** Default `plist`. */
  plistFileName?: pulumi.Input<string>;
  /** Default `.ipfs-hash`. */
  hashFileName?: pulumi.Input<string>;
  /** First line of the commit message (default lists app@buildId). */
  message?: pulumi.Input<string>;
}

/** Writes the plists into the templates repo per branch, hashes the tree on IPFS, commits, pushes. */
export class TemplatesRelease extends pulumi.dynamic.Resource {
  declare readonly released: pulumi.Output<BranchRelease[]>;
  declare readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, args: TemplatesReleaseArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.deployKey) {
      throw new InputError(
        resourceLabel(KIND, name),
        "deployKey",
        "is missing",
        "pass the templates repo deploy key",
      );
    }
    super(
      templatesReleaseProvider,
      name,
      {
        name,
        repoUrl: args.repoUrl,
        deployKey: pulumi.secret(args.deployKey),
        knownHosts: args.knownHosts,
        branches: args.branches,
        apps: args.apps,
        tests: args.tests,
        ipfsApi: args.ipfsApi,
        plistFileName: args.plistFileName,
        hashFileName: args.hashFileName,
        message: args.message,
        fingerprint: undefined,
        released: undefined,
      },
      opts,
      "build",
      "TemplatesRelease",
    );
  }
}
