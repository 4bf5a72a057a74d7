import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { loadPlugins } from "../connectors/plugins.ts";
import { type AnyConnector, type ConnectorRegistry, makeRegistry } from "../connectors/registry.ts";
import { buildConfigSchema, type GatewayConfig, SECRET_KEYS } from "./schema.ts";

export interface ConfigProblem {
  /** Dotted key path, e.g. `sources.engage.signingSecrets.0`; empty for the file itself. */
  path: string;
  message: string;
}

/** Every problem of a config file, found in one pass. Messages never contain secret values. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly ConfigProblem[];
  constructor(file: string, problems: readonly ConfigProblem[]) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${problems
        .map((p) => `  - ${p.path || "(file)"}: ${p.message}`)
        .join("\n")}`,
    );
    this.problems = problems;
  }
}

export const DEFAULT_CONFIG_FILE = "engage-bridge.yaml";

/** `--config` first, then `ENGAGE_BRIDGE_CONFIG`, then `./engage-bridge.yaml`; undefined = sandbox. */
export function resolveConfigPath(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): string | undefined {
  if (explicit) return resolve(cwd, explicit);
  if (env.ENGAGE_BRIDGE_CONFIG) return resolve(cwd, env.ENGAGE_BRIDGE_CONFIG);
  const local = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(local) ? local : undefined;
}

const REFERENCE = /\$\{([^}]*)\}/g;

/** Replaces `${ENV}` and `${file:/path}` in every string of the tree, recording what is missing. */
function substitute(
  value: unknown,
  path: string[],
  env: NodeJS.ProcessEnv,
  baseDir: string,
  problems: ConfigProblem[],
): unknown {
  if (typeof value === "string") {
    return value.replace(REFERENCE, (_, ref: string) => {
      const name = ref.trim();
      if (name.startsWith("file:")) {
        const file = resolve(baseDir, name.slice(5).trim());
        try {
          return readFileSync(file, "utf8").trim();
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
          problems.push({ path: path.join("."), message: `cannot read file ${file} (${code})` });
          return "";
        }
      }
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        problems.push({ path: path.join("."), message: `invalid reference \${${name}}` });
        return "";
      }
      const found = env[name];
      if (found === undefined) {
        problems.push({ path: path.join("."), message: `environment variable ${name} is not set` });
        return "";
      }
      return found;
    });
  }
  if (Array.isArray(value))
    return value.map((v, i) => substitute(v, [...path, String(i)], env, baseDir, problems));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substitute(v, [...path, k], env, baseDir, problems)]),
    );
  }
  return value;
}

function zodProblems(error: z.ZodError): ConfigProblem[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String);
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      return {
        path: path.join("."),
        message: `unknown key${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}`,
      };
    }
    if (issue.code === "invalid_type" && message.includes("received undefined")) message = "is required";
    return { path: path.join("."), message };
  });
}

export interface LoadOptions {
  registry: ConnectorRegistry;
  env?: NodeJS.ProcessEnv;
}

/** Parses and validates config text. Throws {@link ConfigError} listing every problem. */
export function parseConfig(text: string, file: string, options: LoadOptions): GatewayConfig {
  const env = options.env ?? process.env;
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: "",
        message: `${e.code}: ${e.message.split("\n")[0]} (line ${e.linePos?.[0]?.line ?? "?"})`,
      })),
    );
  }
  const problems: ConfigProblem[] = [];
  const raw = substitute(doc.toJS() ?? {}, [], env, resolve(file, ".."), problems);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: "", message: "expected a mapping of keys at the top level" }]);
  }
  if (env.PORT !== undefined) {
    const port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      problems.push({ path: "PORT", message: "must be a port number" });
    else {
      const record = raw as Record<string, unknown>;
      record.server = { ...(record.server as object), port };
    }
  }
  const result = buildConfigSchema(options.registry).safeParse(raw);
  if (!result.success) {
    // A value that could not be substituted is already reported; its validation would only repeat it.
    const unresolved = new Set(problems.map((p) => p.path));
    problems.push(...zodProblems(result.error).filter((p) => !unresolved.has(p.path)));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(file, problems);
  return result.data;
}

function readConfigText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(file, [
      { path: "", message: `cannot read (${(error as NodeJS.ErrnoException).code ?? "error"})` },
    ]);
  }
}

export function loadConfigFile(file: string, options: LoadOptions): GatewayConfig {
  return parseConfig(readConfigText(file), file, options);
}

/** The `plugins:` list of a config text, read before validation (it decides which connectors exist). */
export function readPluginList(text: string): string[] {
  try {
    const raw = parseDocument(text).toJS() as { plugins?: unknown } | null;
    return Array.isArray(raw?.plugins) ? raw.plugins.filter((p): p is string => typeof p === "string") : [];
  } catch {
    return [];
  }
}

/**
 * Loads a config file together with the connector plugins it names: the registry is the built-in
 * connectors plus the plugins', and the file is validated against it.
 */
export async function loadConfigWithPlugins(
  file: string,
  options: { builtin: readonly AnyConnector[]; env?: NodeJS.ProcessEnv },
): Promise<{ config: GatewayConfig; registry: ConnectorRegistry }> {
  const text = readConfigText(file);
  let registry: ConnectorRegistry;
  try {
    registry = makeRegistry([...options.builtin, ...(await loadPlugins(readPluginList(text), file))]);
  } catch (error) {
    throw new ConfigError(file, [{ path: "plugins", message: (error as Error).message }]);
  }
  return { config: parseConfig(text, file, { registry, env: options.env }), registry };
}

function maskString(value: string): string {
  if (value.length === 0) return value;
  return value.startsWith("whsec_") ? "whsec_****" : "****";
}

function maskStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "****";
    return parsed.toString();
  } catch {
    return url;
  }
}

/** A copy of the effective config that is safe to print: every secret replaced by asterisks. */
export function maskConfig(config: unknown, key = ""): unknown {
  if (SECRET_KEYS.has(key)) {
    if (typeof config === "string") return maskString(config);
    if (Array.isArray(config)) return config.map((v) => (typeof v === "string" ? maskString(v) : "****"));
    if (config && typeof config === "object") {
      return Object.fromEntries(Object.keys(config).map((k) => [k, "****"]));
    }
    return config;
  }
  if (key === "store" && typeof config === "string") return maskStoreUrl(config);
  if (Array.isArray(config)) return config.map((v) => maskConfig(v));
  if (config && typeof config === "object") {
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, maskConfig(v, k)]));
  }
  return config;
}
