/**
 * The app-tree workflow step: read the build tree (one YAML file per app) and validate it, every
 * problem at once. Plain (no Pulumi): used by the build stack, BuildRun and scripts.
 */
export * from "./spec";
export { loadBuildTree } from "./load";
