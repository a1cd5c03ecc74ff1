/**
 * The core0 v0.9.0 "plist": the text manifest a container root is built from, one entry a line:
 * `filepath|hash|filesize|uname|gname|permissions|filetype|ctime|mtime|extended`.
 *
 * Written so that the real reader accepts it: `meta.ParseLine` / `memMetaStore.Populate` in the
 * vendored `github.com/g8os/fs` of threefoldtech/0-core @v0.9.0 (`meta/meta.go`, `meta/mem.go`):
 * - every line has at least 10 `|` fields; a blank line is an error; there are no comments or
 *   headers (a `#` line is just a malformed entry). Fields after the 10th are ignored by the reader,
 *   so this writer puts nothing there: anything extra belongs in `extended` (field 10).
 * - filetype (the reader's own numbering): 1 = symlink, 2 = regular file, 4 = directory.
 *   A symlink's target is the `extended` field: the reader's `Readlink` returns it as is
 *   (`files/filesystem.go`). Directories may be listed whether empty or not (`mkall` keeps the
 *   children); see docs/core0-plist.md for when their modes are actually seen.
 * - permissions: octal mode bits incl. setuid/setgid/sticky (`strconv.ParseInt(.., 8)`, applied
 *   with `chmod` after download); ctime/mtime: epoch seconds; uname/gname: names the node looks up
 *   (an unknown name becomes uid/gid 0).
 * - file content is stored brotli-compressed: the reader decompresses what it fetches by `hash`
 *   (`files/filesystem.go` `download`), so `hash` is the IPFS hash of the compressed bytes and
 *   `filesize` the uncompressed size. `storeBrotli` does that, streamed.
 *
 * Plain module: no Pulumi imports (build providers and tests use it).
 */
import { InputError } from "../shared/errors";

export const FILETYPE_SYMLINK = 1;
export const FILETYPE_FILE = 2;
export const FILETYPE_DIR = 4;

export interface PlistEntry {
  /** Path inside the container root, `/`-separated, with a leading `/`; no `|`, CR or LF. */
  path: string;
  /** IPFS hash of the brotli-compressed content for files; empty for directories and symlinks. */
  hash: string;
  /** Uncompressed size in bytes (files); 0 for directories and symlinks. */
  size: number;
  /** Owner user name, looked up on the node (unknown = uid 0). */
  uname: string;
  /** Owner group name, looked up on the node (unknown = gid 0). */
  gname: string;
  /** Mode bits incl. setuid/setgid/sticky (0..0o7777), e.g. 0o4755. */
  mode: number;
  /** FILETYPE_FILE, FILETYPE_DIR or FILETYPE_SYMLINK. */
  type: number;
  /** Epoch seconds. */
  ctime: number;
  /** Epoch seconds. */
  mtime: number;
  /** Field 10: the symlink target for type 1; empty otherwise (no `|`, CR or LF). */
  extended: string;
}

/** A malformed plist line: `line` is 1-based; the message names the source, the line and the fix. */
export class PlistParseError extends InputError {
  constructor(
    readonly line: number,
    problem: string,
    readonly source?: string,
  ) {
    super(
      `plist${source ? ` ${source}` : ""}`,
      `line ${line}`,
      problem,
      "write one entry a line as filepath|hash|filesize|uname|gname|permissions|filetype|ctime|mtime|extended, " +
        "with no blank, comment or header lines (core0 v0.9.0 refuses them)",
    );
    this.name = "PlistParseError";
  }
}

const FIELDS = 10;
const KNOWN_TYPES: readonly number[] = [FILETYPE_SYMLINK, FILETYPE_FILE, FILETYPE_DIR];

function parseLine(text: string, lineNo: number, source?: string): PlistEntry {
  const fail = (problem: string): never => {
    throw new PlistParseError(lineNo, problem, source);
  };
  if (text === "") fail("is blank (core0 v0.9.0 answers `Cannot parse empty lines`)");
  const f = text.split("|");
  if (f.length < FIELDS) {
    fail(
      `has ${f.length} fields, at least ${FIELDS} expected ` +
        "(filepath|hash|filesize|uname|gname|permissions|filetype|ctime|mtime|extended)",
    );
  }
  // Like the real reader, fields after the 10th are not part of the entry.
  const [path, hash, size, uname, gname, perms, type, ctime, mtime, extended] = f;
  if (!path.startsWith("/")) fail(`filepath "${path}" must start with "/"`);
  if (path.split("/").some((seg) => seg === ".." || seg === "."))
    fail(`filepath "${path}" must not contain "." or ".." segments`);
  const int = (name: string, v: string): number => {
    if (!/^\d+$/.test(v)) fail(`${name} "${v}" must be a whole number`);
    return Number(v);
  };
  const fileType = int("filetype", type);
  if (!KNOWN_TYPES.includes(fileType))
    fail(`filetype ${fileType} is not 1 (symlink), 2 (file) or 4 (directory)`);
  if (!/^[0-7]{1,5}$/.test(perms) || parseInt(perms, 8) > 0o7777)
    fail(`permissions "${perms}" must be octal mode bits like 644, 755 or 4755`);
  if (fileType === FILETYPE_FILE && hash === "") fail(`file "${path}" has no hash`);
  if (fileType === FILETYPE_SYMLINK && extended === "") fail(`symlink "${path}" has no target in extended`);
  return {
    path,
    hash,
    size: int("filesize", size),
    uname,
    gname,
    mode: parseInt(perms, 8),
    type: fileType,
    ctime: int("ctime", ctime),
    mtime: int("mtime", mtime),
    extended,
  };
}

/**
 * Parses plist text as strictly as core0 v0.9.0 reads it: a blank line or a comment is an error
 * (one final newline is fine, as Go's line scanner yields no empty last line; a CR before LF is
 * dropped like the scanner does). Also refused, because a container root cannot hold them: a path
 * listed twice, relative paths, `.`/`..` segments, filetypes other than 1/2/4. Throws
 * PlistParseError naming the line.
 */
export function parsePlist(text: string, source?: string): PlistEntry[] {
  const out: PlistEntry[] = [];
  const seen: Record<string, number> = {};
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const e = parseLine(lines[i].replace(/\r$/, ""), i + 1, source);
    const first = seen[e.path];
    if (first !== undefined) {
      throw new PlistParseError(i + 1, `filepath "${e.path}" is already listed on line ${first}`, source);
    }
    seen[e.path] = i + 1;
    out.push(e);
  }
  return out;
}

/** Why `value` cannot be a plist field, or undefined when it can. */
function fieldProblem(value: string): string | undefined {
  if (value.includes("|")) return 'contains "|", the field separator';
  if (/[\r\n]/.test(value)) return "contains a line break";
  return undefined;
}

function checkSerializable(e: PlistEntry): void {
  for (const k of ["path", "hash", "uname", "gname", "extended"] as const) {
    const problem = fieldProblem(e[k]);
    if (problem) {
      throw new InputError(
        `plist entry "${e.path}"`,
        k,
        `${problem}, which a core0 v0.9.0 plist cannot hold`,
        k === "path" || k === "extended"
          ? "rename the file (or the symlink target) so that it has no | or line break"
          : `give ${k} a value without | or line breaks`,
      );
    }
  }
  if (!e.path.startsWith("/")) {
    throw new InputError(
      `plist entry "${e.path}"`,
      "path",
      'must start with "/"',
      "use a root-relative path",
    );
  }
  if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) {
    throw new InputError(
      `plist entry "${e.path}"`,
      "mode",
      "must be mode bits 0..0o7777",
      "mask with 0o7777",
    );
  }
}

/** Writes entries as plist text: one line each, exactly 10 fields, no header, trailing newline. */
export function serializePlist(entries: readonly PlistEntry[]): string {
  const lines = entries.map((e) => {
    checkSerializable(e);
    return [
      e.path,
      e.hash,
      e.size,
      e.uname,
      e.gname,
      e.mode.toString(8),
      e.type,
      e.ctime,
      e.mtime,
      e.extended,
    ].join("|");
  });
  return lines.length ? lines.join("\n") + "\n" : "";
}

/**
 * Entries every container root needs on a core0 v0.9.0 node: coreX, the container's first
 * process, mounts proc on `/proc` (`coreX/bootstrap/bootstrap.go`) and exits when the root has no
 * such directory. Returns the entries `entries` lacks (so far only `/proc`, mode 0555, root).
 */
export function coreXRequiredEntries(entries: readonly PlistEntry[], time: number): PlistEntry[] {
  if (entries.some((e) => e.path === "/proc" || e.path.startsWith("/proc/"))) return [];
  return [
    {
      path: "/proc",
      hash: "",
      size: 0,
      uname: "root",
      gname: "root",
      mode: 0o555,
      type: FILETYPE_DIR,
      ctime: time,
      mtime: time,
      extended: "",
    },
  ];
}

/** Adds one byte stream to a store (e.g. `IpfsClient.addStream`) and returns its hash. */
export type StreamAdder = (source: import("stream").Readable) => Promise<{ cid: string }>;

/** What `storeBrotli` stored. */
export interface StoredContent {
  /** Hash of the compressed bytes: the plist `hash`. */
  cid: string;
  /** Uncompressed bytes read from the source: the plist `filesize`. */
  size: number;
  /** Compressed bytes handed to the store. */
  storedBytes: number;
}

/**
 * Streams `source` through Node's brotli compressor (`zlib.createBrotliCompress`) into `add`:
 * nothing is buffered beyond the streams' own chunks (backpressure), so memory stays flat whatever
 * the file size.
 */
export async function storeBrotli(
  source: import("stream").Readable,
  add: StreamAdder,
  opts: {
    /**
     * Brotli quality 0..11. Default 5: far faster than 11 (the `brotli` CLI default that
     * core0/tools/plist.py used) at a slightly larger size; the reader decodes any quality.
     */
    quality?: number;
  } = {},
): Promise<StoredContent> {
  const zlib = require("zlib") as typeof import("zlib");
  const { PassThrough, Transform } = require("stream") as typeof import("stream");
  let size = 0;
  let storedBytes = 0;
  const countIn = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const countOut = new PassThrough();
  countOut.on("data", (c: Buffer) => (storedBytes += c.length));
  const brotli = zlib.createBrotliCompress({
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: opts.quality ?? 5 },
  });
  // Errors of any stage end the chain, so `add` sees the source fail instead of waiting forever.
  const fail = (err: Error): void => {
    countOut.destroy(err);
  };
  source.once("error", fail);
  countIn.once("error", fail);
  brotli.once("error", fail);
  source.pipe(countIn).pipe(brotli).pipe(countOut);
  const { cid } = await add(countOut);
  return { cid, size, storedBytes };
}

/** Hashes one regular file's content for the plist (e.g. `storeBrotli` into IPFS). */
export type FileHasher = (absolutePath: string, relativePath: string) => Promise<string>;

export interface BuildOptions {
  /**
   * Owner user name for every entry. Default: the name of each file's uid in `passwdFile`, or the
   * uid as digits when it has no name there.
   */
  uname?: string;
  /** Owner group name for every entry. Default: from `groupFile`, like `uname`. */
  gname?: string;
  /** passwd file for uid -> name. Default `/etc/passwd` of the machine building the plist. */
  passwdFile?: string;
  /** group file for gid -> name. Default `/etc/group`. */
  groupFile?: string;
  /** Files hashed at once. Default 8. */
  concurrency?: number;
}

/** id -> name from a passwd/group style file (`name:x:id:...`); empty when it cannot be read. */
function idNames(file: string): Record<string, string> {
  const fs = require("fs") as typeof import("fs");
  const out: Record<string, string> = {};
  let text = "";
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (name && id && /^\d+$/.test(id) && !(id in out)) out[id] = name;
  }
  return out;
}

/**
 * Walks `dir` and returns plist entries, sorted by path (so a directory precedes its children):
 * every directory below the root (empty or not) with its mode, regular files (hashed with `hash`),
 * and symlinks as symlinks (to files or directories alike; not followed). Owners are real names,
 * setuid/setgid/sticky bits are kept. Refuses (InputError) names the format cannot hold (`|`, CR,
 * LF) and sockets, FIFOs and devices (this writer does not emit their filetypes).
 */
export async function buildPlistFromDirectory(
  dir: string,
  hash: FileHasher,
  opts: BuildOptions = {},
): Promise<PlistEntry[]> {
  const fs = require("fs") as typeof import("fs");
  const path = require("path") as typeof import("path");
  const users = opts.uname === undefined ? idNames(opts.passwdFile ?? "/etc/passwd") : {};
  const groups = opts.gname === undefined ? idNames(opts.groupFile ?? "/etc/group") : {};
  const pending: Array<{ abs: string; rel: string; st: import("fs").Stats }> = [];
  const entries: PlistEntry[] = [];
  const base = (
    rel: string,
    st: import("fs").Stats,
    type: number,
    extra: Partial<PlistEntry>,
  ): PlistEntry => ({
    path: rel,
    hash: "",
    size: 0,
    uname: opts.uname ?? users[String(st.uid)] ?? String(st.uid),
    gname: opts.gname ?? groups[String(st.gid)] ?? String(st.gid),
    mode: st.mode & 0o7777,
    type,
    ctime: Math.floor(st.ctimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
    extended: "",
    ...extra,
  });
  const refuse = (rel: string, field: string, problem: string, fix: string): never => {
    throw new InputError(`plist of ${dir}`, `${field} ${JSON.stringify(rel)}`, problem, fix);
  };
  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await fs.promises.readdir(abs)).sort();
    for (const name of names) {
      const childAbs = path.join(abs, name);
      const childRel = `${rel}/${name}`;
      const bad = fieldProblem(name);
      if (bad) refuse(childRel, "file", bad, "rename it: a core0 v0.9.0 plist cannot hold that name");
      const st = await fs.promises.lstat(childAbs);
      if (st.isDirectory()) {
        entries.push(base(childRel, st, FILETYPE_DIR, {}));
        await walk(childAbs, childRel);
      } else if (st.isSymbolicLink()) {
        const target = await fs.promises.readlink(childAbs);
        const badTarget = fieldProblem(target);
        if (badTarget)
          refuse(
            childRel,
            "symlink",
            `target ${badTarget}`,
            "point the link at a path without | or line breaks",
          );
        entries.push(base(childRel, st, FILETYPE_SYMLINK, { extended: target }));
      } else if (st.isFile()) pending.push({ abs: childAbs, rel: childRel, st });
      else {
        refuse(
          childRel,
          "file",
          "is a socket, FIFO or device, which this plist writer does not emit",
          "remove it from the tree (create it at container start instead)",
        );
      }
    }
  };
  await walk(dir, "");
  const limit = Math.max(1, opts.concurrency ?? 8);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pending.length) {
      const f = pending[next++];
      const h = await hash(f.abs, f.rel);
      entries.push(base(f.rel, f.st, FILETYPE_FILE, { hash: h, size: f.st.size }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, pending.length) }, worker));
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
