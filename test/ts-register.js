"use strict";
/**
 * Test-side require hook for `.ts` files: what `ts-node/register/transpile-only` does (each file
 * through `typescript.transpileModule` with the repository's compiler options, no type check), with
 * the output cached on disk under node_modules/.cache/g8os-ts, keyed by the file's path and content,
 * the TypeScript version and the options. The tests start hundreds of Node processes (stack
 * programs under the engine harness, stand-in daemons); transpiling the product tree again in each
 * was seconds of CPU per process. With a warm cache TypeScript is not even loaded.
 *
 * Use: `node -r ./test/ts-register.js file.ts`; from a test, TS_REGISTER in test/ts-register-path.ts.
 * Stack traces keep pointing at the .ts lines: the output carries an inline source map and source maps are on.
 * Plain JavaScript with no dependency but TypeScript, so it needs no transpiling itself.
 */
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const CACHE_DIR = path.join(ROOT, "node_modules", ".cache", "g8os-ts");
/** Bumped when this file's output changes for the same input. */
const FORMAT = "1";

let ts;
let compilerOptions;
let optionsKey;

function typescript() {
  if (!ts) ts = require("typescript");
  return ts;
}

/** The key part for the options: tsconfig.json's text, read once (TypeScript parses it only on a miss). */
function optionsText() {
  if (optionsKey === undefined) {
    const tsconfig = path.join(ROOT, "tsconfig.json");
    const tsVersion = JSON.parse(
      fs.readFileSync(path.join(path.dirname(require.resolve("typescript")), "..", "package.json"), "utf8"),
    ).version;
    optionsKey = `${FORMAT}\0${tsVersion}\0${fs.readFileSync(tsconfig, "utf8")}`;
  }
  return optionsKey;
}

function options() {
  if (!compilerOptions) {
    const t = typescript();
    const tsconfig = path.join(ROOT, "tsconfig.json");
    const read = t.readConfigFile(tsconfig, t.sys.readFile);
    if (read.error)
      throw new Error(`${tsconfig}: ${t.flattenDiagnosticMessageText(read.error.messageText, "\n")}`);
    const parsed = t.parseJsonConfigFileContent(read.config, t.sys, ROOT);
    // As ts-node sets them: one file in, JavaScript out, the map inline so Node can use it.
    compilerOptions = {
      ...parsed.options,
      sourceMap: false,
      inlineSourceMap: true,
      inlineSources: true,
      declaration: false,
      declarationMap: false,
      noEmit: false,
      outDir: undefined,
    };
  }
  return compilerOptions;
}

function transpile(source, filename) {
  const key = crypto.createHash("sha256").update(optionsText()).update("\0").update(filename).update("\0");
  const file = path.join(CACHE_DIR, `${key.update(source).digest("hex")}.js`);
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    // a miss: transpile below
  }
  const out = typescript().transpileModule(source, {
    compilerOptions: options(),
    fileName: filename,
    reportDiagnostics: false,
  }).outputText;
  // Another process may be writing the same entry: write aside, then rename (atomic). A process
  // that may not write there (a test running a child as another user) just goes without the cache.
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`;
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    fs.writeFileSync(tmp, out);
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
  return out;
}

// V8's code cache too (Node >= 22.1), for this process and, through the environment, every Node
// child the tests start (dynamic-provider hosts included): a bytecode cache, no change in behaviour.
if (!process.env.NODE_COMPILE_CACHE) {
  process.env.NODE_COMPILE_CACHE = path.join(ROOT, "node_modules", ".cache", "g8os-node");
  require("module").enableCompileCache?.(process.env.NODE_COMPILE_CACHE);
}
process.setSourceMapsEnabled(true);
require.extensions[".ts"] = function (module, filename) {
  module._compile(transpile(fs.readFileSync(filename, "utf8"), filename), filename);
};
