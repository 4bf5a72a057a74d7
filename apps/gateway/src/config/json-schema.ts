import { z } from "zod";
import type { ConnectorRegistry } from "../connectors/registry.ts";
import { commonSchema, INSTANCE_NAME } from "./connectors-schema.ts";
import { buildConfigSchema } from "./schema.ts";

/** Where the published schema is: the raw file on the default branch. */
export const SCHEMA_ID =
  "https://raw.githubusercontent.com/engage-bridge/engage-bridge/main/apps/gateway/engage-bridge.schema.json";

type JsonObject = { properties?: Record<string, unknown>; [key: string]: unknown };

const input = (schema: z.ZodType) => {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonObject;
  delete json.$schema;
  return json;
};

/**
 * The JSON Schema of the config file, generated from the same zod schemas that validate it. The
 * connector blocks are validated by a transform (each connector's schema plus the keys the gateway
 * owns), which JSON Schema cannot express, so each connector's block is spliced in from its own
 * schema: under its own name (an instance named after its connector needs no `type`) and, for any
 * other instance name, selected by `type`.
 */
export function configJsonSchema(registry: ConnectorRegistry): unknown {
  const schema = input(buildConfigSchema(registry));
  const connectors = schema.properties?.connectors as JsonObject | undefined;
  if (connectors) {
    const defs: Record<string, unknown> = {};
    const byType: unknown[] = [];
    connectors.properties = {};
    // The keys the gateway owns in every block, described once (connectors-schema.ts).
    const common = {
      enabled: input(commonSchema.shape.enabled),
      rateLimit: input(commonSchema.shape.rateLimit),
      filter: input(commonSchema.shape.filter),
    };
    for (const connector of Object.values(registry)) {
      const own = input(connector.configSchema);
      const rate = connector.rateLimit;
      own.properties = {
        type: {
          type: "string",
          const: connector.name,
          description: "The connector this instance runs; defaults to the instance name.",
        },
        ...common,
        rateLimit: {
          ...common.rateLimit,
          description: `${common.rateLimit.description ?? ""} Default for ${connector.name}: ${
            rate ? `${rate.requests} per ${rate.perSeconds} s` : "none (it follows the target's own signals)"
          }.`,
        },
        ...own.properties,
      };
      const ref = `#/$defs/connector-${connector.name}`;
      defs[`connector-${connector.name}`] = own;
      connectors.properties[connector.name] = { $ref: ref };
      byType.push({ $ref: ref, required: ["type"] });
    }
    // A plugin's block (`plugins:`): its own keys are validated when the gateway loads the plugin.
    byType.push({
      type: "object",
      description:
        "An instance of a connector from a plugin (see `plugins`); its own keys are checked by " +
        "`check-config --load-plugins` and at start.",
      properties: {
        type: { ...input(commonSchema.shape.type), not: { enum: Object.keys(registry) } },
        ...common,
      },
      additionalProperties: true,
    });
    connectors.propertyNames = { pattern: INSTANCE_NAME.source };
    connectors.additionalProperties = { anyOf: byType };
    schema.$defs = { ...(schema.$defs as object | undefined), ...defs };
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    ...(acceptReferences(schema) as JsonObject),
    // Resolves to the raw file, so editors can fetch it by its id.
    $id: SCHEMA_ID,
    title: "engage-bridge configuration",
  };
}

/**
 * Marks the schema branch that stands for an unresolved `${…}` reference: the loader coerces such a
 * value into a number or boolean (coerce.ts), so the branch is for editors only and the loader and
 * the docs skip it.
 */
export const REFERENCE_MARK = "x-reference";

const REFERENCE = {
  type: "string",
  pattern: "^\\s*\\$\\{[^}]+\\}\\s*$",
  [REFERENCE_MARK]: true,
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the text shows the syntax of a reference
  description: "A whole ${ENV_VAR} or ${file:…} reference, coerced when the config is loaded.",
};

/**
 * Number and boolean keys also accept a whole `${ENV_VAR}` reference, as the loader does, so that an
 * editor does not flag `port: ${PORT}` or `enabled: ${CRM_ENABLED}`.
 */
function acceptReferences(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(acceptReferences);
  if (!node || typeof node !== "object") return node;
  const entries = Object.entries(node).map(([key, value]) => [key, acceptReferences(value)] as const);
  const copy = Object.fromEntries(entries) as JsonObject;
  if (copy.type !== "number" && copy.type !== "integer" && copy.type !== "boolean") return copy;
  const { description, default: fallback, ...own } = copy;
  return {
    ...(description === undefined ? {} : { description }),
    ...(fallback === undefined ? {} : { default: fallback }),
    anyOf: [own, REFERENCE],
  };
}
