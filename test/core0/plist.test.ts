import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  buildPlistFromDirectory,
  FILETYPE_DIR,
  FILETYPE_FILE,
  FILETYPE_SYMLINK,
  parsePlist,
  PlistParseError,
  serializePlist,
} from "../../providers/plist";

describe("plist format", () => {
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

  it("round-trips through serialize and parse", () => {
    const entries = parsePlist(v09);
    const text = serializePlist(entries);
    assert.ok(text.startsWith("#"), "header comment first");
    assert.deepEqual(parsePlist(text), entries);
    assert.equal(serializePlist(parsePlist(text)), text);
  });

  const bad: Array<[string, string, number, RegExp]> = [
    ["too few fields", "/a|h|1|root|root|644|2|1|1", 1, /9 fields, expected 10/],
    ["relative path", "a|h|1|root|root|644|2|1|1|", 1, /must start with "\/"/],
    ["bad size", "/a|h|x|root|root|644|2|1|1|", 1, /filesize "x" must be a whole number/],
    ["bad permissions", "/a|h|1|root|root|rwx|2|1|1|", 1, /permissions "rwx" must be octal/],
    ["unknown type", "/a|h|1|root|root|644|7|1|1|", 1, /filetype 7 is not/],
    ["file without hash", "/a||1|root|root|644|2|1|1|", 1, /has no hash/],
    ["dot-dot", "/a/../etc/passwd|h|1|root|root|644|2|1|1|", 1, /must not contain ".."/],
  ];
  for (const [what, line, lineNo, re] of bad) {
    it(`rejects ${what} with the line number`, () => {
      const text = `# header\n\n${line}`;
      assert.throws(
        () => parsePlist(text, "app.plist"),
        (e: unknown) =>
          e instanceof PlistParseError &&
          e.line === lineNo + 2 &&
          re.test(e.message) &&
          /app\.plist line 3/.test(e.message),
      );
    });
  }

  it("rejects a path listed twice, naming both lines", () => {
    const line = "/a|h|1|root|root|644|2|1|1|";
    assert.throws(() => parsePlist(`${line}\n${line}`), /line 2: filepath "\/a" is already listed on line 1/);
  });

  it("refuses to serialize a field holding the separator", () => {
    const [e] = parsePlist(v09);
    assert.throws(() => serializePlist([{ ...e, uname: "a|b" }]), /uname contains "\|"/);
  });

  it("builds entries from a directory: modes, sizes, mtimes, empty dirs, symlinks", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-plist-"));
    try {
      fs.mkdirSync(path.join(dir, "bin"));
      fs.writeFileSync(path.join(dir, "bin/run"), "#!/bin/sh\necho hi\n", { mode: 0o750 });
      fs.chmodSync(path.join(dir, "bin/run"), 0o750);
      fs.writeFileSync(path.join(dir, "README"), "hello");
      fs.utimesSync(path.join(dir, "README"), 1500000000, 1500000000);
      fs.mkdirSync(path.join(dir, "var/empty"), { recursive: true });
      fs.chmodSync(path.join(dir, "var/empty"), 0o711);
      fs.symlinkSync("bin/run", path.join(dir, "start"));
      const hashed: string[] = [];
      const entries = await buildPlistFromDirectory(dir, async (abs, rel) => {
        hashed.push(rel);
        return `hash-of-${fs.readFileSync(abs, "utf8").length}`;
      });
      assert.deepEqual(
        entries.map((e) => [e.path, e.type]),
        [
          ["/README", FILETYPE_FILE],
          ["/bin/run", FILETYPE_FILE],
          ["/start", FILETYPE_SYMLINK],
          ["/var/empty", FILETYPE_DIR],
        ],
      );
      assert.deepEqual(hashed.sort(), ["/README", "/bin/run"]);
      const byPath = new Map(entries.map((e) => [e.path, e]));
      assert.equal(byPath.get("/bin/run")!.mode, 0o750);
      assert.equal(byPath.get("/bin/run")!.hash, "hash-of-18");
      assert.equal(byPath.get("/README")!.size, 5);
      assert.equal(byPath.get("/README")!.mtime, 1500000000);
      assert.equal(byPath.get("/var/empty")!.mode, 0o711);
      assert.equal(byPath.get("/start")!.extended, "bin/run");
      assert.deepEqual(parsePlist(serializePlist(entries)), entries);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
