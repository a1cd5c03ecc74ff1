// `npm test` runs every suite except those that boot real (TCG) guests; `npm run test:vm` runs
// those. CI (.ci/run) runs both. G8OS_TEST_SPEC=a,b runs only the given files/globs.
const VM_SUITES = [
  "test/libvirt/real.test.ts",
  "test/libvirt/harness.test.ts",
  "test/vm/recycle*.test.ts",
  "test/vm/**/*.vm.test.ts",
];
const env = process.env;

module.exports = {
  // ts-node transpile-only, cached on disk (test/ts-register.js)
  require: [require("path").join(__dirname, "test", "ts-register.js")],
  extension: ["ts"],
  spec: env.G8OS_TEST_SPEC
    ? env.G8OS_TEST_SPEC.split(",")
    : env.G8OS_TEST_VM
      ? VM_SUITES
      : ["test/**/*.test.ts"],
  ignore: env.G8OS_TEST_SPEC || env.G8OS_TEST_VM ? [] : VM_SUITES,
  timeout: 120000,
  // Spec output plus "N passed, N failed, N skipped"; as root in CI a skipped testbed/VM test fails.
  reporter: require("path").join(__dirname, "test", "reporter.ts"),
  exit: true,
};
