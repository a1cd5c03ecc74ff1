// Part B: app tests and the templates release. Named exports: tree.ts has an `AppTest` (a test
// definition) too; the resource class wins here, import the tree type from "./tree" directly.
export {
  AppTest,
  type AppTestArgs,
  type AppTestCase,
  type AppTestInputs,
  type AppTestLeftover,
  type AppTestOutputs,
  type AppTestResult,
  type AppUnderTest,
  type ContainerProcess,
  type TestCaseResult,
  type RunAppTestsOptions,
  type TestNode,
  appTestProvider,
  runAppTests,
  terminateLeftovers,
  staleApps,
  failuresOf,
} from "./app-test";
export {
  TemplatesRelease,
  type TemplatesReleaseArgs,
  type TemplatesReleaseInputs,
  type TemplatesReleaseOutputs,
  type BranchRelease,
  type ReleaseApp,
  templatesReleaseProvider,
  release as releaseTemplates,
  addTreeToIpfs,
} from "./templates-release";
// Part A: build tree and AppBuild.
export * from "./tree";
export {
  AppBuild,
  type AppBuildArgs,
  type AppBuildInputs,
  type AppBuildOutputs,
  type BuiltFile,
  appBuildProvider,
  canonicalJson,
  computeBuildId,
  resolveSourceCommit,
} from "./app-build";
