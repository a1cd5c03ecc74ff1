/**
 * The templates release, Pulumi-free (the TemplatesRelease resource, resource.ts, runs it): puts
 * each app's plist into the AYS templates repo, per branch, and publishes the repo tree on IPFS
 * under one hash, once every app test passed.
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
 * - A branch whose tree is already identical gets no commit (no empty commits); its outputs are
 *   its current head.
 * - A push rejected because the branch moved meanwhile is retried from a fresh clone (3 attempts).
 */
import { errorMessage, InputError, OperationError } from "../../providers/shared/errors";
import { plainOutputs } from "../../providers/shared/dynamic";
import { retry } from "../../providers/shared/retry";
import { trace } from "../../providers/shared/trace";
import { gitUrlHost, type GitSession, withGitSsh } from "../../providers/git/client";
import { gateFailure, releaseFingerprint } from "./check";
import {
  type BranchRelease,
  DEFAULT_HASH_FILE,
  DEFAULT_PLIST_FILE,
  KIND,
  label,
  ROBOT_EMAIL,
  ROBOT_NAME,
  type TemplatesReleaseInputs,
  type TemplatesReleaseOutputs,
} from "./types";

/**
 * Adds `dir` to IPFS without the top-level entries in `exclude`, pins the root, returns its CID.
 * kubo-rpc-client (required here so a serialized provider loads it from node_modules).
 */
export async function addTreeToIpfs(
  apiUrl: string,
  dir: string,
  exclude: string[],
  /** Resource label for errors. */
  where: string = KIND,
): Promise<string> {
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
  if (!root)
    throw new OperationError(
      where,
      `add the tree ${dir} to IPFS at ${target}`,
      "IPFS returned no root for the tree",
      "that the branch holds files besides .git and the hash file (an empty repo has no tree to hash)",
    );
  trace({ system: "ipfs", op: "pin/add", write: true, target });
  await client.pin.add(root, { recursive: true });
  return root;
}

/** Releases one branch: clone, write the plists, hash the tree, commit and push when it changed. */
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
  const rootCid = await addTreeToIpfs(i.ipfsApi, dir, [".git", hashFile], lbl);
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

/** The commit message: `message`, or one naming every app@buildId. */
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
