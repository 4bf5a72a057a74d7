import { z } from "zod";
import type { ConnectorRegistry } from "../connectors/registry.ts";
import { filterSchema, INSTANCE_NAME, rateLimitSchema } from "./connectors-schema.ts";
import { buildConfigSchema } from "./schema.ts";

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
    for (const connector of Object.values(registry)) {
      const own = input(connector.configSchema);
      own.properties = {
        type: {
          type: "string",
          const: connector.name,
          description: "the connector; defaults to the instance name",
        },
        enabled: { type: "boolean", default: true },
        rateLimit: input(rateLimitSchema),
        filter: {
          ...input(filterSchema),
          description: "which events this instance gets: AND across keys, OR within a list",
        },
        ...own.properties,
      };
      const ref = `#/$defs/connector-${connector.name}`;
      defs[`connector-${connector.name}`] = own;
      connectors.properties[connector.name] = { $ref: ref };
      byType.push({ $ref: ref, required: ["type"] });
    }
    connectors.propertyNames = { pattern: INSTANCE_NAME.source };
    connectors.additionalProperties = { anyOf: byType };
    schema.$defs = { ...(schema.$defs as object | undefined), ...defs };
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    ...schema,
    $id: "https://github.com/engage-bridge/engage-bridge/blob/main/apps/gateway/engage-bridge.schema.json",
    title: "engage-bridge configuration",
  };
}
