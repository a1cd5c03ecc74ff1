/**
 * `ts-node cockpit/main.ts --config <file>` as the README says to start it: it listens, answers
 * /api/health, stops cleanly on SIGTERM; a bad config exits 1 naming every bad key. 127.0.0.1 only.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { startIssuer, type Issuer } from "./issuer";
import { call, makeDirs, type Dirs } from "./setup";

const REPO = path.join(__dirname, "..", "..");
const NODE = path.join(REPO, "node_modules", "node", "bin", "node");

function launch(config: string) {
  const child = spawn(
    NODE,
    ["-r", "ts-node/register/transpile-only", path.join(REPO, "cockpit", "main.ts"), "--config", config],
    {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, out: () => out, err: () => err };
}

describe("cockpit main (the start command)", function () {
  this.timeout(120_000);
  let issuer: Issuer;
  let d: Dirs;
  before(async () => {
    issuer = await startIssuer();
    d = makeDirs();
  });
  after(async () => {
    await issuer.stop();
    fs.rmSync(d.root, { recursive: true, force: true });
  });

  it("starts from a YAML config, answers /api/health, stops on SIGTERM with exit 0", async () => {
    const file = path.join(d.root, "cockpit.yaml");
    fs.writeFileSync(
      file,
      [
        "listen: { host: 127.0.0.1, port: 0 }",
        `projectDir: ${d.projectDir}`,
        `dataDir: ${d.dataDir}`,
        `pulumi: { root: ${d.pulumiRoot}, passphraseFile: ${d.passphraseFile} }`,
        `auth: { mode: itsyouonline, jwksUrl: "${issuer.jwksUrl}", organization: build, operatorOrganization: build.ops }`,
      ].join("\n"),
    );
    const p = launch(file);
    try {
      const deadline = Date.now() + 60_000;
      let url: string | undefined;
      while (!url) {
        url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out())?.[1];
        if (Date.now() > deadline) assert.fail(`not listening: ${p.out()} ${p.err()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const h = await call(url, "GET", "/api/health");
      assert.strictEqual(h.status, 200);
      assert.strictEqual(h.json.ok, true);
      assert.strictEqual((await call(url, "GET", "/api/status")).status, 401);
      p.child.kill("SIGTERM");
      assert.strictEqual(await p.exited, 0, p.err());
      assert.match(p.out(), /SIGTERM, stopping/);
    } finally {
      p.child.kill("SIGKILL");
    }
  });

  it("a bad config exits 1 with one line per bad key, and nothing listens", async () => {
    const file = path.join(d.root, "bad.yaml");
    fs.writeFileSync(file, `projectDir: ${d.root}\nauth: { mode: ldap }\n`);
    const p = launch(file);
    assert.strictEqual(await p.exited, 1);
    for (const key of ["projectDir", "dataDir", "pulumi", "auth.mode"]) {
      assert.match(p.err(), new RegExp(`^  ${key.replace(".", "\\.")}: `, "m"), p.err());
    }
    assert.ok(!/listening/.test(p.out()));
  });

  it("without --config it prints the usage and exits 2", async () => {
    const child = spawn(
      NODE,
      ["-r", "ts-node/register/transpile-only", path.join(REPO, "cockpit", "main.ts")],
      { cwd: REPO },
    );
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.strictEqual(code, 2);
    assert.match(err, /usage: ts-node cockpit\/main.ts --config <file>/);
  });
});
