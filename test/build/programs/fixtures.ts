/**
 * Fixtures for the build-run tests: a read-only IPFS HTTP gateway on loopback (js-ipfs's own
 * gateway listens on a port the testbed does not report, and its RPC API refuses GET), and apps
 * whose files are added to IPFS and listed in a plist, as part A's AppBuild produces them.
 */
import * as http from "http";
import type { AddressInfo } from "net";
import { FILETYPE_FILE, serializePlist, type PlistEntry } from "../../../providers/plist";
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

/** Adds `files` to IPFS, writes their plist, adds the plist too: an app as a build leaves it. */
export async function makeBuiltApp(
  apiUrl: string,
  app: string,
  buildId: string,
  files: Record<string, { content: string; mode?: number }>,
): Promise<BuiltApp> {
  const now = Math.floor(Date.now() / 1000);
  const built: BuiltFile[] = [];
  const entries: PlistEntry[] = [];
  for (const [p, f] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    const cid = await ipfsAdd(apiUrl, f.content);
    const mode = f.mode ?? 0o644;
    built.push({ path: p, cid, size: Buffer.byteLength(f.content), mode });
    entries.push({
      path: p,
      hash: cid,
      size: Buffer.byteLength(f.content),
      uname: "root",
      gname: "root",
      mode,
      type: FILETYPE_FILE,
      ctime: now,
      mtime: now,
      extended: "",
    });
  }
  const plist = serializePlist(entries);
  return { app, buildId, plist, plistCid: await ipfsAdd(apiUrl, plist, "plist"), files: built };
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
