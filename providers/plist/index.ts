/**
 * The core0 v0.9 "plist": the text manifest a container root is built from, one entry a line:
 * `filepath|hash|filesize|uname|gname|permissions|filetype|ctime|mtime|extended`.
 *
 * - filetype 2 = regular file (content fetched by `hash` from IPFS), 4 = directory (only empty
 *   directories are listed: the others are implied by the files under them), 1 = symlink (target in
 *   `extended`, an extension of ours: v0.9 lists no symlinks in the plists we know of).
 * - permissions: octal string of the mode bits (e.g. `755`); ctime/mtime: epoch seconds.
 * - The files' content is stored plain (not brotli-compressed as in v0.9): see PLIST_HEADER.
 *
 * Plain module: no Pulumi imports (the build runs and the core0 emulator use it).
 */

export const FILETYPE_SYMLINK = 1;
export const FILETYPE_FILE = 2;
export const FILETYPE_DIR = 4;

/** Comment line written first by `serializePlist`: says the content is stored uncompressed. */
export const PLIST_HEADER = "# g8os plist v1: content stored plain (not brotli) in IPFS";

export interface PlistEntry {
  /** Path inside the container root, `/`-separated, with a leading `/`. */
  path: string;
  /** Content hash (IPFS CID) for files; empty for directories and symlinks. */
  hash: string;
  size: number;
  uname: string;
  gname: string;
  /** Mode bits (permissions only, e.g. 0o755). */
  mode: number;
  /** FILETYPE_FILE, FILETYPE_DIR or FILETYPE_SYMLINK. */
  type: number;
  /** Epoch seconds. */
  ctime: number;
  mtime: number;
  /** Free-form last field (symlink target for type 1). */
  extended: string;
}

/** A malformed plist: `line` is 1-based, `problem` says what is wrong and what a good line looks like. */
export class PlistParseError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
    readonly source?: string,
  ) {
    super(`plist${source ? ` ${source}` : ""} line ${line}: ${problem}`);
    this.name = "PlistParseError";
  }
}

const FIELDS = 10;
const KNOWN_TYPES = new Set([FILETYPE_SYMLINK, FILETYPE_FILE, FILETYPE_DIR]);

function parseLine(text: string, lineNo: number, source?: string): PlistEntry {
  const fail = (problem: string): never => {
    throw new PlistParseError(lineNo, problem, source);
  };
  const f = text.split("|");
  if (f.length !== FIELDS) {
    fail(
      `has ${f.length} fields, expected ${FIELDS} ` +
        "(filepath|hash|filesize|uname|gname|permissions|filetype|ctime|mtime|extended)",
    );
  }
  const [path, hash, size, uname, gname, perms, type, ctime, mtime, extended] = f;
  if (!path.startsWith("/")) fail(`filepath "${path}" must start with "/"`);
  if (path.split("/").some((seg) => seg === "..")) fail(`filepath "${path}" must not contain ".."`);
  const int = (name: string, v: string): number => {
    if (!/^\d+$/.test(v)) fail(`${name} "${v}" must be a whole number`);
    return Number(v);
  };
  const fileType = int("filetype", type);
  if (!KNOWN_TYPES.has(fileType)) fail(`filetype ${fileType} is not 1 (symlink), 2 (file) or 4 (directory)`);
  if (!/^[0-7]{1,4}$/.test(perms)) fail(`permissions "${perms}" must be octal like 644 or 0755`);
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
 * Parses plist text. Blank lines and `#` comments are skipped. Throws PlistParseError naming the
 * line number and what is wrong; a path listed twice is an error too.
 */
export function parsePlist(text: string, source?: string): PlistEntry[] {
  const out: PlistEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "");
    if (line.trim() === "" || line.startsWith("#")) continue;
    const e = parseLine(line, i + 1, source);
    const first = seen.get(e.path);
    if (first !== undefined) {
      throw new PlistParseError(i + 1, `filepath "${e.path}" is already listed on line ${first}`, source);
    }
    seen.set(e.path, i + 1);
    out.push(e);
  }
  return out;
}

function checkSerializable(e: PlistEntry): void {
  for (const [k, v] of Object.entries(e)) {
    if (typeof v === "string" && /[|\n\r]/.test(v)) {
      throw new Error(
        `plist entry "${e.path}": ${k} contains "|" or a line break, which the format cannot hold`,
      );
    }
  }
}

/** Writes entries as plist text (header comment first, one line each, trailing newline). */
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
  return [PLIST_HEADER, ...lines].join("\n") + "\n";
}

/** Hashes one file's content for the plist, e.g. by adding it to IPFS. */
export type FileHasher = (absolutePath: string, relativePath: string) => Promise<string>;

export interface BuildOptions {
  /** Owner names written into the entries. Default "root"/"root" (build hosts run as root). */
  uname?: string;
  gname?: string;
  /** Files hashed at once. Default 8. */
  concurrency?: number;
}

/**
 * Walks `dir` and returns plist entries for its regular files, symlinks and empty directories,
 * sorted by path, each file hashed with `hash`. Sockets, FIFOs and devices are skipped.
 */
export async function buildPlistFromDirectory(
  dir: string,
  hash: FileHasher,
  opts: BuildOptions = {},
): Promise<PlistEntry[]> {
  const fs = require("fs") as typeof import("fs");
  const path = require("path") as typeof import("path");
  const uname = opts.uname ?? "root";
  const gname = opts.gname ?? "root";
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
    uname,
    gname,
    mode: st.mode & 0o7777,
    type,
    ctime: Math.floor(st.ctimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
    extended: "",
    ...extra,
  });
  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await fs.promises.readdir(abs)).sort();
    if (names.length === 0 && rel !== "") {
      entries.push(base(rel, await fs.promises.lstat(abs), FILETYPE_DIR, {}));
      return;
    }
    for (const name of names) {
      const childAbs = path.join(abs, name);
      const childRel = `${rel}/${name}`;
      const st = await fs.promises.lstat(childAbs);
      if (st.isDirectory()) await walk(childAbs, childRel);
      else if (st.isSymbolicLink()) {
        entries.push(
          base(childRel, st, FILETYPE_SYMLINK, { extended: await fs.promises.readlink(childAbs) }),
        );
      } else if (st.isFile()) pending.push({ abs: childAbs, rel: childRel, st });
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
