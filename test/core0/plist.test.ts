/**
 * The plist format as core0 v0.9.0 reads it (threefoldtech/0-core @v0.9.0, vendored
 * github.com/g8os/fs meta/meta.go ParseLine, meta/mem.go Populate, files/filesystem.go), the
 * directory walker and brotli storage. The IPFS part runs against a real offline js-ipfs daemon
 * on 127.0.0.1 (no testbed).
 */
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable } from "stream";
import * as zlib from "zlib";
import { InputError } from "../../providers/shared/errors";
import { IpfsClient } from "../../providers/ipfs/client";
import {
  buildPlistFromDirectory,
  coreXRequiredEntries,
  FILETYPE_DIR,
  FILETYPE_FILE,
  FILETYPE_SYMLINK,
  parsePlist,
  PlistEntry,
  PlistParseError,
  serializePlist,
  storeBrotli,
} from "../../providers/plist";
import { IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";

/** An in-memory content store keyed by sha256 of what it was given (here: compressed bytes). */
function memoryStore(): {
  blobs: Record<string, Buffer>;
  add: (s: Readable) => Promise<{ cid: string }>;
} {
  const blobs: Record<string, Buffer> = {};
  return {
    blobs,
    add: async (s: Readable) => {
      const chunks: Buffer[] = [];
      for await (const c of s) chunks.push(c as Buffer);
      const all = Buffer.concat(chunks);
      const cid = crypto.createHash("sha256").update(all).digest("hex");
      blobs[cid] = all;
      return { cid };
    },
  };
}

/** A line split the way meta.ParseLine does: at least 10 fields, type field 7. */
function readerAccepts(text: string): void {
  // bufio.Scanner: lines split on \n, no empty final line for a trailing newline.
  const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
  for (const [n, line] of lines.entries()) {
    assert.notEqual(line, "", `line ${n + 1} is blank`);
    const items = line.split("|");
    assert.ok(items.length >= 10, `line ${n + 1} has ${items.length} fields`);
    assert.equal(items.length, 10, `line ${n + 1}: nothing after the 10th field`);
    assert.ok(!Number.isNaN(parseInt(items[5], 8)) && /^[0-7]+$/.test(items[5]), "octal permissions");
    for (const i of [2, 6, 7, 8])
      assert.match(items[i], /^\d+$/, `line ${n + 1} field ${i + 1} is an integer`);
  }
}

describe("plist format (core0 v0.9.0 reader rules)", () => {
  const v09 = [
    "/bin/app|QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN|14|root|root|755|2|1480000000|1480000001|",
    "/var/empty||4096|root|root|700|4|1480000000|1480000002|",
  ].join("\n");

  it("parses v0.9 lines into typed entries", () => {
    const [file, dir] = parsePlist(v09);
    assert.deepEqual(file, {
      path: "/bin/app",
      hash: "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN",
      size: 14,
      uname: "root",
      gname: "root",
      mode: 0o755,
      type: FILETYPE_FILE,
      ctime: 1480000000,
      mtime: 1480000001,
      extended: "",
    });
    assert.equal(dir.type, FILETYPE_DIR);
    assert.equal(dir.mode, 0o700);
  });

  it("serializes with no header, comment or blank line, exactly 10 fields a line", () => {
    const entries = parsePlist(v09);
    const text = serializePlist(entries);
    assert.equal(text, v09 + "\n");
    readerAccepts(text);
    assert.deepEqual(parsePlist(text), entries);
    assert.equal(serializePlist([]), "", "an empty plist is empty text, not a blank line");
  });

  it("accepts more than 10 fields (the reader ignores the rest) and a CR before LF", () => {
    const [e] = parsePlist("/a|h|1|root|root|644|2|1|1|ext|more|fields\r\n/b|h|1|root|root|644|2|1|1|\r\n");
    assert.equal(e.extended, "ext");
    assert.equal(e.path, "/a");
  });

  const bad: Array<[string, string, RegExp]> = [
    ["a blank line", "", /is blank/],
    ["a comment line", "# g8os plist", /has 1 fields, at least 10 expected/],
    ["too few fields", "/a|h|1|root|root|644|2|1|1", /9 fields, at least 10 expected/],
    ["relative path", "a|h|1|root|root|644|2|1|1|", /must start with "\/"/],
    ["bad size", "/a|h|x|root|root|644|2|1|1|", /filesize "x" must be a whole number/],
    ["bad permissions", "/a|h|1|root|root|rwx|2|1|1|", /permissions "rwx" must be octal/],
    ["unknown type", "/a|h|1|root|root|644|7|1|1|", /filetype 7 is not/],
    ["file without hash", "/a||1|root|root|644|2|1|1|", /has no hash/],
    ["symlink without target", "/a||0|root|root|777|1|1|1|", /symlink "\/a" has no target/],
    ["dot-dot", "/a/../etc/passwd|h|1|root|root|644|2|1|1|", /must not contain "\." or "\.\." segments/],
  ];
  for (const [what, line, re] of bad) {
    it(`rejects ${what} with the line number`, () => {
      const text = `/ok||0|root|root|755|4|1|1|\n${line}\n/ok2||0|root|root|755|4|1|1|\n`;
      assert.throws(
        () => parsePlist(text, "app.plist"),
        (e: unknown) =>
          e instanceof PlistParseError &&
          e instanceof InputError &&
          e.line === 2 &&
          re.test(e.message) &&
          /plist app\.plist: line 2: /.test(e.message) &&
          /Fix: write one entry a line/.test(e.message),
      );
    });
  }

  it("rejects a path listed twice, naming both lines", () => {
    const line = "/a|h|1|root|root|644|2|1|1|";
    assert.throws(() => parsePlist(`${line}\n${line}`), /line 2: filepath "\/a" is already listed on line 1/);
  });

  it("refuses to serialize a field holding the separator or a line break, naming entry and field", () => {
    const [e] = parsePlist(v09);
    assert.throws(
      () => serializePlist([{ ...e, uname: "a|b" }]),
      (err: unknown) =>
        err instanceof InputError && /plist entry "\/bin\/app": uname: contains "\|"/.test(err.message),
    );
    assert.throws(() => serializePlist([{ ...e, path: "/bin/a\nb" }]), /path: contains a line break/);
    assert.throws(() => serializePlist([{ ...e, extended: "x|y" }]), /extended: contains "\|"/);
    assert.throws(() => serializePlist([{ ...e, mode: 0o17777 }]), /mode: must be mode bits/);
  });
});

describe("plist from a directory: every kind of entry round-trips", () => {
  let dir: string;
  let tree: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-plist-"));
    tree = path.join(dir, "tree");
    fs.mkdirSync(tree);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("files, executable, setuid/setgid, symlinks to file and dir, spaces, empty and non-empty dirs", async () => {
    const w = (rel: string, body: string, mode: number, time = 1500000000): void => {
      fs.mkdirSync(path.dirname(path.join(tree, rel)), { recursive: true });
      fs.writeFileSync(path.join(tree, rel), body);
      fs.chmodSync(path.join(tree, rel), mode);
      fs.utimesSync(path.join(tree, rel), time, time);
    };
    w("bin/run", "#!/bin/sh\necho hi\n", 0o755);
    w("bin/su-helper", "setuid body", 0o4755);
    w("bin/sg-helper", "setgid body", 0o2711, 1500000100);
    w("etc/app.conf", "port=8080\n", 0o600);
    w("my docs/read me.txt", "spaces in the name\n", 0o644);
    w("empty-file", "", 0o640);
    fs.chmodSync(path.join(tree, "bin"), 0o750);
    fs.mkdirSync(path.join(tree, "var/empty"), { recursive: true });
    fs.chmodSync(path.join(tree, "var/empty"), 0o711);
    fs.mkdirSync(path.join(tree, "tmp"));
    fs.chmodSync(path.join(tree, "tmp"), 0o1777);
    fs.symlinkSync("bin/run", path.join(tree, "start"));
    fs.symlinkSync("/etc", path.join(tree, "etc-link"));
    fs.symlinkSync("../my docs", path.join(tree, "bin/docs"));
    // Owner names: resolved from the given passwd/group files (uid 4242 -> alice, gid 4343 -> staffers).
    const passwd = path.join(dir, "passwd");
    const group = path.join(dir, "group");
    fs.writeFileSync(passwd, "root:x:0:0:root:/root:/bin/sh\nalice:x:4242:4343::/home/alice:/bin/sh\n");
    fs.writeFileSync(group, "root:x:0:\nstaffers:x:4343:\n");
    fs.chownSync(path.join(tree, "etc/app.conf"), 4242, 4343);
    fs.chownSync(path.join(tree, "empty-file"), 5000, 5001); // no name: kept as digits
    fs.chmodSync(path.join(tree, "empty-file"), 0o640);

    const store = memoryStore();
    const entries = await buildPlistFromDirectory(
      tree,
      async (abs) => (await storeBrotli(fs.createReadStream(abs), store.add)).cid,
      { passwdFile: passwd, groupFile: group },
    );
    const text = serializePlist(entries);
    readerAccepts(text);
    const parsed = parsePlist(text);
    assert.deepEqual(parsed, entries, "serialize -> parse gives the same entries");

    const st = (rel: string) => fs.lstatSync(path.join(tree, rel));
    const t = (rel: string) => ({
      ctime: Math.floor(st(rel).ctimeMs / 1000),
      mtime: Math.floor(st(rel).mtimeMs / 1000),
    });
    // The hash is that of the stored bytes, which must be brotli of the file's content.
    const storedHash = (rel: string, body: string): string => {
      const h = parsed.find((e) => e.path === `/${rel}`)?.hash ?? "";
      assert.ok(store.blobs[h], `/${rel} stored under its hash`);
      assert.equal(zlib.brotliDecompressSync(store.blobs[h]).toString(), body, `/${rel} content`);
      return h;
    };
    const file = (rel: string, body: string, mode: number, uname = "root", gname = "root"): PlistEntry => ({
      path: `/${rel}`,
      hash: storedHash(rel, body),
      size: Buffer.byteLength(body),
      uname,
      gname,
      mode,
      type: FILETYPE_FILE,
      ...t(rel),
      extended: "",
    });
    const dirEntry = (rel: string, mode: number): PlistEntry => ({
      path: `/${rel}`,
      hash: "",
      size: 0,
      uname: "root",
      gname: "root",
      mode,
      type: FILETYPE_DIR,
      ...t(rel),
      extended: "",
    });
    const link = (rel: string, target: string): PlistEntry => ({
      path: `/${rel}`,
      hash: "",
      size: 0,
      uname: "root",
      gname: "root",
      mode: st(rel).mode & 0o7777,
      type: FILETYPE_SYMLINK,
      ...t(rel),
      extended: target,
    });
    const expected: PlistEntry[] = [
      dirEntry("bin", 0o750),
      link("bin/docs", "../my docs"),
      file("bin/run", "#!/bin/sh\necho hi\n", 0o755),
      file("bin/sg-helper", "setgid body", 0o2711),
      file("bin/su-helper", "setuid body", 0o4755),
      file("empty-file", "", 0o640, "5000", "5001"),
      dirEntry("etc", 0o755),
      link("etc-link", "/etc"),
      file("etc/app.conf", "port=8080\n", 0o600, "alice", "staffers"),
      dirEntry("my docs", 0o755),
      file("my docs/read me.txt", "spaces in the name\n", 0o644),
      link("start", "bin/run"),
      dirEntry("tmp", 0o1777),
      dirEntry("var", 0o755),
      dirEntry("var/empty", 0o711),
    ];
    // Same order as `expected` is written in: sorted by path, so a directory precedes its children.
    assert.deepEqual(parsed, expected);
    assert.ok(text.includes("/bin/su-helper|"), "a space-free line");
    assert.ok(text.includes("/my docs/read me.txt|"), "spaces kept verbatim");
    assert.ok(text.includes("|4755|2|"), "setuid bit written as 4755");
    // The stored bytes are brotli: what core0's reader decompresses gives the original content.
    const run = parsed.find((e) => e.path === "/bin/run")!;
    assert.equal(zlib.brotliDecompressSync(store.blobs[run.hash]).toString(), "#!/bin/sh\necho hi\n");
    assert.notEqual(store.blobs[run.hash].toString(), "#!/bin/sh\necho hi\n", "not stored plain");
  });

  it("refuses a name with | or a line break, and a FIFO, naming the path", async () => {
    const hash = async () => "h";
    fs.writeFileSync(path.join(tree, "a|b"), "x");
    await assert.rejects(
      buildPlistFromDirectory(tree, hash),
      (e: unknown) =>
        e instanceof InputError && /file "\/a\|b": contains "\|", the field separator/.test(e.message),
    );
    fs.rmSync(path.join(tree, "a|b"));
    fs.symlinkSync("x|y", path.join(tree, "l"));
    await assert.rejects(buildPlistFromDirectory(tree, hash), /symlink "\/l": target contains "\|"/);
    fs.rmSync(path.join(tree, "l"));
    fs.writeFileSync(path.join(tree, "new\nline"), "x");
    await assert.rejects(buildPlistFromDirectory(tree, hash), /contains a line break/);
    fs.rmSync(path.join(tree, "new\nline"));
    require("child_process").execFileSync("mkfifo", [path.join(tree, "pipe")]);
    await assert.rejects(buildPlistFromDirectory(tree, hash), /file "\/pipe": is a socket, FIFO or device/);
  });
});

describe("coreXRequiredEntries", () => {
  it("adds /proc (coreX mounts proc there) unless the root already has it", () => {
    const [proc] = coreXRequiredEntries([], 1500000000);
    assert.deepEqual(proc, {
      path: "/proc",
      hash: "",
      size: 0,
      uname: "root",
      gname: "root",
      mode: 0o555,
      type: FILETYPE_DIR,
      ctime: 1500000000,
      mtime: 1500000000,
      extended: "",
    });
    assert.deepEqual(coreXRequiredEntries([proc], 1), []);
    assert.deepEqual(coreXRequiredEntries([{ ...proc, path: "/proc/self" }], 1), []);
    assert.equal(coreXRequiredEntries([{ ...proc, path: "/procfs" }], 1).length, 1);
  });
});

describe("storeBrotli", function () {
  this.timeout(120_000);

  it("streams: memory stays flat for a 192 MiB source", async () => {
    const total = 192 * 2 ** 20;
    const chunk = 256 * 1024;
    let made = 0;
    // Pseudo-random but partly compressible chunks, generated on demand.
    const source = new Readable({
      read() {
        if (made >= total) return void this.push(null);
        const b = crypto.randomBytes(chunk / 2);
        this.push(Buffer.concat([b, Buffer.alloc(chunk / 2, made & 0xff)]));
        made += chunk;
      },
    });
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    let consumed = 0;
    try {
      const r = await storeBrotli(
        source,
        async (s) => {
          const h = crypto.createHash("sha256");
          for await (const c of s) {
            consumed += (c as Buffer).length;
            h.update(c as Buffer);
          }
          return { cid: h.digest("hex") };
        },
        { quality: 1 },
      );
      assert.equal(r.size, total);
      assert.equal(r.storedBytes, consumed);
      assert.ok(r.storedBytes < total, "compressed");
    } finally {
      clearInterval(sampler);
    }
    const grew = (peak - before) / 2 ** 20;
    assert.ok(grew < 96, `rss grew ${grew.toFixed(0)} MiB for a 192 MiB source`);
  });

  it("a failing source fails the add instead of hanging", async () => {
    const source = new Readable({
      read() {
        this.destroy(new Error("disk read failed"));
      },
    });
    await assert.rejects(
      storeBrotli(source, async (s) => {
        for await (const c of s) void c;
        return { cid: "never" };
      }),
      /disk read failed/,
    );
  });

  describe("into a real IPFS daemon", () => {
    let ipfs: IpfsDaemon;
    before(async function () {
      this.timeout(120_000);
      ipfs = await startIpfsDaemon();
    });
    after(async () => ipfs?.stop());

    it("hash = IPFS hash of the compressed bytes; cat + brotli-decompress = the file", async () => {
      const client = new IpfsClient(ipfs.apiUrl);
      const body = Buffer.from("hello core0 ".repeat(5000));
      const stored = await storeBrotli(Readable.from([body]), (s) =>
        client.addStream(s, { cidVersion: 1, rawLeaves: true }),
      );
      assert.equal(stored.size, body.length);
      const compressed = await client.catBuffer(stored.cid);
      assert.equal(compressed.length, stored.storedBytes);
      assert.ok(compressed.length < body.length / 10);
      assert.deepEqual(zlib.brotliDecompressSync(compressed), body);
      const again = await client.addBytes(compressed, { cidVersion: 1, rawLeaves: true, onlyHash: true });
      assert.equal(again.cid, stored.cid);
    });
  });
});
