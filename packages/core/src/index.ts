export * from "./abort.ts";
export * from "./connector.ts";
export * from "./decrypt.ts";
export * from "./events.ts";
export * from "./http-answer.ts";
export * from "./secret.ts";
export { lowerKeys } from "./tolerant.ts";
export * from "./verify.ts";
export * from "./verify-and-parse.ts";
