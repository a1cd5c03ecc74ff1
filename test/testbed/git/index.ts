/**
 * A real git server for the templates repository: a bare repo under a testbed host's own /root
 * (default g8t-h4, 10.213.0.14), served by that host's sshd (git-upload-pack / git-receive-pack of
 * the machine), reached as `ssh://root@10.213.0.14/root/<name>.git` with a dedicated deploy key and
 * the host's pinned ED25519 host key.
 *
 * Started per suite (`startGitServer`), not as a testbed service: each suite gets a fresh repo with
 * a unique name and its own key, and `stop()` removes both (the bootstrap key and any other
 * authorized_keys lines are left as they were, and ufw is not touched).
 *
 *   const git = await startGitServer(tb(), { branches: { master: { "apps/redis/README": "redis\n" } } });
 *   // git.url, git.deployKey (private), git.knownHosts; git.read(branch, path), git.head(branch)
 *   await git.stop();
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { withGitSsh } from "../../../providers/git/client";
import type { Testbed, TestHost } from "../types";

export interface GitServerOptions {
  /** Testbed host serving the repo. Default g8t-h4 (h1..h3 are reset by the build-host suites). */
  host?: string;
  /** Repo name: `/root/<name>.git`. Default `templates-<pid>-<random>`. */
  name?: string;
  /** Initial content per branch: path -> text. The first branch is the default branch (HEAD). */
  branches: Record<string, Record<string, string>>;
}

export interface GitServer {
  host: TestHost;
  url: string;
  /** Bare repo path on the host. */
  repoPath: string;
  /** OpenSSH private key authorised for root on the host (the deploy key). */
  deployKey: string;
  deployPublicKey: string;
  /** known_hosts line pinning the host's ED25519 key. */
  knownHosts: string;
  /** Commit sha of `branch` in the bare repo, read on the host (not over git). */
  head(branch: string): Promise<string>;
  /** Content of `file` at the tip of `branch` in the bare repo, or undefined if absent. */
  read(branch: string, file: string): Promise<string | undefined>;
  /** Paths of every file at the tip of `branch`. */
  files(branch: string): Promise<string[]>;
  /** Number of commits on `branch`. */
  commitCount(branch: string): Promise<number>;
  /** Clones `branch` over SSH into a new local dir (caller removes it). */
  clone(branch: string): Promise<string>;
  stop(): Promise<void>;
}

function q(s: string): string {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

export async function startGitServer(tb: Testbed, opts: GitServerOptions): Promise<GitServer> {
  const host = tb.host(opts.host ?? "g8t-h4");
  const name = opts.name ?? `templates-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const repoPath = `/root/${name}.git`;
  const url = `ssh://root@${host.address}/root/${name}.git`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-gitserver-"));
  const keyFile = path.join(work, "deploy");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `g8os-deploy-${name}`, "-f", keyFile]);
  const deployKey = fs.readFileSync(keyFile, "utf8");
  const deployPublicKey = fs.readFileSync(`${keyFile}.pub`, "utf8").trim();
  const hostPub = fs.readFileSync(path.join(host.dir, "ssh", "ssh_host_ed25519_key.pub"), "utf8");
  const knownHosts = `${host.address} ${hostPub.trim().split(/\s+/).slice(0, 2).join(" ")}`;

  const exec = async (cmd: string, stdin?: string): Promise<string> => {
    const r = await tb.exec(host.name, cmd, { stdin, timeoutMs: 60_000 });
    if (r.code !== 0)
      throw new Error(`git server on ${host.name}: ${cmd}: exit ${r.code}: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const branchNames = Object.keys(opts.branches);
  await exec(
    `mkdir -p /root/.ssh && chmod 700 /root/.ssh && cat >> /root/.ssh/authorized_keys && ` +
      `rm -rf ${q(repoPath)} && git init -q --bare -b ${q(branchNames[0])} ${q(repoPath)}`,
    deployPublicKey + "\n",
  );

  // Seed the branches from a local repo, pushed over SSH: this also proves the server works.
  const seed = path.join(work, "seed");
  const g = (...args: string[]): string =>
    execFileSync("git", args, {
      cwd: seed,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "seed",
        GIT_AUTHOR_EMAIL: "seed@test",
        GIT_COMMITTER_NAME: "seed",
        GIT_COMMITTER_EMAIL: "seed@test",
      },
    }).toString();
  fs.mkdirSync(seed);
  g("init", "-q", "-b", branchNames[0]);
  for (const [k, branch] of branchNames.entries()) {
    if (k > 0) g("checkout", "-q", "--orphan", branch);
    g("rm", "-rqf", "--ignore-unmatch", ".");
    for (const [file, text] of Object.entries(opts.branches[branch])) {
      fs.mkdirSync(path.dirname(path.join(seed, file)), { recursive: true });
      fs.writeFileSync(path.join(seed, file), text);
    }
    g("add", "-A");
    g("commit", "-q", "-m", `seed ${branch}`);
  }
  await withGitSsh({ deployKey, knownHosts, label: "git server seed" }, (s) =>
    s.git(["push", "-q", url, ...branchNames.map((b) => `${b}:refs/heads/${b}`)], {
      cwd: seed,
      step: "seed push",
    }),
  );

  const gitOnHost = (args: string): Promise<string> => exec(`git --git-dir=${q(repoPath)} ${args}`);
  return {
    host,
    url,
    repoPath,
    deployKey,
    deployPublicKey,
    knownHosts,
    head: async (branch) => (await gitOnHost(`rev-parse ${q(`refs/heads/${branch}`)}`)).trim(),
    read: async (branch, file) => {
      const r = await tb.exec(host.name, `git --git-dir=${q(repoPath)} show ${q(`${branch}:${file}`)}`);
      return r.code === 0 ? r.stdout : undefined;
    },
    files: async (branch) =>
      (await gitOnHost(`ls-tree -r --name-only ${q(`refs/heads/${branch}`)}`)).split("\n").filter(Boolean),
    commitCount: async (branch) =>
      Number((await gitOnHost(`rev-list --count ${q(`refs/heads/${branch}`)}`)).trim()),
    clone: async (branch) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-gitclone-"));
      await withGitSsh({ deployKey, knownHosts, label: "git server clone" }, (s) =>
        s.git(["clone", "-q", "--branch", branch, url, dir], { step: `clone ${branch}` }),
      );
      return dir;
    },
    async stop() {
      const body = deployPublicKey.split(/\s+/)[1];
      // Rewritten in place (not renamed): other suites may hold the file; the bootstrap key stays.
      await tb.exec(
        host.name,
        `rm -rf ${q(repoPath)}; f=/root/.ssh/authorized_keys; grep -vF ${q(body)} "$f" > "$f.g8os-git" ; cat "$f.g8os-git" > "$f"; rm -f "$f.g8os-git"`,
      );
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}
