/**
 * NO LONGER USED BY THE EMULATOR: containers now run really chrooted (unshare --root, see node.ts).
 * Kept only because test/build/build-run-real-emulator.test.ts (outside this folder) imports it.
 *
 * Path lookup inside an emulated container: an approximation of core0's chroot.
 *
 * core0 runs a container's processes chrooted into the container root, so `/usr/bin/hello` from a
 * plist is the file the plist put there. The emulator runs them as ordinary host processes with
 * cwd = the container root (no chroot: the apps under test still find the host's `sh`, libc and
 * tools, which a plist-only root lacks). To make absolute paths behave as in the chroot anyway:
 * - the program: an absolute name `/x/y` that exists inside the root runs as `<root>/x/y`;
 * - arguments: an absolute argument that exists inside the root becomes `<root>/x/y`
 *   (`sh /usr/bin/app`), and so do such path words inside the script of `sh|bash|dash -c <script>`;
 * - PATH is the root's `usr/local/bin`, `usr/bin` and `bin` first, then the host PATH (or the
 *   process's own PATH, each entry mapped the same way); HOME is the root.
 * Paths that do not exist inside the root stay host paths (`/dev/null`, `/tmp/new-file`): unlike a
 * chroot, a process can still see and write the host filesystem, and `pwd` prints the host path.
 */
import * as fs from "fs";
import * as path from "path";

const SHELLS = ["sh", "bash", "dash"];
/** An absolute path word in a shell script: after start, blank, operator or quote. */
const SCRIPT_PATH_RE = /(^|[\s;&|()<>=`"'])(\/[A-Za-z0-9._+/-]*[A-Za-z0-9._+-])/g;

/** `<root>/p` when `p` is absolute and exists inside the root (without leaving it), else `p`. */
export function inContainerRoot(root: string, p: string): string {
  if (!p.startsWith("/") || p === "/") return p;
  const mapped = path.join(root, p);
  if (!mapped.startsWith(root + path.sep)) return p;
  return fs.existsSync(mapped) ? mapped : p;
}

/** Rewrites the absolute path words of a shell script that exist inside the root. */
export function mapScriptPaths(root: string, script: string): string {
  return script.replace(SCRIPT_PATH_RE, (_, before: string, p: string) => before + inContainerRoot(root, p));
}

/** Program and arguments as the emulator spawns them for a process in the container at `root`. */
export function containerCommand(
  root: string,
  name: string,
  args: string[],
): { name: string; args: string[] } {
  const shell = SHELLS.includes(path.basename(name));
  return {
    name: inContainerRoot(root, name),
    args: args.map((a, i) =>
      shell && i > 0 && args[i - 1] === "-c" ? mapScriptPaths(root, a) : inContainerRoot(root, a),
    ),
  };
}

/** Environment of a process in the container at `root`: PATH through the root first, HOME = root. */
export function containerEnv(
  root: string,
  hostPath: string,
  env: Record<string, string>,
): Record<string, string> {
  const own = env.PATH;
  const rootBins = ["usr/local/bin", "usr/bin", "bin"].map((d) => path.join(root, d));
  const pathValue = own
    ? [...own.split(":").map((d) => inContainerRoot(root, d)), hostPath].join(":")
    : [...rootBins, hostPath].join(":");
  return { HOME: root, ...env, PATH: pathValue };
}
