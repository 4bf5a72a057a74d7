import { createRequire } from "node:module";
import { dirname, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { AnyConnector } from "./registry.ts";

function isConnector(value: unknown): value is AnyConnector {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as AnyConnector).name === "string" &&
    typeof (value as AnyConnector).deliver === "function" &&
    Array.isArray((value as AnyConnector).handles)
  );
}

/**
 * Loads connector modules named by `plugins:`. A module exports connectors made with
 * `defineConnector` as its default export (one or an array) or as a named `connectors` array.
 * Paths are relative to the config file; bare names are resolved from there like `require` would.
 */
export async function loadPlugins(
  specifiers: readonly string[],
  configFile: string | undefined,
): Promise<AnyConnector[]> {
  const base = configFile ? dirname(configFile) : process.cwd();
  const found: AnyConnector[] = [];
  for (const specifier of specifiers) {
    let url: string;
    if (specifier.startsWith(".") || isAbsolute(specifier))
      url = pathToFileURL(resolve(base, specifier)).href;
    else {
      try {
        url = pathToFileURL(createRequire(resolve(base, "noop.js")).resolve(specifier)).href;
      } catch {
        url = specifier;
      }
    }
    let module: Record<string, unknown>;
    try {
      module = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`plugin ${specifier} cannot be loaded: ${(error as Error).message}`);
    }
    const exported = [module.default, module.connectors].flat().filter((v) => v !== undefined);
    const connectors = exported.filter(isConnector);
    if (connectors.length === 0)
      throw new Error(`plugin ${specifier} exports no connector (default export or \`connectors\`)`);
    found.push(...connectors);
  }
  return found;
}
