import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
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

/** `scheme:` prefixes: code from a URL (`data:`, `http(s):`) is never run; `file:` is a path. */
const SCHEME = /^([a-z][a-z0-9+.-]+):/i;

/** The module a directory plugin names in its package.json (`exports`, `module`, `main`). */
function entryOfDirectory(dir: string, specifier: string): string {
  let pkg: { exports?: unknown; module?: unknown; main?: unknown };
  try {
    pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  } catch {
    throw new Error(`plugin ${specifier} is a directory without a readable package.json`);
  }
  const pick = (entry: unknown): string | undefined => {
    if (typeof entry === "string") return entry;
    if (entry === null || typeof entry !== "object") return undefined;
    const e = entry as Record<string, unknown>;
    return pick(e["."] ?? e.import ?? e.node ?? e.default);
  };
  const main = pick(pkg.exports) ?? [pkg.module, pkg.main].find((v) => typeof v === "string") ?? "index.js";
  return resolve(dir, main as string);
}

/** Where a `plugins:` entry points: a file, a directory with a package.json, or a package name. */
export function resolvePlugin(specifier: string, base: string): string {
  const scheme = SCHEME.exec(specifier)?.[1]?.toLowerCase();
  if (scheme && scheme !== "file") {
    throw new Error(
      `plugin ${specifier} is refused: plugins are files, directories or package names, not ${scheme}: URLs`,
    );
  }
  if (scheme === "file" || specifier.startsWith(".") || isAbsolute(specifier)) {
    const path = scheme === "file" ? fileURLToPath(specifier) : resolve(base, specifier);
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      throw new Error(`plugin ${specifier} cannot be loaded: ${path} does not exist`);
    }
    return pathToFileURL(isDirectory ? entryOfDirectory(path, specifier) : path).href;
  }
  // A package installed beside the config: its ESM entry, found the way Node looks for packages
  // (node_modules of the config's directory and each parent). `require.resolve` would pick the
  // CommonJS build of a dual package, or fail on an ESM-only one.
  const installed = packageDirectory(specifier, base);
  if (installed) return pathToFileURL(entryOfDirectory(installed, specifier)).href;
  try {
    return pathToFileURL(createRequire(resolve(base, "noop.js")).resolve(specifier)).href;
  } catch {
    return specifier;
  }
}

/** `<dir>/node_modules/<name>` of the nearest directory from `base` up that has it (bare names only). */
function packageDirectory(specifier: string, base: string): string | undefined {
  if (!/^(@[^/]+\/)?[^/@][^/]*$/.test(specifier)) return undefined;
  for (let dir = resolve(base); ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", specifier);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Why a module could not be loaded, without its message: a syntax error quotes the file's text, and
 * a plugin path pointing at the wrong file (a key file, say) must not print it.
 */
function loadFailure(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown };
  if (e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND") return "module not found";
  const name = typeof e?.name === "string" ? e.name : "Error";
  const code = typeof e?.code === "string" ? ` ${e.code}` : "";
  return `${name}${code} while loading it (run it with node to see the details)`;
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
    const url = resolvePlugin(specifier, base);
    let module: Record<string, unknown>;
    try {
      module = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`plugin ${specifier} cannot be loaded: ${loadFailure(error)}`);
    }
    const exported = [module.default, module.connectors].flat().filter((v) => v !== undefined);
    const connectors = exported.filter(isConnector);
    if (connectors.length === 0)
      throw new Error(`plugin ${specifier} exports no connector (default export or \`connectors\`)`);
    found.push(...connectors);
  }
  return found;
}
