/**
 * AppBuild's data: inputs (declared once, as kit fields, in check.ts), outputs, defaults, and where
 * a build lives on the build node. Plain module: no Pulumi imports (the provider methods capture it).
 */
import { resourceLabel } from "../../providers/shared/errors";
import type { KitInputs } from "../../providers/shared/resource-kit";
import type { AppBuildFields } from "./check";

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

/**
 * What AppBuild's provider works on: the inputs derived from its field declarations (check.ts),
 * with the defaults and the buildId that check fills in (`normalise`).
 */
export type AppBuildInputs = KitInputs<AppBuildFields> & { workDir: string; logDir: string; buildId: string };

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
