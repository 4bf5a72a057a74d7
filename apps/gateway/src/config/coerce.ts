import { REFERENCE_MARK } from "./json-schema.ts";
import type { ConfigProblem } from "./load.ts";

/**
 * Values a whole `${ENV}` or `${file:…}` reference produced, by dotted key path, with the reference
 * (for messages: the variable's name, never its value).
 */
export type Interpolated = ReadonlyMap<string, string>;

type Node = Record<string, unknown>;

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const BOOLEAN = /^(true|false)$/i;

/**
 * Coerces interpolated strings where the config's JSON Schema expects a number or a boolean:
 * environment variables are text, so `port: ${PORT}` or `enabled: ${CRM_ENABLED}` would
 * otherwise never validate. Where a key also accepts text (`trustProxy`, `bodyLimit`), a value that
 * reads as a boolean or a number is still taken as one. A value that does not parse becomes a
 * problem naming the reference. Works on a copy; the schema walk follows `$ref` and picks a
 * connector block's schema by its `type`.
 */
export function coerceInterpolated(
  schema: unknown,
  value: unknown,
  interpolated: Interpolated,
  problems: ConfigProblem[],
): unknown {
  if (interpolated.size === 0) return value;
  return walk(schema, value, [], { root: schema, interpolated, problems });
}

interface Walk {
  root: unknown;
  interpolated: Interpolated;
  problems: ConfigProblem[];
}

function walk(schema: unknown, value: unknown, path: string[], w: Walk): unknown {
  const nodes = alternatives(schema, value, w.root);
  if (nodes.length === 0) return value;
  if (typeof value === "string") {
    const key = path.join(".");
    const reference = w.interpolated.get(key);
    return reference === undefined ? value : coerce(value, typesOf(nodes, w.root), key, reference, w);
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => walk(childOf(nodes, "items", undefined), item, [...path, String(i)], w));
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => [
        key,
        walk(childOf(nodes, "properties", key), entry, [...path, key], w),
      ]),
    );
  }
  return value;
}

function coerce(value: string, types: Set<string>, path: string, reference: string, w: Walk): unknown {
  const text = value.trim();
  const numeric = types.has("number") || types.has("integer");
  if (types.has("boolean") && BOOLEAN.test(text)) return text.toLowerCase() === "true";
  if (numeric && NUMBER.test(text)) return Number(text);
  if (types.has("string") || types.size === 0) return value;
  const expected = [numeric && "a number", types.has("boolean") && "true or false"].filter(Boolean);
  if (expected.length > 0)
    w.problems.push({ path, message: `\${${reference}} must be ${expected.join(" or ")}` });
  return value;
}

/** The schema nodes that may describe `value`: `$ref`s resolved, `anyOf`/`oneOf` flattened. */
function alternatives(schema: unknown, value: unknown, root: unknown): Node[] {
  const node = resolveRef(schema, root);
  if (node === true || node === undefined) return [];
  if (!node || typeof node !== "object") return [];
  const n = node as Node;
  const branches = [n.anyOf, n.oneOf].filter(Array.isArray).flat() as unknown[];
  if (branches.length === 0) return [n];
  // The `${…}` branch is for editors (json-schema.ts): what the value must become is in the others.
  const all = branches
    .flatMap((branch) => alternatives(branch, value, root))
    .filter((b) => b[REFERENCE_MARK] !== true);
  // A connector block: the branch whose `type` constant names the block's type; else the branches
  // without one (a plugin's block: only the keys every block has are known here).
  if (!all.some((b) => typeConstOf(b) !== undefined)) return all;
  const type = (value as { type?: unknown } | null)?.type;
  const exact = type === undefined ? [] : all.filter((b) => typeConstOf(b) === type);
  return exact.length > 0 ? exact : all.filter((b) => typeConstOf(b) === undefined);
}

function typeConstOf(node: Node): unknown {
  return ((node.properties as Node | undefined)?.type as Node | undefined)?.const;
}

function childOf(nodes: Node[], kind: "items" | "properties", key: string | undefined): unknown {
  const found: unknown[] = [];
  for (const node of nodes) {
    if (kind === "items") {
      if (node.items !== undefined) found.push(node.items);
      continue;
    }
    const properties = (node.properties ?? {}) as Node;
    if (key !== undefined && Object.hasOwn(properties, key)) found.push(properties[key]);
    else if (node.additionalProperties && typeof node.additionalProperties === "object")
      found.push(node.additionalProperties);
  }
  return found.length === 1 ? found[0] : { anyOf: found };
}

function typesOf(nodes: Node[], root: unknown): Set<string> {
  const types = new Set<string>();
  for (const node of nodes) {
    const type = node.type;
    if (typeof type === "string") types.add(type);
    else if (Array.isArray(type)) for (const t of type) types.add(String(t));
    for (const constant of [node.const, ...(Array.isArray(node.enum) ? node.enum : [])]) {
      if (constant !== undefined) types.add(typeof constant);
    }
    if (Array.isArray(node.allOf)) {
      const parts = node.allOf.flatMap((branch) => alternatives(branch, undefined, root));
      for (const t of typesOf(parts, root)) types.add(t);
    }
  }
  return types;
}

/** Follows a local `$ref` (`#/$defs/…`) from the schema's root. */
export function resolveRef(node: unknown, root: unknown): unknown {
  const ref = (node as { $ref?: unknown } | null)?.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return node;
  return ref
    .slice(2)
    .split("/")
    .reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], root);
}
