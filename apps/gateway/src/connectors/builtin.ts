import type { ConnectorSandbox } from "@engage-bridge/testkit";
import { type AnyConnector, makeRegistry } from "./registry.ts";

/**
 * The built-in connector packages: one line each (`pnpm gen:connector` adds one). Each package's
 * default export is its connector, and its `./testing` entry says how sandbox mode runs it; nothing
 * else in the gateway names a connector. Plugins add more at run time (`plugins:`).
 */
export const BUILTIN_PACKAGES = [
  "@engage-bridge/connector-hubspot",
  "@engage-bridge/connector-sendgrid",
  "@engage-bridge/connector-google-sheets",
  "@engage-bridge/connector-webhook",
] as const;

export const BUILTIN_CONNECTORS: readonly AnyConnector[] = await Promise.all(
  BUILTIN_PACKAGES.map(async (name) => {
    const connector = ((await import(name)) as { default?: AnyConnector }).default;
    if (!connector?.name || typeof connector.deliver !== "function")
      throw new Error(`${name} has no connector as its default export`);
    return connector;
  }),
);

export const builtinRegistry = () => makeRegistry(BUILTIN_CONNECTORS);

/** The built-in connectors' sandboxes (their packages' `./testing` entries), loaded for sandbox mode only. */
export async function builtinSandboxes(): Promise<{ connector: AnyConnector; sandbox: ConnectorSandbox }[]> {
  return Promise.all(
    BUILTIN_PACKAGES.map(async (name, index) => {
      const testing = (await import(`${name}/testing`)) as { sandbox?: ConnectorSandbox };
      if (typeof testing.sandbox !== "function") throw new Error(`${name}/testing exports no sandbox()`);
      return { connector: BUILTIN_CONNECTORS[index] as AnyConnector, sandbox: testing.sandbox };
    }),
  );
}
