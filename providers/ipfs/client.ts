/**
 * Plain IPFS RPC client (Kubo `/api/v0`, also served by js-ipfs) on `kubo-rpc-client`.
 *
 * - `addStream` streams: the source is piped into the multipart request body chunk by chunk, so
 *   memory does not grow with the file size (never buffer a file to add it).
 * - Every call names the API URL and the CID in its errors, and is traced (trace.ts) so no-op
 *   tests and benchmarks can count adds and pins.
 * - Calls that may wait for content the node does not have (pin add, stat, cat) carry a deadline:
 *   an offline node would otherwise search for the blocks forever.
 *
 * Plain module: no Pulumi imports. `kubo-rpc-client` is required inside methods (it is loaded
 * through its `module-sync` export, which `require()` supports on Node 22).
 */
import type { Readable } from "stream";
import { errorMessage, OperationError } from "../shared/errors";
import { trace } from "../shared/trace";

export interface IpfsAddOptions {
  /** 0 (default of the API) or 1. CIDv1 implies raw leaves unless `rawLeaves` says otherwise. */
  cidVersion?: 0 | 1;
  rawLeaves?: boolean;
  /** Compute the CID without storing anything. */
  onlyHash?: boolean;
  /** Pin what is added. Default true (as the API). Ignored with onlyHash. */
  pin?: boolean;
  /** E.g. "size-262144" (the API default). */
  chunker?: string;
}

export interface IpfsAddResult {
  cid: string;
  /** Bytes of content read from the source (not the DAG size). */
  bytes: number;
}

export interface IpfsDirectoryOptions extends IpfsAddOptions {
  /** Wrap the tree in a directory whose CID is the root. Default true. */
  wrap?: boolean;
  /** File or directory names skipped anywhere in the tree, e.g. [".git"]. Default [".git"]. */
  ignore?: string[];
}

export interface IpfsDirectoryResult {
  /** Root CID: the directory itself. */
  cid: string;
  /** Every added file and directory, relative paths, the root excluded. */
  entries: { path: string; cid: string }[];
}

export interface IpfsStat {
  cid: string;
  type: string;
  /** Content bytes of a file (0 for a directory). */
  size: number;
  cumulativeSize: number;
}

export interface IpfsPinInfo {
  cid: string;
  /** "recursive", "direct" or "indirect". */
  type: string;
}

export interface IpfsClientOptions {
  /** Deadline for calls that may wait on missing content (pin add, stat, cat). Default 60 s. */
  timeoutMs?: number;
  /** Prefix for errors, e.g. `IpfsPin "plist"`. Default "IPFS". */
  label?: string;
}

/** The part of kubo-rpc-client's API this module uses (its types do not resolve under CommonJS). */
interface KuboCid {
  toString(): string;
}
interface KuboClient {
  add(source: unknown, opts: Record<string, unknown>): Promise<{ cid: KuboCid; size: number }>;
  addAll(source: unknown, opts: Record<string, unknown>): AsyncIterable<{ path: string; cid: KuboCid }>;
  cat(cid: string, opts: Record<string, unknown>): AsyncIterable<Uint8Array>;
  files: {
    stat(
      path: string,
      opts: Record<string, unknown>,
    ): Promise<{ cid: KuboCid; type: string; size: number; cumulativeSize: number }>;
  };
  pin: {
    add(cid: unknown, opts: Record<string, unknown>): Promise<KuboCid>;
    ls(opts: Record<string, unknown>): AsyncIterable<{ cid: KuboCid; type: string }>;
    rm(cid: unknown, opts: Record<string, unknown>): Promise<KuboCid>;
  };
  version(opts: Record<string, unknown>): Promise<{ version: string }>;
}

/** CIDv0 (Qm… base58btc) or a multibase CIDv1 (b… base32, z… base58btc, f… hex). */
export function looksLikeCid(v: unknown): boolean {
  return (
    typeof v === "string" &&
    (/^Qm[1-9A-HJ-NP-Za-km-z]{44}$/.test(v) ||
      /^b[a-z2-7]{50,}$/.test(v) ||
      /^z[1-9A-HJ-NP-Za-km-z]{40,}$/.test(v) ||
      /^f[0-9a-f]{60,}$/.test(v))
  );
}

export class IpfsClient {
  readonly apiUrl: string;
  readonly timeoutMs: number;
  readonly label: string;

  constructor(apiUrl: string, opts: IpfsClientOptions = {}) {
    // Fields assigned here, not as initializers: serialized providers drop class field initializers.
    this.apiUrl = apiUrl.replace(/\/+$/, "");
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.label = opts.label ?? "IPFS";
  }

  private kubo(): KuboClient {
    const { create } = require("kubo-rpc-client") as { create(o: { url: string }): KuboClient };
    return create({ url: this.apiUrl });
  }

  private fail(step: string, err: unknown, hint?: string): OperationError {
    let detail = errorMessage(err);
    if (/aborted|timeout/i.test(detail) && !/ECONNREFUSED/.test(detail)) {
      detail = `no answer within ${Math.round(this.timeoutMs / 1000)} s (${detail})`;
      hint = hint ?? "that the content is available to this IPFS node (added here, or reachable peers)";
    }
    if (/ECONNREFUSED|fetch failed|ENOTFOUND|EHOSTUNREACH/i.test(detail)) {
      hint = "that the IPFS daemon runs and its API listens at this URL";
    }
    return new OperationError(this.label, `${step} at ${this.apiUrl}`, detail, hint);
  }

  private deadline(): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs);
  }

  private addFlags(opts: IpfsAddOptions): Record<string, unknown> {
    const flags: Record<string, unknown> = { pin: opts.onlyHash ? false : (opts.pin ?? true) };
    if (opts.cidVersion !== undefined) flags.cidVersion = opts.cidVersion;
    if (opts.rawLeaves !== undefined) flags.rawLeaves = opts.rawLeaves;
    if (opts.onlyHash) flags.onlyHash = true;
    if (opts.chunker) flags.chunker = opts.chunker;
    return flags;
  }

  /**
   * Adds one file from a stream (a Node Readable or any async iterable of bytes), chunk by chunk.
   * The multipart body is piped into a plain http(s) request with backpressure: a slow daemon
   * slows the source, so memory stays flat whatever the size. (kubo-rpc-client's `add` goes
   * through fetch, which here read a 1 GiB source into memory faster than the daemon took it.)
   * The source is consumed once; on error it is destroyed.
   */
  async addStream(
    source: Readable | AsyncIterable<Uint8Array>,
    opts: IpfsAddOptions = {},
  ): Promise<IpfsAddResult> {
    trace({ system: "ipfs", op: opts.onlyHash ? "hash" : "add", write: !opts.onlyHash, target: this.apiUrl });
    const { Readable: NodeReadable } = require("stream") as typeof import("stream");
    const { pipeline } = require("stream/promises") as typeof import("stream/promises");
    const crypto = require("crypto") as typeof import("crypto");
    const boundary = `g8os-${crypto.randomBytes(12).toString("hex")}`;
    let bytes = 0;
    // Count while streaming: callers check the byte count against the size they expected.
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="file"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\n",
      );
      for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
        const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        bytes += b.length;
        yield b;
      }
      yield Buffer.from(`\r\n--${boundary}--\r\n`);
    }
    const flags = this.addFlags(opts);
    const query = new URLSearchParams({
      "stream-channels": "true",
      progress: "false",
      pin: String(flags.pin),
    });
    if (opts.cidVersion !== undefined) query.set("cid-version", String(opts.cidVersion));
    // CIDv1 in base32 (bafy…), as Kubo prints by default and kubo-rpc-client's CIDs print; js-ipfs
    // answers base58btc (zb2…) otherwise. CIDv0 has one form only.
    if (opts.cidVersion === 1) query.set("cid-base", "base32");
    if (opts.rawLeaves !== undefined) query.set("raw-leaves", String(opts.rawLeaves));
    if (opts.onlyHash) query.set("only-hash", "true");
    if (opts.chunker) query.set("chunker", opts.chunker);
    const url = new URL(`${this.apiUrl}/api/v0/add?${query}`);
    const http = (url.protocol === "https:" ? require("https") : require("http")) as typeof import("http");
    try {
      const answer = await new Promise<{ status: number; text: string; streamError?: string }>(
        (resolve, reject) => {
          const req = http.request(url, {
            method: "POST",
            headers: { "Content-Type": `multipart/form-data; boundary=${boundary}` },
          });
          req.once("response", (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => (text = (text + d).slice(-65536)));
            res.once("end", () => {
              const trailer = res.trailers["x-stream-error"];
              resolve({ status: res.statusCode ?? 0, text, streamError: trailer });
            });
            res.once("error", reject);
          });
          req.once("error", reject);
          pipeline(NodeReadable.from(body()), req).catch(reject);
        },
      );
      const lines = answer.text.trim().split("\n").filter(Boolean);
      const last = lines.length ? (JSON.parse(lines[lines.length - 1]) as Record<string, unknown>) : {};
      if (
        answer.status !== 200 ||
        answer.streamError ||
        last.Type === "error" ||
        typeof last.Hash !== "string"
      ) {
        const why =
          answer.streamError ?? (typeof last.Message === "string" ? last.Message : answer.text.slice(0, 300));
        throw new Error(`HTTP ${answer.status}: ${why || "no CID in the answer"}`);
      }
      return { cid: last.Hash, bytes };
    } catch (err) {
      (source as Partial<Readable>).destroy?.();
      throw this.fail("add", err);
    }
  }

  /** Adds small in-memory content (a plist, a test file). */
  addBytes(content: string | Uint8Array, opts: IpfsAddOptions = {}): Promise<IpfsAddResult> {
    const body = typeof content === "string" ? Buffer.from(content) : content;
    async function* once(): AsyncGenerator<Uint8Array> {
      yield body;
    }
    return this.addStream(once(), opts);
  }

  /**
   * Adds a directory tree (files streamed from disk) and returns its root CID. Names in `ignore`
   * are skipped at any depth; symlinks and special files are skipped (a repo tree has none).
   */
  async addDirectory(dir: string, opts: IpfsDirectoryOptions = {}): Promise<IpfsDirectoryResult> {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    const ignore = opts.ignore ?? [".git"];
    const wrap = opts.wrap ?? true;
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw this.fail(`add directory ${dir}`, "not a directory on this machine", "the path");
    }
    trace({
      system: "ipfs",
      op: opts.onlyHash ? "hash-dir" : "add-dir",
      write: !opts.onlyHash,
      target: this.apiUrl,
    });
    // Paths are relative to `dir` and, when not wrapped, prefixed by its name (the API needs one root).
    const prefix = wrap ? "" : `${path.basename(path.resolve(dir))}/`;
    async function* walk(abs: string, rel: string): AsyncGenerator<{ path: string; content?: Readable }> {
      const names = (await fs.promises.readdir(abs)).filter((n) => !ignore.includes(n)).sort();
      for (const name of names) {
        const childAbs = path.join(abs, name);
        const childRel = rel ? `${rel}/${name}` : name;
        const st = await fs.promises.lstat(childAbs);
        if (st.isDirectory()) {
          yield { path: prefix + childRel };
          yield* walk(childAbs, childRel);
        } else if (st.isFile()) {
          yield { path: prefix + childRel, content: fs.createReadStream(childAbs) };
        }
      }
    }
    const entries: { path: string; cid: string }[] = [];
    let root = "";
    try {
      for await (const e of this.kubo().addAll(walk(dir, ""), {
        ...this.addFlags(opts),
        wrapWithDirectory: wrap,
      })) {
        const p = e.path.startsWith(prefix) ? e.path.slice(prefix.length) : e.path;
        if (e.path === "" || (!wrap && e.path === prefix.replace(/\/$/, ""))) root = e.cid.toString();
        else entries.push({ path: p, cid: e.cid.toString() });
      }
    } catch (err) {
      throw this.fail(`add directory ${dir}`, err);
    }
    if (!root) throw this.fail(`add directory ${dir}`, "the API returned no root directory entry");
    return { cid: root, entries };
  }

  /** Streams a file's content. `maxBytes` bounds what is read (an error past it). */
  async *cat(cid: string, opts: { maxBytes?: number } = {}): AsyncGenerator<Uint8Array> {
    trace({ system: "ipfs", op: "cat", write: false, target: this.apiUrl });
    let read = 0;
    try {
      for await (const chunk of this.kubo().cat(cid, { signal: this.deadline() })) {
        read += chunk.length;
        if (opts.maxBytes !== undefined && read > opts.maxBytes) {
          throw new Error(`content is larger than the ${opts.maxBytes} bytes allowed`);
        }
        yield chunk;
      }
    } catch (err) {
      throw this.fail(`cat ${cid}`, err);
    }
  }

  /** Whole content of a small file (bounded, default 16 MiB). */
  async catBuffer(cid: string, maxBytes = 16 * 2 ** 20): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const c of this.cat(cid, { maxBytes })) parts.push(c);
    return Buffer.concat(parts);
  }

  async stat(cid: string): Promise<IpfsStat> {
    trace({ system: "ipfs", op: "stat", write: false, target: this.apiUrl });
    try {
      const s = await this.kubo().files.stat(`/ipfs/${cid}`, { signal: this.deadline() });
      return { cid: s.cid.toString(), type: s.type, size: s.size, cumulativeSize: s.cumulativeSize };
    } catch (err) {
      throw this.fail(`stat ${cid}`, err);
    }
  }

  /** Pins `cid` (fetching it if needed: bounded by the client's deadline). */
  async pinAdd(cid: string, opts: { recursive?: boolean; name?: string } = {}): Promise<void> {
    trace({ system: "ipfs", op: "pin-add", write: true, target: this.apiUrl });
    const flags: Record<string, unknown> = { recursive: opts.recursive ?? true, signal: this.deadline() };
    // `name` is a Kubo >= 0.26 flag; js-ipfs ignores unknown flags.
    if (opts.name) flags.name = opts.name;
    try {
      await this.kubo().pin.add(cid, flags);
    } catch (err) {
      throw this.fail(`pin add ${cid}`, err, "that the CID's content was added to this node");
    }
  }

  /** The pin on `cid`, or undefined when it is not pinned (directly, recursively or indirectly). */
  async pinLs(cid: string): Promise<IpfsPinInfo | undefined> {
    trace({ system: "ipfs", op: "pin-ls", write: false, target: this.apiUrl });
    try {
      for await (const p of this.kubo().pin.ls({ paths: [cid], signal: this.deadline() })) {
        return { cid: p.cid.toString(), type: p.type };
      }
      return undefined;
    } catch (err) {
      if (/not pinned/i.test(errorMessage(err))) return undefined;
      throw this.fail(`pin ls ${cid}`, err);
    }
  }

  /** Unpins `cid`; a CID that is not pinned is fine (the goal is reached). */
  async pinRm(cid: string, opts: { recursive?: boolean } = {}): Promise<void> {
    trace({ system: "ipfs", op: "pin-rm", write: true, target: this.apiUrl });
    try {
      await this.kubo().pin.rm(cid, { recursive: opts.recursive ?? true, signal: this.deadline() });
    } catch (err) {
      if (/not pinned/i.test(errorMessage(err))) return;
      throw this.fail(`pin rm ${cid}`, err);
    }
  }

  async version(): Promise<string> {
    trace({ system: "ipfs", op: "version", write: false, target: this.apiUrl });
    try {
      return (await this.kubo().version({ signal: this.deadline() })).version;
    } catch (err) {
      throw this.fail("version", err);
    }
  }
}
