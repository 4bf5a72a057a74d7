import { KNOWN_EVENT_TYPES, type RateLimit } from "@engage-bridge/core";
import { z } from "zod";
import type { ConnectorRegistry } from "../connectors/registry.ts";

/** Instance names key deliveries, metrics and CLI filters: plain identifiers. */
export const INSTANCE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * A request rate. Its description is the connector one (the JSON Schema splices it into every
 * connector block); a source's `rateLimit` describes itself.
 */
export const rateLimitSchema = z
  .strictObject({
    requests: z
      .number()
      .int()
      .positive()
      .describe("The most requests allowed within one window of `perSeconds` seconds (a positive integer)."),
    perSeconds: z
      .number()
      .positive()
      .describe("The length of the window in seconds (a positive number; fractions allowed)."),
  })
  .describe(
    "Pace of this instance's requests to its target: at most `requests` in any rolling window of " +
      "`perSeconds` seconds. Absent = the connector's own default (see its section and README).",
  ) satisfies z.ZodType<RateLimit>;

export const filterSchema = z
  .strictObject({
    types: z
      .array(z.enum(KNOWN_EVENT_TYPES))
      .min(1)
      .optional()
      .describe(
        "Event types this instance gets, e.g. `contact.acceptsEmail.changed` (known types only). Absent = " +
          "every type the connector handles.",
      ),
    tenants: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        "Engage tenants (the event envelope's `tenant`) whose events this instance gets; an event without " +
          "a tenant does not match. Absent = any tenant.",
      ),
    sources: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        "Names of sources (keys under `sources:`) whose events this instance gets; an unknown name is a " +
          "config error. Absent = any source.",
      ),
  })
  .describe(
    "Which events this instance gets: every key optional, AND across keys, OR within a list. An event " +
      "that does not match gets no delivery for this instance at all (not a skipped one); absent = every " +
      "event of a type the connector handles.",
  );
export type ConnectorFilter = z.output<typeof filterSchema>;

/** The keys the gateway owns in every connector block; the rest is the connector's own config. */
export const commonSchema = z.strictObject({
  type: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The connector this instance runs (a built-in connector's name or a plugin's); " +
        "defaults to the instance name, so a block named after its connector needs none.",
    ),
  enabled: z
    .boolean()
    .default(true)
    .describe("`false` turns this instance off: new events get no deliveries for it. Default `true`."),
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

/** `connectors:`: instance name → block, each validated by its connector's `configSchema`. */
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
    })
    .describe(
      "Connector instances, by instance name (a letter, then letters, digits, `-` and `_`; up to 64), " +
        "which keys deliveries, metrics and CLI filters. `type` names the connector and defaults to the " +
        "instance name; two blocks of one type are two instances with their own config, pacing, " +
        "deliveries and health.",
    );
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
