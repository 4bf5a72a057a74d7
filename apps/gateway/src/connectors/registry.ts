import type { Connector, KnownEventType } from "@engage-bridge/core";
import type { z } from "zod";

// biome-ignore lint/suspicious/noExplicitAny: connectors differ in config type; the registry erases it.
export type AnyConnector = Connector<z.ZodType<any>, KnownEventType>;
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
