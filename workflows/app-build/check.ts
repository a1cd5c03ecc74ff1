/**
 * AppBuild's `check`: every input problem at once, each naming the field and the fix; unknown
 * (preview) values are skipped. The buildId is computed here, from the resolved source commit and
 * the build definition, so `diff` compares ids only.
 * Plain module: no Pulumi imports.
 */
import type { CheckFailure } from "../../providers/shared/errors";
import { collectFailures, httpUrl, nonEmptyString } from "../../providers/shared/validate";
import { containsUnknown } from "../../providers/shared/dynamic";
import { connectionFailures } from "../../providers/host/connection";
import type { AppSpec } from "../app-tree";
import { computeBuildId } from "./source";
import { type AppBuildInputs, normalise } from "./types";

/** Problems of the app spec (as loadBuildTree makes it) that would break the build. */
function specFailures(spec: unknown, app: unknown): CheckFailure[] {
  if (containsUnknown(spec)) return [];
  const s = spec as Partial<AppSpec> | undefined;
  if (!s || typeof s !== "object")
    return [{ property: "spec", reason: "is required: an app of the build tree" }];
  const out: CheckFailure[] = [];
  if (s.name !== app) out.push({ property: "app", reason: `must equal spec.name ("${s.name}")` });
  if (!s.source || (!s.source.git && !s.source.path))
    out.push({ property: "spec.source", reason: "needs git or path (load the app with loadBuildTree)" });
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

/** Check failures for AppBuild inputs, and the inputs to record (with buildId) when there are none. */
export function checkAppBuildInputs(news: Partial<AppBuildInputs>): {
  inputs: Partial<AppBuildInputs>;
  failures: CheckFailure[];
} {
  const failures = collectFailures([
    { path: "app", value: news.app, check: nonEmptyString },
    { path: "ipfsApiUrl", value: news.ipfsApiUrl, check: httpUrl },
    {
      path: "workDir",
      value: news.workDir,
      optional: true,
      check: (v) =>
        typeof v === "string" && /^\/[^'"\n]*[^/]$/.test(v) && v !== "/"
          ? undefined
          : "must be an absolute directory path (not /)",
    },
    {
      path: "sourceCommit",
      value: news.sourceCommit,
      check: (v) =>
        typeof v === "string" && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(v)
          ? undefined
          : "must be a git commit id (40 hex) or a local content hash (64 hex): see resolveSourceCommit",
    },
  ]);
  failures.push(...specFailures(news.spec, news.app), ...connectionFailures("buildNode", news.buildNode));
  if (failures.length > 0) return { inputs: news, failures };
  if (containsUnknown(news.sourceCommit) || containsUnknown(news.spec)) return { inputs: news, failures };
  const i = normalise(news);
  return { inputs: { ...i, buildId: computeBuildId(i.sourceCommit, i.spec) }, failures };
}
