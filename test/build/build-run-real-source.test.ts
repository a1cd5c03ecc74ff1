/**
 * Bad sources of a build run fail before anything is built, each with a clear error naming the
 * app, the field, the URL and what to check (issue 6: "unreachable source repository").
 * Only loopback is contacted: a port that was just closed, and a local path that is not a repo.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { resolveSourceCommit } from "../../workflows/app-build";
import type { AppSpec } from "../../workflows/app-tree";

function gitApp(git: string, ref = "master"): AppSpec {
  return {
    name: "remote-app",
    file: "/tree/remote-app.yaml",
    source: { git, ref },
    steps: [{ name: "compile", run: "make", timeoutSeconds: 60 }],
    outputs: [{ from: "a", to: "/a" }],
    processes: [],
    tests: [],
    resources: { memoryMb: 0, cpu: 0 },
    templates: ["apps/remote"],
    branches: ["master"],
  };
}

/** A loopback port nothing listens on: bound to port 0, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("build: unreachable or wrong source repositories", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-source-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("a repository nobody answers for: names app, source.git, the URL, the file and what to check", async () => {
    const url = `http://127.0.0.1:${await closedPort()}/gig/app.git`;
    await assert.rejects(resolveSourceCommit(gitApp(url)), (err: Error) => {
      assert.equal(err.name, "OperationError");
      assert.match(
        err.message,
        new RegExp(
          `^AppBuild "remote-app": resolving source.git ${url.replace(/[.]/g, "\\.")} \\(ref master\\) with git ls-remote failed: .*(refused|connect)`,
          "s",
        ),
      );
      assert.match(
        err.message,
        /Check: that source\.git in \/tree\/remote-app\.yaml is the right URL and the repository is reachable/,
      );
      return true;
    });
  });

  it("a path that is not a git repository fails the same way", async () => {
    const url = `file://${path.join(dir, "nothing-here.git")}`;
    await assert.rejects(
      resolveSourceCommit(gitApp(url)),
      /AppBuild "remote-app": resolving source\.git file:\/\/.*nothing-here\.git/,
    );
  });

  it("a reachable repository without the ref names source.ref and the fix", async () => {
    const repo = path.join(dir, "repo");
    fs.mkdirSync(repo);
    const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args], { stdio: "pipe" });
    git("init", "-q", "-b", "main");
    fs.writeFileSync(path.join(repo, "f"), "x\n");
    git("add", "f");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one");
    await assert.rejects(
      resolveSourceCommit(gitApp(`file://${repo}`, "release-9")),
      /AppBuild "remote-app": source\.ref: "release-9" is neither a branch nor a tag of file:\/\/.*\. Fix: push it, or set ref to an existing branch/,
    );
    assert.match(await resolveSourceCommit(gitApp(`file://${repo}`, "main")), /^[0-9a-f]{40}$/);
  });
});
