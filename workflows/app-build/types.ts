/**
 * AppBuild's data: inputs, outputs, defaults, and where a build lives on the build node.
 * Plain module: no Pulumi imports (the provider methods capture it).
 */
import { resourceLabel } from "../../providers/shared/errors";
import type { HostConnection } from "../../providers/host/connection";
import type { AppSpec } from "../app-tree";

/** One output file of a build, as pushed to IPFS. */
export interface BuiltFile {
  /** Path inside the container root. */
  path: string;
  /** IPFS hash of the brotli-compressed content (what core0 v0.9.0 fetches and decompresses). */
  cid: string;
  /** Uncompressed bytes. */
  size: number;
  /** Permission bits (e.g. 0o755 = 493). */
  mode: number;
}

/** What AppBuild's provider receives (after `check`). */
export interface AppBuildInputs {
  /** App name (= spec.name). */
  app: string;
  /** The app, as `loadBuildTree` returns it. */
  spec: AppSpec;
  /** How to reach the build node (secret: private keys). */
  buildNode: HostConnection;
  /** IPFS RPC API the outputs are pushed to. */
  ipfsApiUrl: string;
  /** Absolute directory on the build node; each build gets `<workDir>/<buildId>`. */
  workDir: string;
  /** Local directory receiving each build's full log. */
  logDir: string;
  /** Resolved source: git commit (40 hex) or local content hash (64 hex). */
  sourceCommit: string;
  /** Computed by check. */
  buildId: string;
}

/** What AppBuild records: its inputs and the build's results. */
export interface AppBuildOutputs extends AppBuildInputs {
  /** Plist text (core0 v0.9 format). "" until the build finished. */
  plist: string;
  /** CID of the plist in IPFS. "" until the build finished. */
  plistCid: string;
  /** The output files, in the order of `spec.outputs`. [] until the build finished. */
  files: BuiltFile[];
  /** Build directory on the node. */
  buildDir: string;
  /** Local copy of the full build log. */
  logFile: string;
}

/** The resource kind, in every message. */
export const KIND = "AppBuild";
const DEFAULT_WORK_DIR = "/root/g8os-builds";

/** `AppBuild <app>`, for messages. */
export const label = (i: { app?: unknown }): string =>
  resourceLabel(KIND, typeof i.app === "string" ? i.app : "?");

/** The inputs with their defaults filled in. */
export function normalise(i: Partial<AppBuildInputs>): AppBuildInputs {
  const os = require("os") as typeof import("os");
  const path = require("path") as typeof import("path");
  return {
    app: i.app!,
    spec: i.spec!,
    buildNode: i.buildNode!,
    ipfsApiUrl: i.ipfsApiUrl!,
    workDir: (i.workDir ?? DEFAULT_WORK_DIR).replace(/\/+$/, ""),
    logDir: i.logDir ?? path.join(os.tmpdir(), "g8os-build-logs"),
    sourceCommit: i.sourceCommit!,
    buildId: i.buildId ?? "",
  };
}

/** Where a build lives on the node. */
export function layout(i: AppBuildInputs) {
  const dir = `${i.workDir}/${i.buildId}`;
  return { dir, src: `${dir}/src`, meta: `${dir}/.g8os`, log: `${dir}/build.log` };
}
