import { type ConnectorFilter, filterMatches } from "../config/connectors-schema.ts";
import type { GatewayConfig } from "../config/schema.ts";
import type { ConnectorRegistry } from "./registry.ts";

/** What routing reads of an event: its type, tenant and the source it came in through. */
export interface RoutedEvent {
  type: string;
  tenant?: string | undefined;
  source: string;
}

/** The enabled connector instances an event gets a delivery for. */
export type Router = (event: RoutedEvent) => string[];

/**
 * Routes each event to every enabled instance whose connector handles its type and whose `filter`
 * matches; the others get no delivery row at all (an event outside a filter is not the instance's
 * business, unlike a `skipped` one, which the connector looked at).
 */
export function createRouter(config: GatewayConfig, registry: ConnectorRegistry): Router {
  const instances: { name: string; handles: ReadonlySet<string>; filter: ConnectorFilter | undefined }[] = [];
  for (const [name, block] of Object.entries(config.connectors)) {
    const connector = Object.hasOwn(registry, block.type) ? registry[block.type] : undefined;
    if (!block.enabled || !connector) continue;
    instances.push({ name, handles: new Set(connector.handles), filter: block.filter });
  }
  return (event) =>
    instances.filter((i) => i.handles.has(event.type) && filterMatches(i.filter, event)).map((i) => i.name);
}
