/**
 * The plist reader as core0 v0.9.0 uses it, written from the vendored github.com/g8os/fs in
 * threefoldtech/0-core@v0.9.0: `utils/flist.go` (bufio.Scanner lines: `\n` separated, a trailing
 * `\r` dropped, no empty token after a final newline, a line over 64 KiB ends the scan silently),
 * `meta/meta.go` ParseLine (every line, blank ones included, must have at least 10 `|` fields;
 * there is no comment or header syntax) and `meta/file.go` Populate (first bad line fails all).
 * Error texts are Go's (`strconv.ParseInt: parsing "x": invalid syntax`), trailing `\n` included
 * where ParseLine's fmt.Errorf has one. Independent of the product's plist code.
 */

export const FT_SOCKET = 0;
export const FT_SYMLINK = 1;
export const FT_FILE = 2;
export const FT_BLOCK = 3;
export const FT_DIR = 4;
export const FT_CHAR = 5;
export const FT_FIFO = 6;

export interface PlistLine {
  /** Path with the leading "/" trimmed (Populate passes trim "/"). */
  path: string;
  /** IPFS hash of the brotli-compressed content ("" for directories). */
  hash: string;
  /** Size of the uncompressed content, bytes. */
  size: number;
  /** Owner and group names (core0 looks them up on the node; unknown = 0). */
  uname: string;
  gname: string;
  /** Permission bits parsed base 8. */
  mode: number;
  /** The plist's filetype number (0..6); anything else is kept as given. */
  type: number;
  /** Epoch seconds. */
  ctime: number;
  mtime: number;
  /** Free field (device numbers "major,minor" for types 3 and 5). */
  extended: string;
}

const SCANNER_MAX_TOKEN = 64 * 1024;

/** bufio.Scanner with ScanLines over the plist text. */
export function scanLines(text: string): string[] {
  const parts = text.split("\n");
  if (parts.length && parts[parts.length - 1] === "") parts.pop();
  const out: string[] = [];
  for (const p of parts) {
    if (Buffer.byteLength(p) > SCANNER_MAX_TOKEN) break; // bufio.ErrTooLong: logged, scan ends
    out.push(p.endsWith("\r") ? p.slice(0, -1) : p);
  }
  return out;
}

/** strconv.ParseInt(s, base, 64) with Go's error text. */
function parseInt64(s: string, base: 8 | 10): number {
  const digits = base === 8 ? /^[+-]?[0-7]+$/ : /^[+-]?[0-9]+$/;
  if (!digits.test(s)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = BigInt(base === 8 ? (s.startsWith("-") ? "-0o" + s.slice(1) : "0o" + s.replace(/^\+/, "")) : s);
  if (v > 2n ** 63n - 1n || v < -(2n ** 63n))
    throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range`);
  return Number(v);
}

/** meta.ParseLine(line, "/"). */
export function parseLine(line: string): PlistLine {
  if (line === "") throw new Error("Cannot parse empty lines\n");
  const items = line.split("|");
  if (items.length < 10)
    throw new Error(`Flist item: malformed line, at least 10 fields expected, ${items.length} found\n`);
  const size = parseInt64(items[2], 10);
  const mode = parseInt64(items[5], 8);
  const type = parseInt64(items[6], 10); // strconv.Atoi in go1.7 reports as ParseInt
  if (type === FT_BLOCK || type === FT_CHAR) {
    const dev = items[9].split(",");
    parseInt64(dev[0], 10);
    // With no "," core0 indexes past the split result: a Go panic, which takes the node down.
    if (dev.length < 2) throw new Error("runtime error: index out of range");
    parseInt64(dev[1], 10);
  }
  return {
    path: items[0].startsWith("/") ? items[0].slice(1) : items[0],
    hash: items[1],
    size,
    uname: items[3],
    gname: items[4],
    mode,
    type,
    ctime: parseInt64(items[7], 10),
    mtime: parseInt64(items[8], 10),
    extended: items[9],
  };
}

/** Populate: every scanned line parsed in order; the first error is the error. */
export function parsePlistText(text: string): PlistLine[] {
  return scanLines(text).map(parseLine);
}
