export {
  ConfigError,
  type ConfigProblem,
  loadConfigFile,
  maskConfig,
  parseConfig,
  resolveConfigPath,
} from "./config/load.ts";
export type { GatewayConfig, SourceConfig } from "./config/schema.ts";
export { builtinRegistry } from "./connectors/builtin.ts";
export { type ConnectorRegistry, makeRegistry } from "./connectors/registry.ts";
export { type Gateway, type GatewayOptions, startGateway } from "./gateway.ts";
export { createLogger, maskContactId } from "./logger.ts";
export { openStore } from "./store/open.ts";
export { SqliteStore } from "./store/sqlite.ts";
export type * from "./store/store.ts";
