/**
 * What Go's os/exec (go1.7) decides before a process runs, so spawn failures carry Go's text:
 * - a name without "/" is looked up in the PATH of core0's (or coreX's) own environment, not the
 *   command's `env`: `exec: "<name>": executable file not found in $PATH`;
 * - a `dir` that does not exist: `chdir <dir>: no such file or directory` (os.StartProcess checks it);
 * - execve failures: `fork/exec <path>: no such file or directory | permission denied |
 *   exec format error` (a script without `#!`, a missing `#!` interpreter or ELF loader).
 * All paths resolve inside `root` (the container root, or "/" on the node), symlinks included,
 * as they would after chroot.
 */
import * as fs from "fs";
import * as path from "path";

/** Host path of `p` (absolute, or relative to `cwd`) seen from inside `root`; undefined if missing. */
export function resolveInRoot(root: string, p: string, cwd = "/"): string | undefined {
  let parts = (path.posix.isAbsolute(p) ? p : path.posix.join(cwd, p)).split("/").filter(Boolean);
  const done: string[] = [];
  for (let hops = 0; parts.length;) {
    const part = parts.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      const target = fs.readlinkSync(host);
      if (path.posix.isAbsolute(target)) done.length = 0;
      parts = [...target.split("/").filter(Boolean), ...parts];
      continue;
    }
    done.push(part);
  }
  return path.join(root, ...done);
}

function isExecutableFile(host: string | undefined): boolean {
  if (!host) return false;
  try {
    const st = fs.statSync(host);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** exec.LookPath with `pathEnv`, inside root. Returns the path as Go would (dir joined with name). */
export function lookPath(root: string, name: string, pathEnv: string, cwd: string): string {
  if (name.includes("/")) return name;
  for (const dir of pathEnv.split(":")) {
    const candidate = path.posix.join(dir === "" ? "." : dir, name);
    if (isExecutableFile(resolveInRoot(root, candidate, cwd))) return candidate;
  }
  throw new Error(`exec: ${JSON.stringify(name)}: executable file not found in $PATH`);
}

/** The PT_INTERP of an ELF file, or undefined (static binary, not ELF, unreadable). */
function elfInterp(head: Buffer, fd: number): string | undefined {
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const uN = (b: Buffer, o: number): number =>
    is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o);
  const phoff = uN(head, is64 ? 32 : 28);
  const phentsize = u16(head, is64 ? 54 : 42);
  const phnum = u16(head, is64 ? 56 : 44);
  const ph = Buffer.alloc(phentsize * phnum);
  fs.readSync(fd, ph, 0, ph.length, phoff);
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    if (u32(ph, o) !== 3) continue; // PT_INTERP
    const off = uN(ph, o + (is64 ? 8 : 4));
    const size = uN(ph, o + (is64 ? 32 : 16));
    const s = Buffer.alloc(size);
    fs.readSync(fd, s, 0, size, off);
    return s.toString("utf8").replace(/\0.*$/s, "");
  }
  return undefined;
}

/** The execve outcome for `p`: undefined when it would start, else Go's `fork/exec` error. */
export function execCheck(root: string, p: string, cwd: string, shown = p): string | undefined {
  const fail = (why: string): string => `fork/exec ${shown}: ${why}`;
  const host = resolveInRoot(root, p, cwd);
  if (!host) return fail("no such file or directory");
  if (!isExecutableFile(host)) return fail("permission denied");
  const fd = fs.openSync(host, "r");
  try {
    const head = Buffer.alloc(256);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) {
      const interp = head.subarray(2, n).toString("utf8").split("\n")[0].trim().split(/\s+/)[0] ?? "";
      const ih = interp ? resolveInRoot(root, interp, "/") : undefined;
      if (!ih) return fail("no such file or directory");
      if (!isExecutableFile(ih)) return fail("permission denied");
      return undefined;
    }
    if (n >= 52 && head.readUInt32BE(0) === 0x7f454c46) {
      const interp = elfInterp(head, fd);
      if (interp && !resolveInRoot(root, interp, "/")) return fail("no such file or directory");
      return undefined;
    }
    return fail("exec format error");
  } finally {
    fs.closeSync(fd);
  }
}

/** os.StartProcess's directory check (relative dirs are taken from "/", core0's own cwd). */
export function dirCheck(root: string, dir: string): string | undefined {
  if (!dir) return undefined;
  const host = resolveInRoot(root, dir, "/");
  if (!host) return `chdir ${dir}: no such file or directory`;
  if (!fs.statSync(host).isDirectory()) return `chdir ${dir}: not a directory`;
  return undefined;
}
