/**
 * test/ts-register.js, the tests' cached transpile hook: it runs TypeScript as ts-node's
 * transpile-only mode does, a warm cache skips TypeScript altogether, an edited file is never
 * served stale, and stack traces point at the .ts lines.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TS_REGISTER } from "../ts-register-path";

describe("the tests' cached TypeScript hook (test/ts-register.js)", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-tsreg-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Runs `main.ts` in a fresh Node with only the hook; prints JSON of what the file reports. */
  function run(env: Record<string, string> = {}): { out: Record<string, unknown>; stderr: string } {
    const env2: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete env2.NODE_COMPILE_CACHE;
    let stderr = "";
    try {
      const out = execFileSync(process.execPath, ["-r", TS_REGISTER, path.join(dir, "main.ts")], {
        encoding: "utf8",
        env: env2,
        stdio: ["ignore", "pipe", "pipe"],
      });
      return { out: JSON.parse(out) as Record<string, unknown>, stderr };
    } catch (err) {
      stderr = String((err as { stderr?: string }).stderr);
      throw new Error(`main.ts failed: ${stderr}`);
    }
  }

  function write(value: string): void {
    // Parameter properties, an enum and a type-only import: what plain type stripping would refuse.
    fs.writeFileSync(
      path.join(dir, "lib.ts"),
      [
        `export enum Kind { A = ${JSON.stringify(value)} }`,
        "export class Box { constructor(readonly v: Kind) {} }",
        "export function fail(): never {",
        '  throw new Error("from lib");',
        "}",
      ].join("\n"),
    );
    fs.writeFileSync(
      path.join(dir, "main.ts"),
      [
        'import type { Kind as _K } from "./lib";',
        'import { Box, Kind, fail } from "./lib";',
        "let line = '';",
        "try { fail(); } catch (e) { line = String((e as Error).stack).split('\\n')[1]; }",
        "const loaded = Object.keys(require.cache).some((k) => /node_modules[\\\\/]typescript[\\\\/]/.test(k));",
        "console.log(JSON.stringify({ v: new Box(Kind.A).v, line, loaded }));",
      ].join("\n"),
    );
  }

  it("runs TypeScript; a second process reads the cache and never loads TypeScript", () => {
    write(`first-${process.pid}-${Date.now()}`);
    const cold = run();
    assert.match(String(cold.out.v), /^first-/);
    assert.equal(cold.out.loaded, true, "a cold cache transpiles with TypeScript");
    const warm = run();
    assert.deepEqual(warm.out, { ...cold.out, loaded: false });
  });

  it("an edited file is transpiled again, never served from the cache", () => {
    write("one");
    assert.equal(run().out.v, "one");
    write("two");
    assert.equal(run().out.v, "two");
  });

  it("stack traces point at the .ts file and line", () => {
    write("trace");
    const { out } = run();
    assert.match(String(out.line), new RegExp(`lib\\.ts:4:`), String(out.line));
  });
});
