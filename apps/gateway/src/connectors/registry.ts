import type { Connector, KnownEventType } from "@engage-bridge/core";
import type { z } from "zod";

// Any config and state: the gateway only carries what `init` returned to `deliver`, never looks into it.
// biome-ignore lint/suspicious/noExplicitAny: a registry holds connectors of every config and state type
export type AnyConnector = Connector<z.ZodType<any>, KnownEventType, any>;
export type ConnectorRegistry = Readonly<Record<string, AnyConnector>>;

export function makeRegistry(connectors: readonly AnyConnector[]): ConnectorRegistry {
  // No prototype: a name such as `constructor` must not find Object.prototype's member.
  const registry: Record<string, AnyConnector> = Object.create(null);
  for (const connector of connectors) {
    if (Object.hasOwn(registry, connector.name))
      throw new Error(`two connectors are named ${connector.name}`);
    registry[connector.name] = connector;
  }
  return Object.freeze(registry);
}
