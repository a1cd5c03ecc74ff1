/**
 * TemplatesRelease's inputs, declared once (resource kit: check, Args and Inputs types, secrets),
 * its test gate and its fingerprint (what decides whether a release must run again). Plain module:
 * no Pulumi imports.
 */
import type { CheckFailure } from "../../providers/shared/errors";
import { containsUnknown } from "../../providers/shared/dynamic";
import { declareResource, optional, required, type RuleFailure } from "../../providers/shared/resource-kit";
import { collectFailures, httpUrl, nonEmptyString, type Validator } from "../../providers/shared/validate";
import { sshGitUrlProblem } from "../../providers/git/client";
import { sha256 } from "../../providers/shared/hash";
import {
  DEFAULT_HASH_FILE,
  DEFAULT_PLIST_FILE,
  KIND,
  type ReleaseApp,
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
  return `app tests did not all pass (${list || "no results"}): nothing is released`;
}

const privateKeyText: Validator = (v) =>
  typeof v === "string" && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)
    ? undefined
    : "must be an OpenSSH or PEM private key (-----BEGIN ... PRIVATE KEY-----)";
const knownHostsLines: Validator = (v) =>
  typeof v === "string" && /^\S+\s+(ssh-|ecdsa-)\S+\s+[A-Za-z0-9+/=]+/m.test(v)
    ? undefined
    : "must hold the git server's known_hosts line(s): `host ssh-ed25519 AAAA...` (ssh-keyscan prints them)";

/** TemplatesRelease's inputs; each doc comment is also that of the derived Args and Inputs. */
const fields = {
  /** Resource name, in every message and in the default commit message (set by the constructor). */
  name: required<string>({ validate: nonEmptyString }),
  /** `ssh://[user@]host[:port]/path` of the AYS templates repo. */
  repoUrl: required<string>({ validate: sshGitUrlProblem }),
  /** Private key with push rights on the repo (wrapped as a secret; never in the outputs). */
  deployKey: required<string>({ validate: privateKeyText, secret: "input" }),
  /** known_hosts line(s) pinning the git server's host key (`ssh-keyscan` prints them). */
  knownHosts: required<string>({
    validate: knownHostsLines,
    fix: "set knownHosts to the git server's known_hosts line(s), as `ssh-keyscan -t ed25519 <host>` prints them",
  }),
  /** Branches to release to, at least one, in order, e.g. ["master", "develop"]. */
  branches: required<string[]>({
    validate: (v) => (Array.isArray(v) && v.length > 0 ? undefined : "must list at least one branch"),
    fix: 'set branches to a list of at least one git branch name, e.g. ["master"]',
  }),
  /** Per app: plist text, template dirs, optional branches. */
  apps: required<ReleaseApp[]>({
    validate: (v) => (Array.isArray(v) ? undefined : "must be a list of apps"),
  }),
  /** IPFS RPC API the tree is added to and pinned on, e.g. http://127.0.0.1:5001. */
  ipfsApi: required<string>({ validate: httpUrl }),
  /** File name written into each app dir. Default `plist`. */
  plistFileName: optional<string>({ validate: fileName }),
  /** File at the repo root that holds the tree's IPFS hash. Default `.ipfs-hash`. */
  hashFileName: optional<string>({ validate: fileName }),
  /** The test gate, AppTest's outcome: `{ passed: appTest.passed, failures: appTest.failures }`. */
  tests: required<ReleaseGate>({
    fix: "set tests to the AppTest's outcome: { passed: appTest.passed, failures: appTest.failures }",
  }),
  /** First line of the commit message. Default `g8os build: plists for <app>@<buildId>, ...`. */
  message: optional<string>(),
};

/** The field declarations' type (types.ts derives TemplatesReleaseInputs from it). */
export type TemplatesReleaseFields = typeof fields;

/** Checks across fields and inside lists, after the field checks: branch names, the gate, apps. */
function releaseRules(raw: Record<string, unknown>): RuleFailure[] {
  const i = raw as Partial<TemplatesReleaseInputs>;
  const failures: RuleFailure[] = [];
  if (Array.isArray(i.branches) && !containsUnknown(i.branches)) {
    i.branches.forEach((b, k) => {
      const bad = branchName(b);
      if (bad) failures.push({ property: `branches[${k}]`, reason: bad });
    });
  }
  const gate = gateFailure(i.tests);
  if (gate)
    failures.push({
      property: "tests",
      reason: gate,
      fix: "make the failing apps pass (the AppTest's results name them), then run up again",
    });
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
          fix: `set ${p}.dirs to the app's template dirs, relative to the repo root, e.g. ["actortemplates/app_redis"]`,
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

/** The TemplatesRelease declaration: fields, type token build:TemplatesRelease (unchanged). */
export const templatesReleaseKit = declareResource({
  kind: KIND,
  module: "build",
  type: "TemplatesRelease",
  fields,
  outputs: ["fingerprint", "released"],
  rules: releaseRules,
});

/** `check` failures for TemplatesRelease inputs; unknown (preview) values are skipped. */
export function checkReleaseInputs(i: Partial<TemplatesReleaseInputs>): CheckFailure[] {
  return templatesReleaseKit.check(i).failures;
}
