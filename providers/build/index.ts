export * from "./app-test";
export * from "./templates-release";
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
