/**
 * TemplatesRelease against a real git server (bare repo over a testbed host's sshd, deploy key,
 * pinned host key) and a real offline js-ipfs daemon. Provider functions are called directly.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import {
  checkReleaseInputs,
  release,
  ROBOT_NAME,
  templatesReleaseProvider,
  type TemplatesReleaseInputs,
  type TemplatesReleaseOutputs,
} from "../../workflows/templates-release";
import { useTestbed } from "../testbed";
import { type GitServer, startGitServer } from "../testbed/git";
import { type IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";
import { ipfsCat, ipfsLs } from "./programs/fixtures";

const PASSED = { passed: true, failures: [] };

describe("build: TemplatesRelease (git server on g8t-h4, js-ipfs)", function () {
  this.timeout(300_000);
  const tb = useTestbed(this, { hosts: 4 });
  let git: GitServer;
  let ipfs: IpfsDaemon;
  let inputs: TemplatesReleaseInputs;
  let first: TemplatesReleaseOutputs;

  before(async () => {
    ipfs = await startIpfsDaemon();
    git = await startGitServer(tb(), {
      branches: {
        master: {
          "README.md": "templates\n",
          "apps/redis/actions.py": "# redis\n",
          "apps/web/actions.py": "# web\n",
        },
        develop: {
          "README.md": "templates (dev)\n",
          "apps/redis/actions.py": "# redis dev\n",
          "apps/web/actions.py": "# web dev\n",
          "apps/web-next/actions.py": "# web next\n",
          ".gitignore": "*.pyc\n",
        },
      },
    });
    inputs = {
      name: "templates",
      repoUrl: git.url,
      deployKey: git.deployKey,
      knownHosts: git.knownHosts,
      branches: ["master", "develop"],
      apps: [
        { app: "redis", buildId: "b1", plist: "# plist redis b1\n", dirs: ["apps/redis"] },
        { app: "web", buildId: "b1", plist: "# plist web b1\n", dirs: ["apps/web"] },
        {
          app: "web-next",
          buildId: "b1",
          plist: "# plist web-next b1\n",
          dirs: ["apps/web-next", "apps/web"],
          branches: ["develop"],
        },
      ],
      tests: PASSED,
      ipfsApi: ipfs.apiUrl,
    };
  });
  after(async () => {
    await git?.stop();
    await ipfs?.stop();
  });

  it("writes each plist into its dirs per branch, hashes the tree on IPFS, commits as the robot and pushes", async () => {
    const before = { master: await git.commitCount("master"), develop: await git.commitCount("develop") };
    first = await release(inputs);
    assert.deepEqual(
      first.released.map((b) => [b.branch, b.committed]),
      [
        ["master", true],
        ["develop", true],
      ],
    );
    for (const b of first.released) {
      assert.equal(await git.head(b.branch), b.commit, "the push reached the bare repo");
      assert.equal(await git.commitCount(b.branch), before[b.branch as "master" | "develop"] + 1);
      assert.equal(await git.read(b.branch, ".ipfs-hash"), b.rootCid + "\n");
      const author = await tb().exec(
        git.host.name,
        `git --git-dir=${git.repoPath} log -1 --format=%an ${b.branch}`,
      );
      assert.equal(author.stdout.trim(), ROBOT_NAME);
      // The hash resolves to the committed tree, except the hash file itself.
      const committed = (await git.files(b.branch)).filter((f) => f !== ".ipfs-hash").sort();
      const inIpfs: string[] = [];
      const walk = async (p: string): Promise<void> => {
        for (const e of await ipfsLs(ipfs.apiUrl, `/ipfs/${b.rootCid}${p}`)) {
          if (e.type === 1) await walk(`${p}/${e.name}`);
          else inIpfs.push(`${p}/${e.name}`.slice(1));
        }
      };
      await walk("");
      assert.deepEqual(inIpfs.sort(), committed);
      for (const f of committed) {
        assert.equal(
          (await ipfsCat(ipfs.apiUrl, `/ipfs/${b.rootCid}/${f}`)).toString(),
          await git.read(b.branch, f),
          `${b.branch}:${f} through IPFS`,
        );
      }
    }
    assert.equal(await git.read("master", "apps/redis/plist"), "# plist redis b1\n");
    assert.equal(await git.read("master", "apps/web/plist"), "# plist web b1\n");
    assert.equal(await git.read("master", "apps/web-next/plist"), undefined, "web-next is develop-only");
    assert.equal(await git.read("develop", "apps/web-next/plist"), "# plist web-next b1\n");
    // Two apps list apps/web on develop: the later one in the list wins, as documented by order.
    assert.equal(await git.read("develop", "apps/web/plist"), "# plist web-next b1\n");
    assert.equal(await git.read("develop", ".gitignore"), "*.pyc\n", "dotfiles other than .git are kept");
  });

  it("a second release with the same inputs is a no-op: no diff, and no empty commit", async () => {
    const d = await templatesReleaseProvider.diff!("id", first as never, inputs as never);
    assert.equal(d.changes, false);
    const again = await release(inputs);
    assert.deepEqual(
      again.released,
      first.released.map((b) => ({ ...b, committed: false })),
    );
    assert.equal(await git.head("master"), first.released[0].commit);
  });

  it("a new build of one app changes only that plist and the hash", async () => {
    const next = {
      ...inputs,
      apps: [{ ...inputs.apps[0], buildId: "b2", plist: "# plist redis b2\n" }, ...inputs.apps.slice(1)],
    };
    const d = await templatesReleaseProvider.diff!("id", first as never, next as never);
    assert.equal(d.changes, true);
    const r = await templatesReleaseProvider.update!("id", first as never, next as never);
    const outs = r.outs as TemplatesReleaseOutputs;
    for (const b of outs.released) {
      assert.equal(b.committed, true);
      assert.notEqual(b.rootCid, first.released.find((x) => x.branch === b.branch)?.rootCid);
      const changed = await tb().exec(
        git.host.name,
        `git --git-dir=${git.repoPath} diff --name-only ${b.branch}~1 ${b.branch}`,
      );
      assert.deepEqual(changed.stdout.trim().split("\n").sort(), [".ipfs-hash", "apps/redis/plist"]);
    }
    first = outs;
  });

  it("failed app tests: check fails on `tests` and the release pushes nothing", async () => {
    const failed = {
      ...inputs,
      apps: [
        { ...inputs.apps[0], buildId: "b3", plist: "# plist redis b3 (broken)\n" },
        ...inputs.apps.slice(1),
      ],
      tests: { passed: false, failures: ["redis/ping: exit code 1, expected 0"] },
    };
    const failures = checkReleaseInputs(failed);
    assert.deepEqual(
      failures.map((f) => f.property),
      ["tests"],
    );
    assert.match(failures[0].reason, /redis\/ping: exit code 1, expected 0.*nothing is released/);
    const heads = [await git.head("master"), await git.head("develop")];
    await assert.rejects(
      templatesReleaseProvider.create(failed as never),
      /TemplatesRelease "templates": tests: app tests did not all pass \(redis\/ping/,
    );
    assert.deepEqual([await git.head("master"), await git.head("develop")], heads, "nothing pushed");
  });

  it("an app dir missing on a branch, and an unpinned host key, fail naming the field and the fix", async () => {
    const heads = [await git.head("master"), await git.head("develop")];
    const typo = { ...inputs, apps: [{ ...inputs.apps[0], buildId: "b4", dirs: ["apps/rediss"] }] };
    await assert.rejects(
      release(typo),
      /apps\[0\]\.dirs\[0\]: app redis: directory apps\/rediss does not exist on branch master\. Fix: create it/,
    );
    const otherHostKey = fs.readFileSync(`${tb().host("g8t-h1").dir}/ssh/ssh_host_ed25519_key.pub`, "utf8");
    const wrongKey = {
      ...inputs,
      apps: [{ ...inputs.apps[0], buildId: "b5" }],
      knownHosts: `${git.host.address} ${otherHostKey.trim().split(/\s+/).slice(0, 2).join(" ")}`,
    };
    const err = await release(wrongKey).then(
      () => assert.fail("should fail"),
      (e: Error) => e,
    );
    assert.match(err.message, /clone branch master .* failed: git exit 128: .*Check: the server's host key/);
    assert.ok(!err.message.includes(git.deployKey.split("\n")[1]), "no key material in the error");
    assert.deepEqual([await git.head("master"), await git.head("develop")], heads, "nothing pushed");
  });
});
