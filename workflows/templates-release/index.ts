/**
 * The templates-release workflow step: the tested plists into the AYS templates repo per branch,
 * the tree's hash on IPFS. Pulumi-free core: check.ts, release.ts; resource.ts is the
 * TemplatesRelease resource over it.
 */
export { TemplatesRelease, type TemplatesReleaseArgs, templatesReleaseProvider } from "./resource";
export { checkReleaseInputs, gateFailure, releaseFingerprint } from "./check";
export { addTreeToIpfs, release } from "./release";
export * from "./types";
