export * from "./client.ts";
export * from "./errors.ts";
export { mapContact, toBoolean } from "./map.ts";
export { VERSION } from "./version.ts";
