/**
 * A plist for a container root holding the given programs with the libraries ldd lists (processes
 * run chrooted), optionally /proc (coreX mounts proc there), made by the product's walker with the
 * content brotli-compressed into IPFS. Used by the core0 and grid harness tests.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { IpfsClient } from "../../providers/ipfs/client";
import { buildPlistFromDirectory, serializePlist, storeBrotli } from "../../providers/plist";

/** Writes `<dir>/<name>.plist` for a root with `bins` (default /bin/sh, /bin/cat); returns its path. */
export async function rootPlist(
  dir: string,
  ipfsApi: string,
  withProc: boolean,
  bins: string[] = ["/bin/sh", "/bin/cat"],
  name = withProc ? "root" : "root-noproc",
): Promise<string> {
  const tree = path.join(dir, name);
  const copyIn = (abs: string): void => {
    const dst = path.join(tree, abs);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (!fs.existsSync(dst)) fs.copyFileSync(fs.realpathSync(abs), dst);
    fs.chmodSync(dst, fs.statSync(abs).mode & 0o7777);
  };
  for (const bin of bins) {
    copyIn(bin);
    for (const m of execFileSync("ldd", [bin], { encoding: "utf8" }).matchAll(/(\/\S+\.so[.\d]*)/g))
      copyIn(m[1]);
  }
  if (withProc) fs.mkdirSync(path.join(tree, "proc"));
  const ipfs = new IpfsClient(ipfsApi);
  const entries = await buildPlistFromDirectory(
    tree,
    async (abs) => (await storeBrotli(fs.createReadStream(abs), (c) => ipfs.addStream(c))).cid,
  );
  const file = `${tree}.plist`;
  fs.writeFileSync(file, serializePlist(entries));
  return file;
}
