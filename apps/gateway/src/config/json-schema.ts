import { z } from "zod";
import type { ConnectorRegistry } from "../connectors/registry.ts";
import { buildConfigSchema, rateLimitSchema } from "./schema.ts";

type JsonObject = { properties?: Record<string, unknown>; [key: string]: unknown };

/**
 * The JSON Schema of the config file, generated from the same zod schemas that validate it. The
 * connector blocks are validated by a transform (connector schema + `enabled` + `rateLimit`), which
 * JSON Schema cannot express, so each is spliced in from the connector's own schema.
 */
export function configJsonSchema(registry: ConnectorRegistry): unknown {
  const schema = z.toJSONSchema(buildConfigSchema(registry), {
    io: "input",
    unrepresentable: "any",
  }) as JsonObject;
  const connectors = schema.properties?.connectors as JsonObject | undefined;
  if (connectors?.properties) {
    for (const connector of Object.values(registry)) {
      const own = z.toJSONSchema(connector.configSchema, {
        io: "input",
        unrepresentable: "any",
      }) as JsonObject;
      delete own.$schema;
      own.properties = {
        enabled: { type: "boolean", default: true },
        rateLimit: z.toJSONSchema(rateLimitSchema, { io: "input" }),
        ...own.properties,
      };
      connectors.properties[connector.name] = own;
    }
  }
  return {
    ...schema,
    $id: "https://github.com/engage-bridge/engage-bridge/blob/main/apps/gateway/engage-bridge.schema.json",
    title: "engage-bridge configuration",
  };
}
