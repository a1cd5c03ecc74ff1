/**
 * The workflows layer: build runs of the build tree (seed 001), one folder per step. Each step is
 * a Pulumi-free core (usable from scripts, tests and benchmarks) with a thin dynamic resource over
 * it; the resources keep their type tokens (`pulumi-nodejs:dynamic/build:<Type>`), so URNs are
 * those of the former providers/build/. Workflows use providers' plain clients and
 * providers/shared; providers never import workflows.
 *
 * - app-tree/: read and validate the build tree (one YAML file per app).
 * - app-build/: `AppBuild`, build one app on the build node, files and plist into IPFS.
 * - app-test/: `AppTest`, test the apps in core0 containers across the core0 nodes.
 * - templates-release/: `TemplatesRelease`, the plists into the templates repo per branch.
 * The composition of one run is components/build-run (`BuildRun`).
 */
export * from "./app-tree";
export {
  AppBuild,
  type AppBuildArgs,
  type AppBuildInputs,
  type AppBuildOutputs,
  type BuiltFile,
  appBuildProvider,
  buildApp,
  canonicalJson,
  computeBuildId,
  resolveSourceCommit,
} from "./app-build";
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
