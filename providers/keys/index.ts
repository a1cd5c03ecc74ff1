export * from "./client";
export * from "./group";
