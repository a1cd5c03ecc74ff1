export * from "./app-test";
