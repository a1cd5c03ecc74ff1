/**
 * TemplatesRelease: puts each app's plist into the AYS templates repo, per branch, and publishes
 * the repo tree on IPFS under one hash, once every app test passed.
 *
 * For each branch: shallow clone over SSH (deploy key, pinned host key), write `<dir>/plist` in
 * every directory the app lists for that branch, add the tree to IPFS and pin it, write the root
 * CID into `.ipfs-hash` at the repo root, commit as "g8os build robot" and push.
 *
 * Decisions:
 * - The hash covers "the tree except `.git` and the hash file itself": a file cannot hold the hash
 *   of a tree that contains it. So `.ipfs-hash` is left out when hashing, then written, then
 *   committed; `ipfs ls <hash>` shows every committed file except `.ipfs-hash`. Files are added
 *   without mode/mtime (CIDv1, raw leaves), so the same content always gives the same hash.
 * - Gate: `tests` (the AppTest outputs) must say passed. Otherwise check fails and create/update
 *   refuse before touching git or IPFS: nothing is pushed.
 * - An app dir that does not exist on a branch is an error naming app, dir and branch (a typo
 *   would otherwise create stray directories); give the app `branches` to limit where it goes.
 * - No-op when nothing changed: diff compares a fingerprint of what would be written (plists,
 *   dirs, branches, repo); and a branch whose tree is already identical gets no commit (no empty
 *   commits), its outputs are its current head.
 * - A push rejected because the branch moved meanwhile is retried from a fresh clone (3 attempts).
 * - read returns the recorded state (it does not query the remote); delete does nothing: released
 *   commits are history and stay in the repo.
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckFailure, errorMessage, InputError, resourceLabel } from "../shared/errors";
import { containsUnknown, plainOutputs } from "../shared/dynamic";
import { collectFailures, httpUrl, nonEmptyString } from "../shared/validate";
import { retry } from "../shared/retry";
import { trace } from "../shared/trace";
import { gitUrlHost, type GitSession, sshGitUrlProblem, withGitSsh } from "../git/client";

/** One app's plist and where it goes. */
export interface ReleaseApp {
  app: string;
  buildId: string;
  /** The plist text (AppBuild's `plist` output). */
  plist: string;
  /** Directories in the templates repo (relative to its root) that receive `<dir>/<plistFileName>`. */
  dirs: string[];
  /** Branches this app goes to. Default: every branch of the release. */
  branches?: string[];
}

/** What the release needs to know of the tests: AppTest's `passed` and `failures` outputs. */
export interface ReleaseGate {
  passed: boolean;
  failures: string[];
}

export interface TemplatesReleaseInputs {
  name: string;
  /** `ssh://[user@]host[:port]/path` of the templates repo. */
  repoUrl: string;
  /** Private key with push rights. Secret. */
  deployKey: string;
  /** known_hosts lines pinning the git server's host key. */
  knownHosts: string;
  branches: string[];
  apps: ReleaseApp[];
  tests: ReleaseGate;
  /** IPFS RPC API the tree is added to and pinned on, e.g. http://127.0.0.1:5001 */
  ipfsApi: string;
  /** File name written into each app dir. Default `plist`. */
  plistFileName?: string;
  /** File at the repo root that holds the tree's IPFS hash. Default `.ipfs-hash`. */
  hashFileName?: string;
  /** First line of the commit message. Default `g8os build: <app>@<buildId>, ...`. */
  message?: string;
}

export interface BranchRelease {
  branch: string;
  /** Head commit after the release (the new commit, or the old head when nothing changed). */
  commit: string;
  /** IPFS root CID of the branch's tree (without .git and the hash file). */
  rootCid: string;
  /** True when this release made a commit on the branch. */
  committed: boolean;
}

export interface TemplatesReleaseOutputs {
  name: string;
  repoUrl: string;
  fingerprint: string;
  /** One per branch, in the order of the `branches` input. */
  released: BranchRelease[];
}

const KIND = "TemplatesRelease";
export const ROBOT_NAME = "g8os build robot";
export const ROBOT_EMAIL = "build-robot@g8os.invalid";
const DEFAULT_PLIST_FILE = "plist";
const DEFAULT_HASH_FILE = ".ipfs-hash";

function label(i: { name?: unknown }): string {
  return resourceLabel(KIND, typeof i.name === "string" ? i.name : "?");
}

function sha256(text: string): string {
  const crypto = require("crypto") as typeof import("crypto");
  return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}

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

/**
 * Adds `dir` to IPFS without the top-level entries in `exclude`, pins the root, returns its CID.
 * kubo-rpc-client (required here so a serialized provider loads it from node_modules).
 */
export async function addTreeToIpfs(apiUrl: string, dir: string, exclude: string[]): Promise<string> {
  const { create, globSource } = require("kubo-rpc-client") as typeof import("kubo-rpc-client");
  const client = create({ url: apiUrl, timeout: 120_000 });
  const target = new URL(apiUrl).host;
  async function* entries() {
    for await (const e of globSource(dir, "**/*", { hidden: true })) {
      if (exclude.includes(e.path.split("/")[1])) continue;
      yield e;
    }
  }
  trace({ system: "ipfs", op: "add", write: true, target });
  let root: string | undefined;
  for await (const r of client.addAll(entries(), { wrapWithDirectory: true, cidVersion: 1, pin: false })) {
    if (r.path === "") root = r.cid.toString();
  }
  if (!root) throw new Error("IPFS returned no root for the tree (is the repo empty?)");
  trace({ system: "ipfs", op: "pin/add", write: true, target });
  await client.pin.add(root, { recursive: true });
  return root;
}

async function releaseBranch(
  s: GitSession,
  i: TemplatesReleaseInputs,
  branch: string,
  message: string,
): Promise<BranchRelease> {
  const fs = require("fs") as typeof import("fs");
  const path = require("path") as typeof import("path");
  const lbl = label(i);
  const host = gitUrlHost(i.repoUrl);
  const plistFile = i.plistFileName ?? DEFAULT_PLIST_FILE;
  const hashFile = i.hashFileName ?? DEFAULT_HASH_FILE;
  const dir = s.tempDir(branch.replace(/[^A-Za-z0-9]/g, "_"));
  await s.git(["clone", "-q", "--depth", "1", "--single-branch", "--branch", branch, i.repoUrl, dir], {
    step: `clone branch ${branch} of ${i.repoUrl}`,
    remote: { op: "clone", write: false, target: host },
  });
  i.apps.forEach((a, k) => {
    if (a.branches && !a.branches.includes(branch)) return;
    a.dirs.forEach((d, dk) => {
      const abs = path.join(dir, d);
      if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
        throw new InputError(
          lbl,
          `apps[${k}].dirs[${dk}]`,
          `app ${a.app}: directory ${d} does not exist on branch ${branch}`,
          `create it in the templates repo, correct the dir, or limit apps[${k}].branches`,
        );
      }
      fs.writeFileSync(path.join(abs, plistFile), a.plist);
    });
  });
  const rootCid = await addTreeToIpfs(i.ipfsApi, dir, [".git", hashFile]);
  fs.writeFileSync(path.join(dir, hashFile), rootCid + "\n");
  await s.git(["add", "-A"], { cwd: dir, step: `stage branch ${branch}` });
  const staged = await s.git(["diff", "--cached", "--quiet"], { cwd: dir, step: "diff", okCodes: [1] });
  let committed = false;
  if (staged.code === 1) {
    await s.git(
      ["-c", `user.name=${ROBOT_NAME}`, "-c", `user.email=${ROBOT_EMAIL}`, "commit", "-q", "-m", message],
      { cwd: dir, step: `commit on branch ${branch}` },
    );
    await s.git(["push", "-q", "origin", `HEAD:refs/heads/${branch}`], {
      cwd: dir,
      step: `push branch ${branch} to ${i.repoUrl}`,
      remote: { op: "push", write: true, target: host },
    });
    committed = true;
  }
  const commit = (await s.git(["rev-parse", "HEAD"], { cwd: dir, step: "rev-parse" })).stdout.trim();
  fs.rmSync(dir, { recursive: true, force: true });
  return { branch, commit, rootCid, committed };
}

function commitMessage(i: TemplatesReleaseInputs): string {
  if (i.message) return i.message;
  const apps = i.apps.map((a) => `${a.app}@${a.buildId}`).join(", ");
  return `g8os build: plists for ${apps}\n\nWritten by the g8os build run (${i.name}). ${
    i.hashFileName ?? DEFAULT_HASH_FILE
  } holds the IPFS hash of this tree without .git and without itself.`;
}

/** Runs the release on every branch; refuses when the tests did not all pass. */
export async function release(i: TemplatesReleaseInputs): Promise<TemplatesReleaseOutputs> {
  const gate = gateFailure(i.tests);
  if (gate)
    throw new InputError(
      label(i),
      "tests",
      gate.split(": nothing")[0],
      "fix the failing apps: nothing was pushed",
    );
  const message = commitMessage(i);
  const released = await withGitSsh(
    { deployKey: i.deployKey, knownHosts: i.knownHosts, label: label(i) },
    async (s) => {
      const out: BranchRelease[] = [];
      for (const b of i.branches) {
        out.push(
          await retry(() => releaseBranch(s, i, b, message), {
            attempts: 3,
            minDelayMs: 500,
            // Only a push that lost a race is worth another clone; bad inputs and auth are not.
            retryable: (err) =>
              /non-fast-forward|fetch first|rejected|Connection reset|timed out/.test(errorMessage(err)),
          }),
        );
      }
      return out;
    },
  );
  return plainOutputs({
    name: i.name,
    repoUrl: i.repoUrl,
    fingerprint: releaseFingerprint(i),
    released,
  } as unknown as Record<string, unknown>) as unknown as TemplatesReleaseOutputs;
}

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
