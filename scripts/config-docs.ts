// `pnpm docs:config`: writes docs/configuration.md from the config file's JSON Schema
// (apps/gateway/engage-bridge.schema.json, itself generated from the zod schemas that validate the
// file). `--check` compares instead of writing, and both fail when a key has no description: the
// reference, the editors' hover help and the validation cannot drift apart.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

type Node = Record<string, unknown>;

const root = fileURLToPath(new URL("..", import.meta.url));
const schemaFile = `${root}apps/gateway/engage-bridge.schema.json`;
const target = `${root}docs/configuration.md`;
const schema = JSON.parse(readFileSync(schemaFile, "utf8")) as Node;
const missing: string[] = [];

/** Placeholders for record keys, by the record's own key. */
const RECORD_KEY: Record<string, string> = {
  sources: "<source>",
  connectors: "<instance>",
  requiredHeaders: "<header>",
};

function resolve(node: unknown): Node {
  let at = node as Node;
  while (typeof at?.$ref === "string") {
    at = (at.$ref as string)
      .slice(2)
      .split("/")
      .reduce<unknown>((n, part) => (n as Node)[part], schema) as Node;
  }
  return at ?? {};
}

/** A node's alternatives, without the `${ENV}` reference branch editors get (json-schema.ts). */
const branches = (node: Node): Node[] =>
  ([node.anyOf, node.oneOf].filter(Array.isArray).flat().map(resolve) as Node[]).filter(
    (b) => b["x-reference"] !== true,
  );

function typeOf(node: Node): string {
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (Array.isArray(node.enum)) return node.enum.map((v) => JSON.stringify(v)).join(" | ");
  const alts = branches(node);
  if (alts.length > 0) return [...new Set(alts.map(typeOf))].join(" | ");
  if (node.type === "array") {
    const item = typeOf(resolve(node.items));
    return item.includes(" | ") ? `(${item})[]` : `${item}[]`;
  }
  if (node.type === "object" && !node.properties && node.additionalProperties)
    return `map of ${typeOf(resolve(node.additionalProperties))}`;
  if (typeof node.type === "string") return node.type;
  if (Array.isArray(node.type)) return node.type.join(" | ");
  return "any";
}

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

function defaultOf(node: Node): string {
  if (node.default === undefined) return "";
  return `\`${cell(JSON.stringify(node.default))}\``;
}

interface Row {
  key: string;
  type: string;
  defaultValue: string;
  description: string;
}

/** The rows of a node's keys, depth first. `stop` keeps a section from descending into another's. */
function rows(node: Node, path: string, into: Row[], stop: (path: string) => boolean): Row[] {
  const object = [node, ...branches(node)].find((n) => n.properties || n.additionalProperties) ?? node;
  const properties = (object.properties ?? {}) as Record<string, unknown>;
  const required = new Set((object.required as string[] | undefined) ?? []);
  for (const [key, raw] of Object.entries(properties)) {
    const child = resolve(raw);
    const childPath = path ? `${path}.${key}` : key;
    describe(child, childPath, required.has(key), into);
    if (!stop(childPath)) descend(child, childPath, key, into, stop);
  }
  return into;
}

function describe(child: Node, path: string, required: boolean, into: Row[]): void {
  const description = (child.description as string | undefined) ?? "";
  if (!description) missing.push(path);
  const flags = [required && "**required**", child["x-secret"] === true && "secret"].filter(Boolean);
  into.push({
    key: `\`${path}\``,
    type: cell(typeOf(child)),
    defaultValue: defaultOf(child),
    description: cell([flags.join(", "), description].filter(Boolean).join(". ")),
  });
}

function descend(child: Node, path: string, key: string, into: Row[], stop: (path: string) => boolean): void {
  const inner = [child, ...branches(child)];
  const object = inner.find((n) => n.properties);
  if (object) {
    rows(object, path, into, stop);
    return;
  }
  const record = inner.find((n) => n.additionalProperties && typeof n.additionalProperties === "object");
  if (record) {
    const value = resolve(record.additionalProperties);
    if (value.properties || branches(value).some((b) => b.properties))
      rows(value, `${path}.${RECORD_KEY[key] ?? "<name>"}`, into, stop);
    return;
  }
  const array = inner.find((n) => n.type === "array");
  if (array) {
    const item = resolve(array.items);
    if (item.properties) rows(item, `${path}[]`, into, stop);
  }
}

function table(list: Row[]): string {
  return [
    "| key | type | default | description |",
    "|---|---|---|---|",
    ...list.map((r) => `| ${r.key} | ${r.type} | ${r.defaultValue} | ${r.description} |`),
  ].join("\n");
}

const properties = schema.properties as Record<string, Node>;
const connectorsNode = resolve(properties.connectors);
const defs = (schema.$defs ?? {}) as Record<string, Node>;
const connectorDefs = Object.entries(defs).filter(([name]) => name.startsWith("connector-"));
const commonKeys = ["type", "enabled", "filter", "rateLimit"];

const sections: string[] = [];
for (const [key, raw] of Object.entries(properties)) {
  const node = resolve(raw);
  const list: Row[] = [];
  describe(node, key, ((schema.required as string[]) ?? []).includes(key), list);
  // An object's own row would repeat the section's text: only its default (`{}`) is worth keeping.
  if (list[0] && (node.properties || node.additionalProperties)) list[0].description = "";
  if (key === "connectors") {
    // The keys every instance has (as the plugin block's schema states them, with no connector's
    // `type` constant); each connector's own keys follow in its section.
    const anyInstance = branches(resolve(connectorsNode.additionalProperties)).find(
      (b) => b.additionalProperties === true,
    );
    if (anyInstance) {
      const own = (anyInstance.properties ?? {}) as Record<string, unknown>;
      for (const common of commonKeys) {
        if (!own[common]) continue;
        const child = resolve(own[common]);
        describe(child, `connectors.<instance>.${common}`, false, list);
        descend(child, `connectors.<instance>.${common}`, common, list, () => false);
      }
    }
  } else descend(node, key, key, list, () => false);
  sections.push(`## \`${key}\`\n\n${(node.description as string | undefined) ?? ""}\n\n${table(list)}`);
}

for (const [name, def] of connectorDefs) {
  const type = name.slice("connector-".length);
  const list: Row[] = [];
  const rate = resolve((def.properties as Node).rateLimit).description as string | undefined;
  const defaultRate = /Default for [^:]+: (.*)$/.exec(rate ?? "")?.[1];
  const own = { ...def, properties: { ...(def.properties as Node) } };
  for (const common of commonKeys) delete (own.properties as Node)[common];
  rows(own, `connectors.${type}`, list, () => false);
  sections.push(
    `## Connector \`${type}\`\n\n${(def.description as string | undefined) ?? ""}\n\n` +
      `An instance named \`${type}\` needs no \`type\`; any other instance name needs \`type: ${type}\`. ` +
      `Every instance also takes ${commonKeys.map((k) => `\`${k}\``).join(", ")} ([connectors](#connectors))` +
      `${defaultRate ? `; its default \`rateLimit\` is ${defaultRate.replace(/\.$/, "")}` : ""}.\n\n${table(list)}`,
  );
}

const text = `<!-- Generated by \`pnpm docs:config\` from apps/gateway/engage-bridge.schema.json: do not edit by hand. -->
# Configuration reference

The gateway reads one YAML or JSON file: \`--config FILE\`, else \`ENGAGE_BRIDGE_CONFIG\`, else
\`./engage-bridge.yaml\`. Without any, \`engage-bridge start\` runs sandbox mode, except with
\`NODE_ENV=production\`, where it refuses to start. \`engage-bridge check-config\` validates a file and prints
it with secrets masked; every problem is listed with its key path.

- **Environment and files.** Every string may use \`\${ENV_VAR}\` (a missing variable is an error that names
  it) and \`\${file:/path}\` (the file's contents, trimmed; relative paths are relative to the config file).
  A value that is one whole reference is coerced where the key takes a number or a boolean
  (\`port: \${PORT}\`, \`enabled: \${HUBSPOT_ENABLED}\`); text that does not parse is an error.
  Inside a \`{ … }\` flow mapping, quote the reference (\`{ requests: "\${N}" }\`): \`{\` and \`}\` are YAML syntax there.
  The \`PORT\` variable, when set, overrides \`server.port\`.
- **Unknown keys are errors**, at every level, so a typo never silently falls back to a default.
- **Secrets** — keys marked *secret* below, URL passwords (userinfo or query), anything read with
  \`\${file:}\` — are masked wherever the config is printed.
- **Editor help.** The JSON Schema (\`engage-bridge.schema.json\`, shipped with the gateway, with these
  descriptions) validates and completes the file in editors; with the YAML language server, start the file
  with \`# yaml-language-server: $schema=${schema.$id as string}\`.
- A complete, commented example: [\`engage-bridge.example.yaml\`](../engage-bridge.example.yaml).

${sections.join("\n\n")}
`;

if (missing.length > 0) {
  process.stderr.write(
    `docs:config: these keys have no description in the schema:\n  ${missing.join("\n  ")}\n`,
  );
  process.exit(1);
}
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(target, "utf8");
  } catch {}
  if (current !== text) {
    process.stderr.write("docs/configuration.md is out of date: run pnpm docs:config\n");
    process.exit(1);
  }
  process.stdout.write("docs:config: docs/configuration.md is up to date\n");
} else {
  writeFileSync(target, text);
  process.stdout.write("docs:config: wrote docs/configuration.md\n");
}
