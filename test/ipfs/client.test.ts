/**
 * IpfsClient against a real (offline) js-ipfs daemon: streamed add, onlyHash agreement, directory
 * add with .git ignored, pin lifecycle, and errors that name the API URL and the CID.
 */
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable } from "stream";
import { IpfsClient } from "../../providers/ipfs";
import { IpfsDaemon, startIpfsDaemon } from "../testbed/ipfs";

/** Deterministic pseudo-random bytes, generated chunk by chunk (never held whole). */
function generated(totalBytes: number, seed: string): Readable {
  let produced = 0;
  let counter = 0;
  return new Readable({
    read() {
      if (produced >= totalBytes) return void this.push(null);
      const n = Math.min(64 * 1024, totalBytes - produced);
      const chunk = Buffer.alloc(n);
      for (let off = 0; off < n; off += 32) {
        crypto.createHash("sha256").update(`${seed}:${counter++}`).digest().copy(chunk, off);
      }
      produced += n;
      this.push(chunk);
    },
  });
}

describe("ipfs: IpfsClient against js-ipfs", function () {
  this.timeout(120_000);
  let ipfs: IpfsDaemon;
  let client: IpfsClient;
  let dir: string;

  before(async () => {
    ipfs = await startIpfsDaemon();
    client = new IpfsClient(ipfs.apiUrl, { timeoutMs: 3000 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-ipfs-client-"));
  });
  after(async () => {
    await ipfs?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("stream-adds a generated 3 MiB file: same CID as onlyHash, bytes read back equal", async () => {
    const size = 3 * 2 ** 20 + 123;
    const hashed = await client.addStream(generated(size, "a"), { cidVersion: 1, onlyHash: true });
    const added = await client.addStream(generated(size, "a"), { cidVersion: 1 });
    assert.equal(added.cid, hashed.cid);
    // kubo-rpc-client's own add (fetch-based) agrees on the CID and its printed form.
    const { create } = require("kubo-rpc-client") as {
      create(o: { url: string }): { add(s: unknown, o: object): Promise<{ cid: { toString(): string } }> };
    };
    const viaKubo = await create({ url: ipfs.apiUrl }).add(generated(size, "a"), {
      cidVersion: 1,
      onlyHash: true,
    });
    assert.equal(viaKubo.cid.toString(), added.cid);
    assert.equal(added.bytes, size);
    assert.match(added.cid, /^baf/);
    const expected = crypto.createHash("sha256");
    for await (const c of generated(size, "a")) expected.update(c as Buffer);
    const got = crypto.createHash("sha256");
    let n = 0;
    for await (const c of client.cat(added.cid)) {
      got.update(c);
      n += c.length;
    }
    assert.equal(n, size);
    assert.equal(got.digest("hex"), expected.digest("hex"));
    const st = await client.stat(added.cid);
    assert.equal(st.size, size);
    assert.equal(st.type, "file");
    // Different content, different CID; onlyHash stores nothing (so it is not pinned).
    const other = await client.addStream(generated(1000, "b"), { cidVersion: 1, onlyHash: true });
    assert.notEqual(other.cid, added.cid);
    assert.equal(await client.pinLs(other.cid), undefined);
  });

  it("adds a directory with .git ignored; the root resolves to the tree", async () => {
    const tree = path.join(dir, "templates");
    fs.mkdirSync(path.join(tree, "apps", "hello"), { recursive: true });
    fs.mkdirSync(path.join(tree, ".git", "objects"), { recursive: true });
    fs.writeFileSync(path.join(tree, "apps", "hello", "hello.plist"), "plist body\n");
    fs.writeFileSync(path.join(tree, "README.md"), "# templates\n");
    fs.writeFileSync(path.join(tree, ".git", "HEAD"), "ref: refs/heads/master\n");
    const r = await client.addDirectory(tree, { cidVersion: 1 });
    const paths = r.entries.map((e) => e.path).sort();
    assert.deepEqual(paths, ["README.md", "apps", "apps/hello", "apps/hello/hello.plist"]);
    assert.ok(!paths.some((p) => p.includes(".git")));
    // The root resolves: /ipfs/<root>/apps/hello/hello.plist is the file's content.
    const plistCid = r.entries.find((e) => e.path === "apps/hello/hello.plist")!.cid;
    const viaRoot = await client.stat(`${r.cid}/apps/hello/hello.plist`);
    assert.equal(viaRoot.cid, plistCid);
    assert.equal((await client.catBuffer(`${r.cid}/apps/hello/hello.plist`)).toString(), "plist body\n");
    assert.equal((await client.stat(r.cid)).type, "directory");
    // Same tree, same root; a changed file changes the root; .git changes do not.
    fs.writeFileSync(path.join(tree, ".git", "HEAD"), "ref: refs/heads/other\n");
    assert.equal((await client.addDirectory(tree, { cidVersion: 1, onlyHash: true })).cid, r.cid);
    fs.writeFileSync(path.join(tree, "README.md"), "# templates v2\n");
    assert.notEqual((await client.addDirectory(tree, { cidVersion: 1, onlyHash: true })).cid, r.cid);
  });

  it("pin lifecycle: add pins, rm unpins (twice is fine), pin add brings it back", async () => {
    const { cid } = await client.addBytes("pin me " + Date.now(), { cidVersion: 1 });
    assert.equal((await client.pinLs(cid))?.type, "recursive");
    await client.pinRm(cid);
    assert.equal(await client.pinLs(cid), undefined);
    await client.pinRm(cid);
    await client.pinAdd(cid, { recursive: true, name: "again" });
    assert.equal((await client.pinLs(cid))?.type, "recursive");
  });

  it("errors name the API URL and the CID", async () => {
    // Valid CID whose content exists nowhere: the offline node searches until the deadline.
    const missing = (await client.addBytes("never stored " + Date.now(), { cidVersion: 1, onlyHash: true }))
      .cid;
    await assert.rejects(client.pinAdd(missing), (err: Error) => {
      assert.ok(err.message.includes(ipfs.apiUrl), err.message);
      assert.ok(err.message.includes(missing), err.message);
      assert.match(err.message, /pin add/);
      return true;
    });
    const dead = new IpfsClient("http://127.0.0.1:1", { timeoutMs: 2000 });
    await assert.rejects(dead.stat(missing), (err: Error) => {
      assert.ok(err.message.includes("http://127.0.0.1:1"), err.message);
      assert.ok(err.message.includes(missing), err.message);
      assert.match(err.message, /IPFS daemon runs/);
      return true;
    });
  });
});
