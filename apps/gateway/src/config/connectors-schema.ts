import { KNOWN_EVENT_TYPES, type RateLimit } from "@engage-bridge/core";
import { z } from "zod";
import type { ConnectorRegistry } from "../connectors/registry.ts";

/** Instance names key deliveries, metrics and CLI filters: plain identifiers. */
export const INSTANCE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export const rateLimitSchema = z.strictObject({
  requests: z.number().int().positive(),
  perSeconds: z.number().positive(),
}) satisfies z.ZodType<RateLimit>;

/**
 * Which events an instance gets: every key optional, AND across keys, OR within a list. An event
 * that does not match gets no delivery for the instance at all.
 */
export const filterSchema = z.strictObject({
  types: z.array(z.enum(KNOWN_EVENT_TYPES)).min(1).optional(),
  tenants: z.array(z.string().min(1)).min(1).optional(),
  sources: z.array(z.string().min(1)).min(1).optional(),
});
export type ConnectorFilter = z.output<typeof filterSchema>;

/** The keys the gateway owns in every connector block; the rest is the connector's own config. */
const commonSchema = z.strictObject({
  type: z.string().min(1).optional(),
  enabled: z.boolean().default(true),
  rateLimit: rateLimitSchema.optional(),
  filter: filterSchema.optional(),
});

export interface EnabledConnectorConfig {
  /** The connector's name (`type`, defaulting to the instance name). */
  type: string;
  enabled: boolean;
  rateLimit?: RateLimit;
  filter?: ConnectorFilter;
  /** The connector's own block, as its `configSchema` parsed it (unparsed for an unknown type). */
  config: unknown;
}

/**
 * `connectors:`: instance name → block. `type` names the connector and defaults to the key, so a
 * block named after its connector (`hubspot:`) needs none; two blocks of one type are two
 * instances with their own config, pacing, deliveries and health.
 */
export function connectorsSchema(registry: ConnectorRegistry, unknownTypes: "refuse" | "accept") {
  const known = Object.keys(registry).sort();
  return z
    .record(
      z.string().regex(INSTANCE_NAME, "instance names are a letter, then letters, digits, - and _"),
      z.unknown(),
    )
    .transform((blocks, ctx) => {
      const instances: Record<string, EnabledConnectorConfig> = {};
      for (const [name, block] of Object.entries(blocks)) {
        if (block === null || typeof block !== "object" || Array.isArray(block)) {
          ctx.addIssue({ code: "custom", path: [name], message: "expected a mapping of keys" });
          continue;
        }
        const { type: rawType, enabled, rateLimit, filter, ...own } = block as Record<string, unknown>;
        const common = commonSchema.safeParse({ type: rawType, enabled, rateLimit, filter });
        for (const issue of common.error?.issues ?? [])
          ctx.addIssue({ ...issue, path: [name, ...issue.path] });
        const type = typeof rawType === "string" && rawType !== "" ? rawType : name;
        const connector = Object.hasOwn(registry, type) ? registry[type] : undefined;
        if (!connector) {
          if (unknownTypes === "accept" && common.success) {
            instances[name] = { ...common.data, type, config: own };
            continue;
          }
          ctx.addIssue({
            code: "custom",
            path: rawType === undefined ? [name] : [name, "type"],
            message:
              rawType === undefined
                ? `no connector is named ${name}: set type to one of ${known.join(", ")} (or load its plugin)`
                : `unknown connector type ${type}: one of ${known.join(", ")} (or load its plugin)`,
          });
          continue;
        }
        const parsed = connector.configSchema.safeParse(own);
        for (const issue of parsed.error?.issues ?? [])
          ctx.addIssue({ ...issue, path: [name, ...issue.path] });
        if (common.success && parsed.success) instances[name] = { ...common.data, type, config: parsed.data };
      }
      return instances;
    });
}

/** Whether an event goes to an instance: its type handled, and its filter matching. */
export function filterMatches(
  filter: ConnectorFilter | undefined,
  event: { type: string; tenant?: string | undefined; source: string },
): boolean {
  if (!filter) return true;
  if (filter.types && !(filter.types as readonly string[]).includes(event.type)) return false;
  if (filter.tenants && (event.tenant === undefined || !filter.tenants.includes(event.tenant))) return false;
  if (filter.sources && !filter.sources.includes(event.source)) return false;
  return true;
}
