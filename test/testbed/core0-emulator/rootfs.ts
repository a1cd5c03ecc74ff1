/**
 * Builds a container root directory from a plist, the way core0 v0.9 mounted one: the plist comes
 * from a `file://` path or an http(s) URL, each file's content from the node's IPFS RPC API by hash.
 * We copy the files instead of mounting a FUSE layer: the container sees the same tree.
 * On any failure the partly built root is removed and the error names the file and its hash.
 */
import * as fs from "fs";
import * as path from "path";
import {
  FILETYPE_DIR,
  FILETYPE_FILE,
  FILETYPE_SYMLINK,
  parsePlist,
  PlistEntry,
} from "../../../providers/plist";

export interface RootfsOptions {
  /** IPFS RPC API base, e.g. http://127.0.0.1:5001 */
  ipfsApi: string;
  /** Per-file fetch timeout (js-ipfs and Kubo wait forever for a block nobody has). Default 5000. */
  fetchTimeoutMs?: number;
  /** Files fetched at once. Default 8. */
  concurrency?: number;
}

export class RootfsError extends Error {}

async function fetchText(url: string, timeoutMs: number): Promise<string> {
  if (url.startsWith("file://")) return fs.promises.readFile(new URL(url), "utf8");
  if (/^https?:\/\//.test(url)) {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    return res.text();
  }
  throw new Error("must be a file:// path or an http(s) URL");
}

/** Fetches one file's content from IPFS: `POST /api/v0/cat?arg=<hash>`. */
export async function ipfsCat(api: string, hash: string, timeoutMs: number): Promise<Buffer> {
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  const url = `${api.replace(/\/$/, "")}/api/v0/cat?arg=${encodeURIComponent(hash)}&timeout=${secs}s`;
  const res = await fetch(url, { method: "POST", signal: AbortSignal.timeout(timeoutMs + 2000) });
  const body = Buffer.from(await res.arrayBuffer());
  if (!res.ok) {
    let msg = body.toString("utf8");
    try {
      msg = (JSON.parse(msg) as { Message?: string }).Message ?? msg;
    } catch {
      /* not JSON */
    }
    throw new Error(`IPFS answered ${res.status}: ${msg.trim()}`);
  }
  return body;
}

function inside(root: string, p: string): string {
  const abs = path.join(root, p);
  if (abs !== root && !abs.startsWith(root + path.sep))
    throw new RootfsError(`plist path ${p} escapes the root`);
  return abs;
}

async function materialize(root: string, e: PlistEntry, opts: RootfsOptions): Promise<void> {
  const abs = inside(root, e.path);
  await fs.promises.mkdir(path.dirname(abs), { recursive: true });
  if (e.type === FILETYPE_DIR) {
    await fs.promises.mkdir(abs, { recursive: true });
    await fs.promises.chmod(abs, e.mode);
  } else if (e.type === FILETYPE_SYMLINK) {
    await fs.promises.symlink(e.extended, abs);
    return;
  } else if (e.type === FILETYPE_FILE) {
    let content: Buffer;
    try {
      content = await ipfsCat(opts.ipfsApi, e.hash, opts.fetchTimeoutMs ?? 5000);
    } catch (err) {
      throw new RootfsError(
        `file ${e.path} (hash ${e.hash}) could not be fetched from IPFS ${opts.ipfsApi}: ${(err as Error).message}`,
      );
    }
    await fs.promises.writeFile(abs, content, { mode: e.mode });
    await fs.promises.chmod(abs, e.mode);
  }
  await fs.promises.utimes(abs, e.mtime, e.mtime);
}

/** Creates `root` from the plist at `plistUrl`; removes it again if anything fails. */
export async function buildRootfs(plistUrl: string, root: string, opts: RootfsOptions): Promise<number> {
  let entries: PlistEntry[];
  try {
    entries = parsePlist(await fetchText(plistUrl, opts.fetchTimeoutMs ?? 5000), plistUrl);
  } catch (err) {
    throw new RootfsError(`plist ${plistUrl}: ${(err as Error).message}`);
  }
  await fs.promises.mkdir(root, { recursive: true });
  // Workers stop at the first failure and all finish before the cleanup, so nothing is written
  // into the root after it was removed.
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < entries.length) {
      try {
        await materialize(root, entries[next++], opts);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, worker));
  if (failure !== undefined) {
    await fs.promises.rm(root, { recursive: true, force: true });
    throw failure;
  }
  return entries.length;
}
