import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { isSecretJsonSchema } from "@engage-bridge/core";
import { parseDocument } from "yaml";
import { z } from "zod";
import { loadPlugins } from "../connectors/plugins.ts";
import { type AnyConnector, type ConnectorRegistry, makeRegistry } from "../connectors/registry.ts";
import { coerceInterpolated, resolveRef } from "./coerce.ts";
import { configJsonSchema } from "./json-schema.ts";
import { buildConfigSchema, type ConfigSchemaOptions, type GatewayConfig } from "./schema.ts";

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

/** Where the config file comes from, for messages. */
export type ConfigOrigin = "--config" | "ENGAGE_BRIDGE_CONFIG" | `./${typeof DEFAULT_CONFIG_FILE}`;

/**
 * `--config` first, then `ENGAGE_BRIDGE_CONFIG`, then `./engage-bridge.yaml`; `undefined` when none
 * is given and there is no `./engage-bridge.yaml` (sandbox mode, where allowed: {@link locateConfig}).
 */
export function findConfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): { file: string; origin: ConfigOrigin } | undefined {
  if (explicit) return { file: resolve(cwd, explicit), origin: "--config" };
  if (env.ENGAGE_BRIDGE_CONFIG)
    return { file: resolve(cwd, env.ENGAGE_BRIDGE_CONFIG), origin: "ENGAGE_BRIDGE_CONFIG" };
  const local = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(local) ? { file: local, origin: `./${DEFAULT_CONFIG_FILE}` } : undefined;
}

/** `--config` first, then `ENGAGE_BRIDGE_CONFIG`, then `./engage-bridge.yaml`; undefined = sandbox. */
export function resolveConfigPath(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): string | undefined {
  return findConfig(explicit, env, cwd)?.file;
}

/**
 * The config file to run with, or `undefined` for sandbox mode. Refuses (throws {@link ConfigError})
 * when a named file does not exist — a typo must not turn a deployment into a sandbox against fake
 * targets — and when `NODE_ENV=production` and no file is found at all.
 */
export function locateConfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): string | undefined {
  const found = findConfig(explicit, env, cwd);
  if (found && !existsSync(found.file)) {
    throw new ConfigError(found.file, [
      { path: "", message: `the config file named by ${found.origin} does not exist` },
    ]);
  }
  if (!found && env.NODE_ENV === "production") {
    throw new ConfigError("engage-bridge", [
      {
        path: "",
        message:
          `no config file, and NODE_ENV=production refuses sandbox mode: pass --config FILE, set ` +
          `ENGAGE_BRIDGE_CONFIG, or create ./${DEFAULT_CONFIG_FILE} in ${cwd}`,
      },
    ]);
  }
  return found?.file;
}

const REFERENCE = /\$\{([^}]*)\}/g;

interface Substitution {
  env: NodeJS.ProcessEnv;
  baseDir: string;
  problems: ConfigProblem[];
  /** Strings that took content from a file (`${file:…}`): secret, whatever their key. */
  fromFiles: Set<string>;
  /** Values that were one whole reference, by key path: candidates for number/boolean coercion. */
  interpolated: Map<string, string>;
}

const WHOLE_REFERENCE = /^\s*\$\{([^}]*)\}\s*$/;

/** Replaces `${ENV}` and `${file:/path}` in every string of the tree, recording what is missing. */
function substitute(value: unknown, path: string[], sub: Substitution): unknown {
  const { env, baseDir, problems } = sub;
  if (typeof value === "string") {
    let readFile = false;
    const result = value.replace(REFERENCE, (_, ref: string) => {
      const name = ref.trim();
      if (name.startsWith("file:")) {
        const file = resolve(baseDir, name.slice(5).trim());
        readFile = true;
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
    const whole = WHOLE_REFERENCE.exec(value);
    if (whole) sub.interpolated.set(path.join("."), (whole[1] ?? "").trim());
    // Also as validation will see it (trimmed): the masked value must match the effective one.
    if (readFile && result.trim() !== "") sub.fromFiles.add(result).add(result.trim());
    return result;
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, [...path, String(i)], sub));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, [...path, k], sub)]));
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
  /** See {@link ConfigSchemaOptions}. */
  unknownConnectors?: "refuse" | "accept";
}

/** Parses and validates config text. Throws {@link ConfigError} listing every problem. */
export function parseConfig(text: string, file: string, options: LoadOptions): GatewayConfig {
  return parseConfigWithSecrets(text, file, options).config;
}

/**
 * {@link parseConfig}, plus every secret value of the file: those of fields a schema marks secret
 * (`secret()` from core: the gateway's own and each connector's) and everything read with
 * `${file:…}`. {@link maskConfig} hides them.
 */
export function parseConfigWithSecrets(
  text: string,
  file: string,
  options: LoadOptions,
): { config: GatewayConfig; secrets: ReadonlySet<string> } {
  const env = options.env ?? process.env;
  const jsonSchema = configJsonSchema(options.registry);
  const problems: ConfigProblem[] = [];
  const { raw, fromFiles } = interpolate(readDocument(text, file), file, env, jsonSchema, problems);
  const result = buildConfigSchema(options.registry, {
    unknownConnectors: options.unknownConnectors,
  }).safeParse(raw);
  finish(file, problems, result);
  const secrets = new Set(fromFiles);
  collectSecrets(jsonSchema, raw, secrets);
  return { config: (result as { data: GatewayConfig }).data, secrets };
}

/** Throws {@link ConfigError} with the problems found so far and validation's (not repeating one path). */
function finish(file: string, problems: ConfigProblem[], result: z.ZodSafeParseResult<unknown>): void {
  if (!result.success) {
    // A value that could not be substituted is already reported; its validation would only repeat it.
    const unresolved = new Set(problems.map((p) => p.path));
    problems.push(...zodProblems(result.error).filter((p) => !unresolved.has(p.path)));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(file, problems);
}

/** The YAML (or JSON) document's top-level mapping; throws {@link ConfigError} on a syntax error. */
function readDocument(text: string, file: string): Record<string, unknown> {
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
  const raw: unknown = doc.toJS() ?? {};
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: "", message: "expected a mapping of keys at the top level" }]);
  }
  return raw as Record<string, unknown>;
}

/**
 * `${ENV}` and `${file:…}` substituted, whole references coerced where the schema wants a number or
 * a boolean, and `PORT` applied. Problems are added to `problems`.
 */
function interpolate(
  document: Record<string, unknown>,
  file: string,
  env: NodeJS.ProcessEnv,
  jsonSchema: unknown,
  problems: ConfigProblem[],
): { raw: Record<string, unknown>; fromFiles: ReadonlySet<string> } {
  const sub: Substitution = {
    env,
    baseDir: resolve(file, ".."),
    problems,
    fromFiles: new Set(),
    interpolated: new Map(),
  };
  const substituted = substitute(document, [], sub);
  const raw = coerceInterpolated(jsonSchema, substituted, sub.interpolated, problems) as Record<
    string,
    unknown
  >;
  if (env.PORT !== undefined) {
    const port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      problems.push({ path: "PORT", message: "must be a port number" });
    else raw.server = { ...(raw.server as object), port };
  }
  return { raw, fromFiles: sub.fromFiles };
}

export type StoreConfig = Pick<GatewayConfig, "store" | "storeOptions">;

/**
 * Only the store settings of a config file (`store`, `storeOptions`), for the read and operator
 * commands: they work against the store and must not need every connector's secret in the
 * environment, nor run plugin code. The rest of the file is not validated here.
 */
export function loadStoreConfig(file: string, env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const registry = makeRegistry([]);
  const { store, storeOptions } = readDocument(readConfigText(file), file);
  const problems: ConfigProblem[] = [];
  const picked = Object.fromEntries(
    Object.entries({ store, storeOptions }).filter(([, value]) => value !== undefined),
  );
  const { raw } = interpolate(
    picked,
    file,
    { ...env, PORT: undefined },
    configJsonSchema(registry),
    problems,
  );
  const { shape } = buildConfigSchema(registry);
  const result = z.object({ store: shape.store, storeOptions: shape.storeOptions }).safeParse(raw);
  finish(file, problems, result);
  return (result as { data: StoreConfig }).data;
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

export interface LoadedConfig {
  config: GatewayConfig;
  registry: ConnectorRegistry;
  secrets: ReadonlySet<string>;
  /** Connector blocks left unvalidated because their plugins were not loaded (`loadPlugins: false`). */
  unvalidated: readonly string[];
}

/**
 * Loads a config file together with the connector plugins it names: the registry is the built-in
 * connectors plus the plugins', and the file is validated against it. With `loadPlugins: false`
 * no plugin code runs: blocks of connectors the built-ins do not know are reported as unvalidated.
 */
export async function loadConfigWithPlugins(
  file: string,
  options: { builtin: readonly AnyConnector[]; env?: NodeJS.ProcessEnv; loadPlugins?: boolean },
): Promise<LoadedConfig> {
  const text = readConfigText(file);
  const plugins = readPluginList(text);
  const load = options.loadPlugins ?? true;
  let registry: ConnectorRegistry;
  try {
    registry = makeRegistry([...options.builtin, ...(load ? await loadPlugins(plugins, file) : [])]);
  } catch (error) {
    throw new ConfigError(file, [{ path: "plugins", message: (error as Error).message }]);
  }
  const lenient = !load && plugins.length > 0;
  const parsed = parseConfigWithSecrets(text, file, {
    registry,
    env: options.env,
    unknownConnectors: lenient ? "accept" : "refuse",
  });
  const unvalidated = Object.entries(parsed.config.connectors)
    .filter(([, instance]) => !Object.hasOwn(registry, instance.type))
    .map(([name]) => name);
  // Without its schema nothing says which of a block's fields are secret: every value is masked.
  const secrets = new Set(parsed.secrets);
  for (const name of unvalidated) addStrings(parsed.config.connectors[name]?.config, secrets);
  return { config: parsed.config, secrets, registry, unvalidated };
}

function maskString(value: string): string {
  if (value.length === 0) return value;
  return value.startsWith("whsec_") ? "whsec_****" : "****";
}

/** Query parameters whose values are credentials in the URLs operators write. */
const SENSITIVE_PARAM = /pass|pwd|secret|token|key|auth|cred|sig/i;

/**
 * Hides credentials in URL-shaped text: the password of `scheme://user:password@host`, and the
 * values of query parameters named like credentials (`?password=…`, `&sslkey=…`). Works on the
 * text, so a URL that does not parse is masked too.
 */
export function maskUrlCredentials(text: string): string {
  return (
    text
      // Up to the last `@` of the token: a password may itself hold `@`, `/`, `#` or `?`.
      .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):\S*@/gi, "$1:****@")
      .replace(/([?&;]([^=&#\s]*)=)([^&#\s]*)/g, (whole, prefix: string, name: string, value: string) =>
        SENSITIVE_PARAM.test(name) && value !== "" ? `${prefix}****` : whole,
      )
  );
}

/** Walks the config's JSON Schema beside a config value, adding every string under a secret field. */
function collectSecrets(schema: unknown, value: unknown, into: Set<string>, root: unknown = schema): void {
  const node = resolveRef(schema, root);
  if (!node || typeof node !== "object") return;
  if (isSecretJsonSchema(node)) {
    addStrings(value, into);
    return;
  }
  const n = node as Record<string, unknown>;
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    if (Array.isArray(n[key])) for (const alt of n[key]) collectSecrets(alt, value, into, root);
  }
  if (Array.isArray(value)) {
    for (const item of value) collectSecrets(n.items, item, into, root);
  } else if (value !== null && typeof value === "object") {
    const properties = (n.properties ?? {}) as Record<string, unknown>;
    for (const [key, entry] of Object.entries(value)) {
      const child = Object.hasOwn(properties, key) ? properties[key] : n.additionalProperties;
      collectSecrets(child, entry, into, root);
    }
  }
}

function addStrings(value: unknown, into: Set<string>): void {
  if (typeof value === "string") {
    if (value !== "") into.add(value);
  } else if (Array.isArray(value)) for (const v of value) addStrings(v, into);
  else if (value !== null && typeof value === "object")
    for (const v of Object.values(value)) addStrings(v, into);
}

/** Secrets shorter than this are only masked as a whole value, never searched for inside text. */
const MIN_EMBEDDED_SECRET = 6;

/**
 * A copy of the effective config that is safe to print: every secret value (see
 * {@link parseConfigWithSecrets}) replaced by asterisks, also where it is part of a longer string,
 * and credentials in URLs masked.
 */
export function maskConfig(config: unknown, secrets: ReadonlySet<string>): unknown {
  // A secret file's content may have become a number or a boolean (`groupId: "${file:…}"`).
  if ((typeof config === "number" || typeof config === "boolean") && secrets.has(String(config)))
    return "****";
  if (typeof config === "string") {
    if (secrets.has(config)) return maskString(config);
    let text = config;
    for (const secret of secrets) {
      if (secret.length >= MIN_EMBEDDED_SECRET && text.includes(secret))
        text = text.split(secret).join("****");
    }
    return maskUrlCredentials(text);
  }
  if (Array.isArray(config)) return config.map((v) => maskConfig(v, secrets));
  if (config && typeof config === "object") {
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, maskConfig(v, secrets)]));
  }
  return config;
}
