/**
 * The app-build workflow step: build one app on the build node, its files and plist into IPFS.
 * Pulumi-free core: source.ts (build identity), steps.ts + build.ts (the build); resource.ts is the
 * AppBuild resource over it.
 */
export { AppBuild, type AppBuildArgs, appBuildProvider } from "./resource";
export type { AppBuildInputs, AppBuildOutputs, BuiltFile } from "./types";
export { canonicalJson, computeBuildId, resolveSourceCommit } from "./source";
export { build as buildApp } from "./build";
