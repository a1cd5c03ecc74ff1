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
import { diffFields, partialCreateError, plainOutputs } from "../../providers/shared/dynamic";
import { shellQuote } from "../../providers/shared/ssh";
import { type HostConnection, onHost } from "../../providers/host/connection";
import { IpfsClient } from "../../providers/ipfs/client";
import type { AppSpec } from "../app-tree";
import { build, unfinished } from "./build";
import { checkAppBuildInputs } from "./check";
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
    const d = diffFields(
      olds as unknown as Record<string, unknown>,
      news as unknown as Record<string, unknown>,
      {
        // Only buildId and ipfsApiUrl lead to a build; the rest updates the recorded inputs, no remote call.
        updateOn: ["buildId", "ipfsApiUrl", "spec", "buildNode", "workDir", "logDir", "sourceCommit"],
        replaceOn: ["app"],
        deleteBeforeReplace: false,
      },
    );
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

export interface AppBuildArgs {
  /** One app of the build tree (`loadBuildTree(dir).apps[n]`). */
  spec: pulumi.Input<AppSpec>;
  /** The build node (e.g. the BuildHost's connection). Stored as a secret. */
  buildNode: pulumi.Input<HostConnection>;
  /** IPFS RPC API the files and the plist are pushed to. */
  ipfsApiUrl: pulumi.Input<string>;
  /** Absolute directory on the node. Default /root/g8os-builds. */
  workDir?: pulumi.Input<string>;
  /** Local directory for full build logs. Default <tmpdir>/g8os-build-logs. */
  logDir?: pulumi.Input<string>;
  /** Resolved source (commit or content hash). Default: `resolveSourceCommit(spec)` at each run. */
  sourceCommit?: pulumi.Input<string>;
}

export class AppBuild extends pulumi.dynamic.Resource {
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
    super(
      appBuildProvider,
      name,
      {
        app: spec.name,
        spec,
        buildNode: pulumi.secret(args.buildNode),
        ipfsApiUrl: args.ipfsApiUrl,
        workDir: args.workDir,
        logDir: args.logDir,
        sourceCommit: args.sourceCommit ?? spec.apply(resolveSourceCommit),
        buildId: undefined,
        plist: undefined,
        plistCid: undefined,
        files: undefined,
        buildDir: undefined,
        logFile: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "buildNode"] },
      "build",
      "AppBuild",
    );
  }
}
