/**
 * The core0 emulator's chroot approximation (test/testbed/core0-emulator/chroot-paths.ts), which the
 * real build-run e2e relies on: plists put programs at absolute paths (/usr/bin/hello) that only
 * exist inside the container root.
 * - pure mapping of program, arguments, `sh -c` scripts and PATH;
 * - through a real emulator (loopback redis + offline js-ipfs, no testbed host): a plist's program
 *   runs by its absolute path, by PATH lookup, and as a script argument of the host's sh.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Core0Client } from "../../providers/core0/client";
import { FILETYPE_FILE, serializePlist } from "../../providers/plist";
import { type Core0Emulator, startCore0Emulator } from "../testbed/core0-emulator";
import {
  containerCommand,
  containerEnv,
  inContainerRoot,
  mapScriptPaths,
} from "../testbed/core0-emulator/chroot-paths";
import { ipfsAdd, type IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";

describe("build: core0 emulator runs container programs as if chrooted", function () {
  this.timeout(120_000);

  describe("path mapping", () => {
    let root: string;
    before(() => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-chroot-paths-"));
      fs.mkdirSync(path.join(root, "usr", "bin"), { recursive: true });
      fs.writeFileSync(path.join(root, "usr", "bin", "hello"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it("maps absolute paths that exist in the root, keeps the others", () => {
      assert.equal(inContainerRoot(root, "/usr/bin/hello"), path.join(root, "usr/bin/hello"));
      assert.equal(inContainerRoot(root, "/bin/sh"), "/bin/sh", "not in the root: the host's");
      assert.equal(inContainerRoot(root, "hello"), "hello", "relative: left to PATH / cwd");
      assert.equal(inContainerRoot(root, "/"), "/");
      assert.equal(inContainerRoot(root, "/../../etc/passwd"), "/../../etc/passwd", "never leaves the root");
    });

    it("maps the program, its path arguments and the path words of a sh -c script", () => {
      const bin = path.join(root, "usr/bin/hello");
      assert.deepEqual(containerCommand(root, "/usr/bin/hello", ["--count", "/usr/bin/hello"]), {
        name: bin,
        args: ["--count", bin],
      });
      assert.deepEqual(
        containerCommand(root, "sh", ["-c", "/usr/bin/hello > out.txt 2>/dev/null; x=/usr/bin/hello"]),
        { name: "sh", args: ["-c", `${bin} > out.txt 2>/dev/null; x=${bin}`] },
      );
      assert.equal(mapScriptPaths(root, "'/usr/bin/hello' \"/usr/bin/hello\""), `'${bin}' "${bin}"`);
      assert.equal(mapScriptPaths(root, "/usr/bin/hellox /usr/bin"), `/usr/bin/hellox ${root}/usr/bin`);
    });

    it("puts the root's bin dirs first on PATH, then the host's; HOME is the root", () => {
      const env = containerEnv(root, "/usr/bin:/bin", { MODE: "test" });
      assert.deepEqual(env, {
        HOME: root,
        MODE: "test",
        PATH: ["usr/local/bin", "usr/bin", "bin"].map((d) => path.join(root, d)).join(":") + ":/usr/bin:/bin",
      });
      assert.equal(
        containerEnv(root, "/host", { PATH: "/usr/bin:/opt/x" }).PATH,
        `${path.join(root, "usr/bin")}:/opt/x:/host`,
        "a process's own PATH is mapped the same way",
      );
    });
  });

  describe("through a running emulator", () => {
    const password = "chroot-paths-" + process.pid;
    let ipfs: IpfsDaemon;
    let node: Core0Emulator;
    let client: Core0Client;
    let plistFile: string;
    before(async () => {
      ipfs = await startIpfsDaemon();
      node = await startCore0Emulator({ password, ipfsApi: ipfs.apiUrl });
      client = new Core0Client({ host: node.address, port: node.port, password });
      const script = '#!/bin/sh\necho "greeter $1 from $(cat "$(dirname "$0")/../etc/msg")"\n';
      const now = Math.floor(Date.now() / 1000);
      const entry = (p: string, body: string, mode: number) => ({
        path: p,
        size: Buffer.byteLength(body),
        uname: "root",
        gname: "root",
        mode,
        type: FILETYPE_FILE,
        ctime: now,
        mtime: now,
        extended: "",
      });
      const entries = [
        { ...entry("/usr/bin/greet", script, 0o755), hash: await ipfsAdd(ipfs.apiUrl, script) },
        { ...entry("/usr/etc/msg", "the root\n", 0o644), hash: await ipfsAdd(ipfs.apiUrl, "the root\n") },
      ];
      plistFile = path.join(node.dir, "greet.plist");
      fs.writeFileSync(plistFile, serializePlist(entries));
    });
    after(async () => {
      await client?.close();
      await node?.stop();
      await ipfs?.stop();
    });

    it("a plist's program runs by absolute path, by PATH and as an argument of the host's sh", async () => {
      const id = await client.corex.create({ root: `file://${plistFile}` }, ["chroot-paths"]);
      try {
        const run = async (name: string, args: string[]): Promise<string> => {
          const r = await client.corex.dispatchAndWait(id, {
            command: "core.system",
            arguments: { name, args, env: {} },
          });
          assert.equal(r.state, "SUCCESS", JSON.stringify(r));
          return (r.streams as string[])[0];
        };
        assert.equal(await run("/usr/bin/greet", ["abs"]), "greeter abs from the root\n");
        assert.equal(await run("greet", ["path"]), "greeter path from the root\n");
        assert.equal(await run("/bin/sh", ["/usr/bin/greet", "arg"]), "greeter arg from the root\n");
        assert.equal(
          await run("sh", ["-c", "/usr/bin/greet script && greet again"]),
          ["greeter script from the root", "greeter again from the root", ""].join("\n"),
        );
      } finally {
        await client.corex.terminate(id);
      }
      assert.equal(node.containerCount(), 0);
    });
  });
});
