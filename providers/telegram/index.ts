export * from "./client";
export * from "./message";
