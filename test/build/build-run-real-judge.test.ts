/**
 * AppTest's judgement of a test's output, as the real build run showed it must work: a build tree
 * writes `expectOutput: "^3$"` for a program printing "3\n" (docs/BUILD-TREE.md, the sample tree).
 */
import { strict as assert } from "assert";
import { judgeTest } from "../../workflows/app-test";
import type { Core0Result } from "../../providers/core0/client";

const result = (stdout: string, stderr = "", state: Core0Result["state"] = "SUCCESS"): Core0Result =>
  ({ id: "t", command: "core.system", state, streams: [stdout, stderr], data: "", code: 0 }) as Core0Result;

describe("build: AppTest output expectations against real program output", () => {
  const test = (expectOutput: string) => ({ name: "t", command: "sh", expectOutput });

  it("an anchored pattern matches output that ends with newlines", () => {
    assert.equal(judgeTest(test("^3$"), result("3\n")).reason, "");
    assert.equal(judgeTest(test("^pong$"), result("pong\n\n")).reason, "");
  });

  it("stdout and stderr are joined by one newline, each without its trailing newlines", () => {
    assert.equal(judgeTest(test("^out\nerr$"), result("out\n", "err\n")).reason, "");
    assert.equal(judgeTest(test("^err$"), result("", "err\n")).reason, "", "empty stdout adds no line");
  });

  it("still fails what does not match, naming the pattern", () => {
    assert.equal(judgeTest(test("^3$"), result("33\n")).reason, "output does not match /^3$/");
    assert.equal(judgeTest(test("^3$"), result("3\nmore\n")).reason, "output does not match /^3$/");
  });
});
