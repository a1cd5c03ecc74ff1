export * from "./app-test";
export * from "./templates-release";
