export * from "./samples.ts";
export * from "./sender.ts";
