/**
 * TemplatesRelease's `check`, its test gate and its fingerprint (what decides whether a release
 * must run again). Plain module: no Pulumi imports.
 */
import type { CheckFailure } from "../../providers/shared/errors";
import { containsUnknown } from "../../providers/shared/dynamic";
import { collectFailures, httpUrl, nonEmptyString } from "../../providers/shared/validate";
import { sshGitUrlProblem } from "../../providers/git/client";
import { sha256 } from "../../providers/shared/hash";
import {
  DEFAULT_HASH_FILE,
  DEFAULT_PLIST_FILE,
  type ReleaseGate,
  type TemplatesReleaseInputs,
} from "./types";

/** What decides whether a release must run again: everything it writes, and where. */
export function releaseFingerprint(i: TemplatesReleaseInputs): string {
  return sha256(
    JSON.stringify({
      repoUrl: i.repoUrl,
      branches: i.branches,
      apps: i.apps.map((a) => ({
        app: a.app,
        buildId: a.buildId,
        plist: sha256(a.plist),
        dirs: a.dirs,
        branches: a.branches ?? null,
      })),
      plistFileName: i.plistFileName ?? DEFAULT_PLIST_FILE,
      hashFileName: i.hashFileName ?? DEFAULT_HASH_FILE,
    }),
  );
}

const relativePath = (v: unknown): string | undefined =>
  typeof v === "string" &&
  v.length > 0 &&
  !v.startsWith("/") &&
  !v.split("/").some((p) => p === ".." || p === "." || p === "" || p === ".git")
    ? undefined
    : "must be a path relative to the repo root, like actortemplates/app_redis (no '..', '.git' or leading '/')";
const fileName = (v: unknown): string | undefined =>
  typeof v === "string" && /^[A-Za-z0-9._-]+$/.test(v) && v !== "." && v !== ".." && v !== ".git"
    ? undefined
    : "must be a plain file name like plist";
const branchName = (v: unknown): string | undefined =>
  typeof v === "string" &&
  /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(v) &&
  !v.includes("..") &&
  !v.endsWith(".lock")
    ? undefined
    : "must be a git branch name like master";

/** The gate's failure (tests not all passed), or undefined. */
export function gateFailure(tests: ReleaseGate | undefined): string | undefined {
  if (!tests || containsUnknown(tests)) return undefined;
  if (tests.passed === true) return undefined;
  const list = (tests.failures ?? []).slice(0, 5).join("; ");
  return `app tests did not all pass (${list || "no results"}): nothing is released. Fix the failing apps and run up again`;
}

/** `check` failures for TemplatesRelease inputs; unknown (preview) values are skipped. */
export function checkReleaseInputs(i: Partial<TemplatesReleaseInputs>): CheckFailure[] {
  const failures = collectFailures([
    { path: "name", value: i.name, check: nonEmptyString },
    { path: "repoUrl", value: i.repoUrl, check: sshGitUrlProblem },
    {
      path: "deployKey",
      value: i.deployKey,
      check: (v) =>
        typeof v === "string" && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)
          ? undefined
          : "must be an OpenSSH or PEM private key (-----BEGIN ... PRIVATE KEY-----)",
    },
    {
      path: "knownHosts",
      value: i.knownHosts,
      check: (v) =>
        typeof v === "string" && /^\S+\s+(ssh-|ecdsa-)\S+\s+[A-Za-z0-9+/=]+/m.test(v)
          ? undefined
          : "must hold the git server's known_hosts line(s): `host ssh-ed25519 AAAA...` (ssh-keyscan prints them)",
    },
    {
      path: "branches",
      value: i.branches,
      check: (v) => (Array.isArray(v) && v.length > 0 ? undefined : "must list at least one branch"),
    },
    { path: "apps", value: i.apps, check: (v) => (Array.isArray(v) ? undefined : "must be a list of apps") },
    { path: "ipfsApi", value: i.ipfsApi, check: httpUrl },
    { path: "plistFileName", value: i.plistFileName, check: fileName, optional: true },
    { path: "hashFileName", value: i.hashFileName, check: fileName, optional: true },
  ]);
  if (Array.isArray(i.branches) && !containsUnknown(i.branches)) {
    i.branches.forEach((b, k) => {
      const bad = branchName(b);
      if (bad) failures.push({ property: `branches[${k}]`, reason: bad });
    });
  }
  const gate = gateFailure(i.tests);
  if (gate) failures.push({ property: "tests", reason: gate });
  if (!Array.isArray(i.apps) || containsUnknown(i.apps)) return failures;
  const branches = Array.isArray(i.branches) && !containsUnknown(i.branches) ? i.branches : undefined;
  i.apps.forEach((a, k) => {
    const p = `apps[${k}]`;
    failures.push(
      ...collectFailures([
        { path: `${p}.app`, value: a?.app, check: nonEmptyString },
        { path: `${p}.buildId`, value: a?.buildId, check: nonEmptyString },
        { path: `${p}.plist`, value: a?.plist, check: nonEmptyString },
        {
          path: `${p}.dirs`,
          value: a?.dirs,
          check: (v) => (Array.isArray(v) && v.length > 0 ? undefined : "must list the app's template dirs"),
        },
      ]),
    );
    (Array.isArray(a?.dirs) ? a.dirs : []).forEach((d, dk) => {
      const bad = relativePath(d);
      if (bad) failures.push({ property: `${p}.dirs[${dk}]`, reason: bad });
    });
    (a?.branches ?? []).forEach((b, bk) => {
      if (branches && !branches.includes(b))
        failures.push({
          property: `${p}.branches[${bk}]`,
          reason: `branch ${b} is not one of the release's branches (${branches.join(", ")}): add it to branches`,
        });
    });
  });
  return failures;
}
