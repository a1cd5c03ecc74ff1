/**
 * TemplatesRelease's check without git or IPFS: the test gate is a required input (a release
 * without it would push untested plists), and a failed gate names the failures. Inputs from the
 * state-compat fixture (a valid release).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { checkReleaseInputs, type TemplatesReleaseInputs } from "../../workflows/templates-release";

const valid = (): TemplatesReleaseInputs =>
  JSON.parse(
    fs.readFileSync(path.join(__dirname, "fixtures", "state-compat", "templates-release.json"), "utf8"),
  ).raw as TemplatesReleaseInputs;

describe("build: TemplatesRelease check (no git, no IPFS)", () => {
  it("a valid release has no failures", () => {
    assert.deepEqual(checkReleaseInputs(valid()), []);
  });

  it("the tests gate is required: without it nothing may be released", () => {
    const { tests: _tests, ...noGate } = valid();
    const failures = checkReleaseInputs(noGate);
    assert.deepEqual(failures, [
      {
        property: "tests",
        reason:
          "is required. Fix: set tests to the AppTest's outcome: { passed: appTest.passed, failures: appTest.failures }",
      },
    ]);
  });

  it("a failed gate names the failures; bad branches and dirs are named with their index", () => {
    const i = valid();
    const failures = checkReleaseInputs({
      ...i,
      branches: ["master", "bad..name"],
      apps: [{ ...i.apps[0], dirs: ["../outside"] }],
      tests: { passed: false, failures: ["hello/ping: exit code 1, expected 0"] },
    });
    assert.deepEqual(
      failures.map((f) => f.property),
      ["branches[1]", "tests", "apps[0].dirs[0]"],
    );
    assert.match(
      failures[1].reason,
      /hello\/ping: exit code 1, expected 0.*nothing is released\. Fix: make the failing apps pass/,
    );
  });
});
