/**
 * AppBuild: builds one app of the build tree on a build node over SSH, pushes its output files to
 * IPFS and produces the app's core0 plist; a thin resource over the Pulumi-free build (build.ts).
 * Content-addressed (source.ts): same buildId = no change, no SSH, no IPFS, so a no-op up builds
 * and uploads nothing.
 *
 * - create/update: the build (build.ts), resumable; a build cut off half-way is recorded as a
 *   partial create (plistCid "") and the next up resumes it.
 * - read: the plist is still pinned in IPFS (else the build is dropped and the next up rebuilds).
 * - delete: removes the build directory on the node (IPFS content stays: released templates may
 *   still reference it). An unreachable node does not block destroy (warning).
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, errorMessage, resourceLabel } from "../../providers/shared/errors";
import { partialCreateError, plainOutputs } from "../../providers/shared/dynamic";
import { KitResource, type KitArgs } from "../../providers/shared/kit-resource";
import { shellQuote } from "../../providers/shared/ssh";
import { onHost } from "../../providers/host/connection";
import { IpfsClient } from "../../providers/ipfs/client";
import { build, unfinished } from "./build";
import { type AppBuildFields, appBuildKit, checkAppBuildInputs } from "./check";
import { resolveSourceCommit } from "./source";
import {
  type AppBuildInputs,
  type AppBuildOutputs,
  type BuiltFile,
  KIND,
  label,
  layout,
  normalise,
} from "./types";

export const appBuildProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: Partial<AppBuildInputs>, news: Partial<AppBuildInputs>) {
    return checkAppBuildInputs(news);
  },
  async diff(_id: string, olds: AppBuildOutputs, news: AppBuildInputs) {
    // Only buildId and ipfsApiUrl lead to a build; the rest updates the recorded inputs, no remote call.
    const d = appBuildKit.diff(olds, news);
    // A build cut off half-way (partial create) must resume even with unchanged inputs.
    return { changes: d.changes || !olds.plistCid, replaces: d.replaces, deleteBeforeReplace: false };
  },
  async create(raw: AppBuildInputs) {
    const i = normalise(raw);
    const id = `${i.app}@${i.buildId}`;
    try {
      return { id, outs: await build(i) };
    } catch (err) {
      throw partialCreateError(err, id, unfinished(i));
    }
  },
  async read(id: string, props: AppBuildOutputs) {
    if (!props.plistCid) return { id, props };
    const pinned = await new IpfsClient(props.ipfsApiUrl, { label: label(props) }).pinLs(props.plistCid);
    return pinned ? { id, props } : { id: "", props: {} };
  },
  async update(_id: string, olds: AppBuildOutputs, news: AppBuildInputs) {
    const i = normalise(news);
    if (olds.plistCid && olds.buildId === i.buildId && olds.ipfsApiUrl === i.ipfsApiUrl) {
      // Same build: keep its results, record the new non-build inputs. No remote call.
      return {
        outs: plainOutputs({
          ...i,
          plist: olds.plist,
          plistCid: olds.plistCid,
          files: olds.files,
          buildDir: olds.buildDir,
          logFile: olds.logFile,
        }),
      };
    }
    let outs: AppBuildOutputs;
    try {
      outs = await build(i);
    } catch (err) {
      throw partialCreateError(err, `${i.app}@${i.buildId}`, unfinished(i));
    }
    if (olds.buildId && olds.buildId !== i.buildId) {
      // The superseded build's directory: best effort, a leftover only costs disk.
      await onHost(i.buildNode, label(i), (s) =>
        s.exec(`rm -rf ${shellQuote(`${normalise(olds).workDir}/${olds.buildId}`)}`, {
          write: true,
          check: false,
          step: "remove the previous build directory",
        }),
      ).catch(() => undefined);
    }
    return { outs };
  },
  async delete(_id: string, props: AppBuildOutputs) {
    const i = normalise(props);
    if (!i.buildId) return;
    try {
      await onHost(i.buildNode, label(i), (s) =>
        s.exec(`rm -rf ${shellQuote(layout(i).dir)}`, { write: true, step: "remove the build directory" }),
      );
    } catch (err) {
      console.error(
        `warning: ${label(i)}: build directory ${layout(i).dir} not removed: ${errorMessage(err)}`,
      );
    }
  },
};

type Args = KitArgs<AppBuildFields>;
/**
 * AppBuild's arguments, derived from its field declarations (check.ts): `app` comes from the spec,
 * `buildId` from check, and `sourceCommit` is optional (resolved at each run when unset).
 */
export type AppBuildArgs = Omit<Args, "app" | "buildId" | "sourceCommit"> &
  Partial<Pick<Args, "sourceCommit">>;

/** Builds one app of the build tree on the build node; its files and plist go to IPFS. */
export class AppBuild extends KitResource {
  declare readonly app: pulumi.Output<string>;
  declare readonly buildId: pulumi.Output<string>;
  declare readonly sourceCommit: pulumi.Output<string>;
  declare readonly plist: pulumi.Output<string>;
  declare readonly plistCid: pulumi.Output<string>;
  declare readonly files: pulumi.Output<BuiltFile[]>;
  declare readonly buildDir: pulumi.Output<string>;
  declare readonly logFile: pulumi.Output<string>;

  constructor(name: string, args: AppBuildArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.spec || !args.buildNode || !args.ipfsApiUrl) {
      throw new InputError(
        resourceLabel(KIND, name),
        !args.spec ? "spec" : !args.buildNode ? "buildNode" : "ipfsApiUrl",
        "is missing",
        "pass the app spec, the build node connection and the IPFS API URL",
      );
    }
    const spec = pulumi.output(args.spec);
    // The kit wraps buildNode as a secret (and marks it a secret output, keeping the caller's
    // additionalSecretOutputs) and seeds the outputs; the token stays build:AppBuild.
    super(
      appBuildKit,
      appBuildProvider,
      name,
      {
        ...args,
        app: spec.name,
        spec,
        sourceCommit: args.sourceCommit ?? spec.apply(resolveSourceCommit),
        buildId: undefined,
      },
      opts,
    );
  }
}
