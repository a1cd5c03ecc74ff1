/**
 * The core0 emulator must stay independent of the product (issue #13): eslint.config.mjs forbids
 * imports and require() calls of providers/ under test/testbed/core0-emulator/. These run ESLint's
 * Node API on deliberate violations to prove the rule fires there (and only there).
 */
import * as assert from "assert";
import * as path from "path";

const ROOT = path.join(__dirname, "../..");

async function lint(code: string, file: string): Promise<Array<{ ruleId: string | null; message: string }>> {
  const { ESLint } = require("eslint") as typeof import("eslint");
  const eslint = new ESLint({ cwd: ROOT });
  const [res] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return res.messages.map((m) => ({ ruleId: m.ruleId, message: m.message }));
}

describe("core0 emulator lint rule: no product imports", function () {
  this.timeout(60_000);
  const importing =
    'import { Core0Client } from "../../../providers/core0/client";\nexport const c = Core0Client;\n';
  const requiring = 'export const e = require("../../../providers/shared/errors");\n';

  it("an import from providers/ inside the emulator folder is an error", async () => {
    const msgs = await lint(importing, "test/testbed/core0-emulator/violation.ts");
    assert.ok(
      msgs.some((m) => m.ruleId === "no-restricted-imports"),
      JSON.stringify(msgs),
    );
  });

  it("a require() of providers/ inside the emulator folder is an error", async () => {
    const msgs = await lint(requiring, "test/testbed/core0-emulator/sub/violation.ts");
    assert.ok(
      msgs.some((m) => m.ruleId === "no-restricted-syntax"),
      JSON.stringify(msgs),
    );
  });

  it("the same code elsewhere in the testbed is allowed", async () => {
    const msgs = await lint(importing + requiring, "test/testbed/other.ts");
    assert.deepEqual(
      msgs.filter((m) => m.ruleId === "no-restricted-imports" || m.ruleId === "no-restricted-syntax"),
      [],
    );
  });

  it("the emulator's own files pass the rule", async () => {
    const { ESLint } = require("eslint") as typeof import("eslint");
    const results = await new ESLint({ cwd: ROOT }).lintFiles(["test/testbed/core0-emulator/**/*.ts"]);
    const hits = results.flatMap((r) =>
      r.messages.filter((m) => m.ruleId === "no-restricted-imports" || m.ruleId === "no-restricted-syntax"),
    );
    assert.ok(results.length >= 10, `linted ${results.length} files`);
    assert.deepEqual(hits, []);
  });
});
