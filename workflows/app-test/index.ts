/**
 * The app-test workflow step: test built apps in core0 containers across the core0 nodes.
 * Pulumi-free core: check.ts, container.ts, runner.ts (the test runner), report.ts (Telegram);
 * resource.ts is the AppTest resource over it.
 */
export { AppTest, type AppTestArgs, appTestProvider } from "./resource";
export { checkAppTestInputs } from "./check";
export { judgeTest } from "./container";
export { type RunAppTestsOptions, failuresOf, runAppTests, staleApps, terminateLeftovers } from "./runner";
export * from "./types";
