/**
 * AppBuild's inputs, declared once (resource kit: check, diff kinds, Args and Inputs types,
 * secrets), and its `check`: every input problem at once, each naming the field and the fix;
 * unknown (preview) values are skipped. The buildId is computed here, from the resolved source
 * commit and the build definition, so `diff` compares ids only.
 * Plain module: no Pulumi imports.
 */
import type { CheckFailure } from "../../providers/shared/errors";
import { httpUrl, nonEmptyString, type Validator } from "../../providers/shared/validate";
import { containsUnknown } from "../../providers/shared/dynamic";
import { declareResource, optional, required, type RuleFailure } from "../../providers/shared/resource-kit";
import { connectionFailures, connectionFix, type HostConnection } from "../../providers/host/connection";
import type { AppSpec } from "../app-tree";
import { computeBuildId } from "./source";
import { type AppBuildInputs, KIND, normalise } from "./types";

const workDirPath: Validator = (v) =>
  typeof v === "string" && /^\/[^'"\n]*[^/]$/.test(v) && v !== "/"
    ? undefined
    : "must be an absolute directory path (not /)";
const sourceId: Validator = (v) =>
  typeof v === "string" && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(v)
    ? undefined
    : "must be a git commit id (40 hex) or a local content hash (64 hex): see resolveSourceCommit";

/**
 * AppBuild's inputs; each doc comment is also that of the derived Args and Inputs. In the order of
 * the old check's messages. Every change but `app` updates in place; only a new buildId or IPFS
 * API builds again (resource.ts).
 */
const fields = {
  /** App name, = spec.name (set by the constructor). A new name replaces the build. */
  app: required<string>({ validate: nonEmptyString, change: "replace" }),
  /** IPFS RPC API the files and the plist are pushed to. */
  ipfsApiUrl: required<string>({ validate: httpUrl }),
  /** Absolute directory on the build node (not /); each build gets `<workDir>/<buildId>`. Default /root/g8os-builds. */
  workDir: optional<string>({ validate: workDirPath }),
  /** Resolved source: git commit (40 hex) or local content hash (64 hex). Default: `resolveSourceCommit(spec)` at each run. */
  sourceCommit: required<string>({ validate: sourceId }),
  /** One app of the build tree (`loadBuildTree(dir).apps[n]`). */
  spec: required<AppSpec>({ fix: "set spec to one app of the build tree (loadBuildTree(dir).apps[n])" }),
  /** The build node (e.g. the BuildHost's connection). Stored as a secret (private keys). */
  buildNode: required<HostConnection>({ secret: true, fix: connectionFix("buildNode") }),
  /** Local directory for full build logs. Default <tmpdir>/g8os-build-logs. */
  logDir: optional<string>(),
  /** Computed by check from sourceCommit and the spec's steps and outputs; not an argument. */
  buildId: optional<string>(),
};

/** The field declarations' type (types.ts derives AppBuildInputs from it). */
export type AppBuildFields = typeof fields;

/** The defaulted inputs with their buildId. */
const withBuildId = (news: Record<string, unknown>): Record<string, unknown> => {
  const i = normalise(news as Partial<AppBuildInputs>);
  return { ...i, buildId: computeBuildId(i.sourceCommit, i.spec) };
};

/** Problems of the app spec (as loadBuildTree makes it) that would break the build. */
function specFailures(spec: unknown, app: unknown): RuleFailure[] {
  if (containsUnknown(spec)) return [];
  const s = spec as Partial<AppSpec> | undefined;
  if (!s || typeof s !== "object")
    return [
      {
        property: "spec",
        reason: "is not an app of the build tree",
        fix: "set spec to one app of the build tree (loadBuildTree(dir).apps[n])",
      },
    ];
  const out: RuleFailure[] = [];
  if (s.name !== app) out.push({ property: "app", reason: `must equal spec.name ("${s.name}")` });
  if (!s.source || (!s.source.git && !s.source.path))
    out.push({
      property: "spec.source",
      reason: "has neither git nor path",
      fix: "load the app with loadBuildTree, which sets spec.source.git or spec.source.path",
    });
  if (!Array.isArray(s.steps) || s.steps.length === 0)
    out.push({ property: "spec.steps", reason: "must list at least one build step" });
  else
    s.steps.forEach((st, n) => {
      if (!st || typeof st.run !== "string" || !st.run.trim())
        out.push({ property: `spec.steps[${n}].run`, reason: "must be a shell command" });
    });
  if (!Array.isArray(s.outputs) || s.outputs.length === 0)
    out.push({ property: "spec.outputs", reason: "must list at least one output file" });
  else
    s.outputs.forEach((o, n) => {
      if (
        !o ||
        typeof o.from !== "string" ||
        !o.from ||
        o.from.startsWith("/") ||
        o.from.split("/").includes("..")
      )
        out.push({
          property: `spec.outputs[${n}].from`,
          reason: "must be a path inside the source checkout",
        });
      if (!o || typeof o.to !== "string" || !o.to.startsWith("/"))
        out.push({ property: `spec.outputs[${n}].to`, reason: "must be an absolute path in the container" });
      else if (/[|\r\n]/.test(o.to))
        out.push({
          property: `spec.outputs[${n}].to`,
          reason: "must not contain | or a line break (a core0 v0.9.0 plist line cannot hold them)",
        });
      if (o?.mode !== undefined && !/^[0-7]{3,4}$/.test(o.mode))
        out.push({ property: `spec.outputs[${n}].mode`, reason: 'must be an octal string like "0755"' });
    });
  return out;
}

/** The AppBuild declaration: fields, type token build:AppBuild (unchanged), the spec and node checks. */
export const appBuildKit = declareResource({
  kind: KIND,
  module: "build",
  type: "AppBuild",
  fields,
  outputs: ["plist", "plistCid", "files", "buildDir", "logFile"],
  labelField: "app",
  // The kit reports a missing spec or buildNode; these check what is there.
  rules: (news) => [
    ...(news.spec === undefined || news.spec === null ? [] : specFailures(news.spec, news.app)),
    ...(news.buildNode === undefined || news.buildNode === null
      ? []
      : connectionFailures("buildNode", news.buildNode)),
  ],
  normalise: withBuildId,
});

/** Check failures for AppBuild inputs, and the inputs to record (with buildId) when there are none. */
export function checkAppBuildInputs(news: Partial<AppBuildInputs>): {
  inputs: Record<string, unknown>;
  failures: CheckFailure[];
} {
  const r = appBuildKit.check(news);
  if (r.failures.length > 0 || !containsUnknown(news)) return r;
  // Unknown values elsewhere (e.g. buildNode at preview) still get the buildId, so a preview of an
  // unchanged build shows no change; unknown source or spec cannot.
  if (containsUnknown(news.sourceCommit) || containsUnknown(news.spec)) return r;
  return { inputs: withBuildId(news), failures: [] };
}
