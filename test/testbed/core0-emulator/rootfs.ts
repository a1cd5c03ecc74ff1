/**
 * A container root from a plist, as core0 v0.9.0 builds one (threefoldtech/0-core@v0.9.0
 * `core0/containers/filesystem.go`, vendored github.com/g8os/fs `files/filesystem.go`,
 * `storage/ipfsstor.go`):
 * - the plist comes from a `file://` URL or plain path (must exist: `stat <p>: no such file or
 *   directory`) or from `http(s)://` (the body is used whatever the status); other schemes fail with
 *   `invalid plist url <src>`;
 * - file content comes from the node's IPFS API with a path-style `POST /api/v0/cat/<hash>` and is
 *   brotli-decompressed; modes are the plist's, directories are 0755 (the backend's, not the plist's).
 * core0 mounts the plist through FUSE and downloads a file when it is first opened, so a bad hash or
 * non-brotli content does not fail corex.create: the file fails to open later (EIO). The emulator
 * copies everything at create time instead, leaves a file that could not be downloaded out of the
 * root and records it in `failed`, so a process started from it fails as on the node.
 */
import * as fs from "fs";
import * as path from "path";
import { parsePlistText, FT_DIR, FT_FILE, FT_SYMLINK, PlistLine } from "./plist";

export interface RootfsOptions {
  /** The node-local IPFS API core0 talks to (path-style cat), e.g. http://127.0.0.1:5001 */
  nodeIpfsApi: string;
  /** ipfsstor.go cancels a request that got no response headers in 15 s. */
  fetchTimeoutMs: number;
  /** Where http(s) plists are saved (core0: /tmp/container-<id>/). */
  tmpDir: string;
  /** Called with each diagnostic line (what core0 would log). */
  log: (line: string) => void;
}

export interface Rootfs {
  entries: number;
  /** Container paths ("/bin/app") whose content could not be downloaded, with core0's error text. */
  failed: Map<string, string>;
}

/** getPlist: the local plist file path, Go-style errors. */
async function getPlist(src: string, opts: RootfsOptions): Promise<string> {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(src)?.[1]?.toLowerCase() ?? "";
  if (scheme === "file" || scheme === "") {
    const p = scheme === "file" ? decodeURIComponent(new URL(src).pathname) : src.replace(/[?#].*$/, "");
    try {
      fs.statSync(p);
    } catch {
      throw new Error(`stat ${p}: no such file or directory`);
    }
    return p;
  }
  if (scheme === "http" || scheme === "https") {
    let body: Buffer;
    try {
      const res = await fetch(src);
      body = Buffer.from(await res.arrayBuffer()); // no status check in core0
    } catch (err) {
      throw new Error(
        `Get ${src}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`,
      );
    }
    const name = path.join(opts.tmpDir, `${path.basename(new URL(src).pathname) || "plist"}.plist`);
    fs.mkdirSync(opts.tmpDir, { recursive: true });
    fs.writeFileSync(name, body);
    return name;
  }
  throw new Error(`invalid plist url ${src}`);
}

/** storage.ipfsStor.Get + brotli.NewReader: the file's bytes or core0's error text. */
export async function downloadContent(hash: string, opts: RootfsOptions): Promise<Buffer> {
  const url = `${opts.nodeIpfsApi.replace(/\/$/, "")}/api/v0/cat/${hash}`;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), opts.fetchTimeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", signal: ctl.signal });
  } catch (err) {
    throw new Error(ctl.signal.aborted ? "context canceled" : `Post ${url}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  if (res.status !== 200) {
    await res.arrayBuffer().catch(() => undefined);
    throw new Error(`response error: ${res.status} ${res.statusText}`);
  }
  const body = Buffer.from(await res.arrayBuffer());
  const zlib = require("zlib") as typeof import("zlib");
  try {
    return zlib.brotliDecompressSync(body);
  } catch {
    throw new Error("brotli: stream is corrupted"); // dsnet/compress/brotli's text for a bad stream
  }
}

function inside(root: string, rel: string): string | undefined {
  const abs = path.join(root, rel);
  return abs === root || abs.startsWith(root + path.sep) ? abs : undefined;
}

async function place(
  root: string,
  e: PlistLine,
  opts: RootfsOptions,
  failed: Map<string, string>,
): Promise<void> {
  const abs = inside(root, e.path);
  if (!abs) {
    opts.log(`plist entry /${e.path} is outside the root: skipped`);
    return;
  }
  await fs.promises.mkdir(path.dirname(abs), { recursive: true, mode: 0o755 });
  if (e.type === FT_DIR) {
    await fs.promises.mkdir(abs, { recursive: true, mode: 0o755 });
    return;
  }
  if (e.type === FT_SYMLINK) {
    // How the v0.9 FUSE layer presents symlinks was not verified; the target is taken from `extended`.
    await fs.promises
      .symlink(e.extended, abs)
      .catch((err: Error) => opts.log(`symlink /${e.path}: ${err.message}`));
    return;
  }
  if (e.type !== FT_FILE) {
    opts.log(`plist entry /${e.path} has filetype ${e.type}: created as an empty file (not emulated)`);
    await fs.promises.writeFile(abs, "");
    return;
  }
  try {
    const content = await downloadContent(e.hash, opts);
    await fs.promises.writeFile(abs, content);
    await fs.promises.chmod(abs, e.mode & 0o7777);
    await fs.promises.utimes(abs, e.ctime, e.mtime);
  } catch (err) {
    const msg = (err as Error).message;
    failed.set("/" + e.path, msg);
    opts.log(`Downloading file '/${e.path}' (hash ${e.hash}): ${msg}`);
  }
}

/** mountPList(src, root): parses the whole plist first (any bad line fails), then fills `root`. */
export async function buildRootfs(src: string, root: string, opts: RootfsOptions): Promise<Rootfs> {
  const entries = parsePlistText(fs.readFileSync(await getPlist(src, opts), "utf8"));
  await fs.promises.mkdir(root, { recursive: true, mode: 0o755 });
  const failed = new Map<string, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < entries.length) await place(root, entries[next++], opts, failed);
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { entries: entries.length, failed };
}
