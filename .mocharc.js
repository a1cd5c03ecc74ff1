// One mocha run covers everything `npm test` promises: unit tests, the engine harness
// self-test, and the testbed suites (which need root and start real services).
module.exports = {
  require: ["ts-node/register/transpile-only"],
  extension: ["ts"],
  spec: process.env.G8OS_TEST_SPEC ? process.env.G8OS_TEST_SPEC.split(",") : ["test/**/*.test.ts"],
  timeout: 120000,
  reporter: "spec",
  exit: true,
};
