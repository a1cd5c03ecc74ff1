/**
 * Fixtures for the build-run tests: a read-only IPFS HTTP gateway on loopback (js-ipfs's own
 * gateway listens on a port the testbed does not report, and its RPC API refuses GET), and apps
 * whose files are added to IPFS brotli-compressed and listed in a plist, as AppBuild produces them.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { IpfsClient } from "../../../providers/ipfs/client";
import {
  buildPlistFromDirectory,
  coreXRequiredEntries,
  FILETYPE_FILE,
  serializePlist,
  storeBrotli,
} from "../../../providers/plist";
import { ipfsAdd } from "../../testbed/ipfs";

export interface IpfsGateway {
  /** `http://127.0.0.1:<port>`: `GET <url>/ipfs/<cid>[/path]` answers the content. */
  url: string;
  stop(): Promise<void>;
}

/** Serves `GET /ipfs/<cid-or-path>` from the IPFS RPC API at `apiUrl` (`POST /api/v0/cat`). */
export async function startIpfsGateway(apiUrl: string): Promise<IpfsGateway> {
  const server = http.createServer((req, res) => {
    const m = /^\/ipfs\/(.+)$/.exec(req.url ?? "");
    if (req.method !== "GET" || !m) {
      res.writeHead(404).end("not found");
      return;
    }
    const target = `${apiUrl}/api/v0/cat?arg=${encodeURIComponent(decodeURIComponent(m[1]))}&timeout=5s`;
    fetch(target, { method: "POST", signal: AbortSignal.timeout(10_000) })
      .then(async (r) => {
        const body = Buffer.from(await r.arrayBuffer());
        res.writeHead(r.ok ? 200 : 502, { "content-type": "application/octet-stream" }).end(body);
      })
      .catch((err: unknown) => res.writeHead(502).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface BuiltFile {
  path: string;
  cid: string;
  size: number;
  mode: number;
}

/** What AppBuild outputs for one app (the shape part A's resource has). */
export interface BuiltApp {
  app: string;
  buildId: string;
  plist: string;
  plistCid: string;
  files: BuiltFile[];
}

/**
 * Host programs every sample app carries by default: core0 v0.9.0 runs container processes chrooted
 * in the plist root, so the shell and tools the tests call must be in the plist (with their loader
 * and libraries, which `makeBuiltApp` adds from `ldd`).
 */
export const DEFAULT_HOST_PROGRAMS: readonly string[] = ["/bin/sh", "/bin/cat", "/bin/sleep", "/bin/date"];

/** Copies `programs` (real files) and the libraries `ldd` lists for them into `tree` at the same paths. */
export function copyHostPrograms(tree: string, programs: readonly string[]): void {
  const copyIn = (abs: string): void => {
    const dst = path.join(tree, abs);
    if (fs.existsSync(dst)) return;
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(fs.realpathSync(abs), dst);
    fs.chmodSync(dst, fs.statSync(abs).mode & 0o7777);
  };
  for (const bin of programs) {
    copyIn(bin);
    let deps = "";
    try {
      deps = execFileSync("ldd", [bin], { encoding: "utf8" });
    } catch {
      deps = ""; // a static program: ldd exits non-zero, nothing to add
    }
    for (const m of deps.matchAll(/(\/\S+\.so[.\d]*)/g)) copyIn(m[1]);
  }
}

/**
 * Adds `files` (plus `hostPrograms` with their libraries, and `/proc` for coreX) to IPFS the way
 * AppBuild does (content brotli-compressed, as core0 v0.9.0 reads it), writes their plist with the
 * product's walker and adds the plist too (plain: core0 fetches it by URL): an app as a build leaves it.
 */
export async function makeBuiltApp(
  apiUrl: string,
  app: string,
  buildId: string,
  files: Record<string, { content: string; mode?: number }>,
  opts: { hostPrograms?: readonly string[] } = {},
): Promise<BuiltApp> {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), `g8os-built-${app}-`));
  try {
    for (const [p, f] of Object.entries(files)) {
      const dst = path.join(tree, p);
      fs.mkdirSync(path.dirname(dst), { recursive: true });
      fs.writeFileSync(dst, f.content);
      fs.chmodSync(dst, f.mode ?? 0o644);
    }
    copyHostPrograms(tree, opts.hostPrograms ?? DEFAULT_HOST_PROGRAMS);
    const ipfs = new IpfsClient(apiUrl);
    const entries = await buildPlistFromDirectory(
      tree,
      async (abs) => (await storeBrotli(fs.createReadStream(abs), (c) => ipfs.addStream(c))).cid,
      { uname: "root", gname: "root" },
    );
    entries.push(...coreXRequiredEntries(entries, Math.floor(Date.now() / 1000)));
    entries.sort((a, b) => a.path.localeCompare(b.path));
    const built: BuiltFile[] = entries
      .filter((e) => e.type === FILETYPE_FILE && Object.prototype.hasOwnProperty.call(files, e.path))
      .map((e) => ({ path: e.path, cid: e.hash, size: e.size, mode: e.mode }));
    const plist = serializePlist(entries);
    return { app, buildId, plist, plistCid: await ipfsAdd(apiUrl, plist, "plist"), files: built };
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
}

/** `cat` of a CID or `/ipfs/` path through the RPC API. */
export async function ipfsCat(apiUrl: string, arg: string): Promise<Buffer> {
  const r = await fetch(`${apiUrl}/api/v0/cat?arg=${encodeURIComponent(arg)}&timeout=5s`, { method: "POST" });
  if (!r.ok) throw new Error(`ipfs cat ${arg}: HTTP ${r.status}: ${await r.text()}`);
  return Buffer.from(await r.arrayBuffer());
}

/** `ls` of a directory CID through the RPC API: entry names and types (1 dir, 2 file). */
export async function ipfsLs(apiUrl: string, arg: string): Promise<Array<{ name: string; type: number }>> {
  const r = await fetch(`${apiUrl}/api/v0/ls?arg=${encodeURIComponent(arg)}&timeout=5s`, { method: "POST" });
  if (!r.ok) throw new Error(`ipfs ls ${arg}: HTTP ${r.status}: ${await r.text()}`);
  const body = (await r.json()) as { Objects: Array<{ Links: Array<{ Name: string; Type: number }> }> };
  return body.Objects[0].Links.map((l) => ({ name: l.Name, type: l.Type }));
}
