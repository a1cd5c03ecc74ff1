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
import { KitResource, type KitArgs } from "../../providers/shared/kit-resource";
import { releaseFingerprint, type TemplatesReleaseFields, templatesReleaseKit } from "./check";
import { release } from "./release";
import { type BranchRelease, KIND, type TemplatesReleaseInputs, type TemplatesReleaseOutputs } from "./types";

export const templatesReleaseProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: TemplatesReleaseInputs, news: TemplatesReleaseInputs) {
    return templatesReleaseKit.check(news);
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

/** TemplatesRelease's arguments, derived from its field declarations (check.ts); `name` is the resource name. */
export type TemplatesReleaseArgs = Omit<KitArgs<TemplatesReleaseFields>, "name">;

/** Writes the plists into the templates repo per branch, hashes the tree on IPFS, commits, pushes. */
export class TemplatesRelease extends KitResource {
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
    // The kit wraps deployKey as a secret and seeds the outputs; the token stays build:TemplatesRelease.
    super(templatesReleaseKit, templatesReleaseProvider, name, { ...args, name }, opts);
  }
}
