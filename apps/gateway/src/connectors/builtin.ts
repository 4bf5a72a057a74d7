import { googleSheetsConnector } from "@engage-bridge/connector-google-sheets";
import { hubspot } from "@engage-bridge/connector-hubspot";
import { sendgridConnector } from "@engage-bridge/connector-sendgrid";
import { webhook } from "@engage-bridge/connector-webhook";
import { type AnyConnector, makeRegistry } from "./registry.ts";

/** The connectors of the contract, each from its own package; plugins add more (`plugins:`). */
export const BUILTIN_CONNECTORS: readonly AnyConnector[] = [
  hubspot,
  sendgridConnector,
  googleSheetsConnector,
  webhook,
];
export const builtinRegistry = () => makeRegistry(BUILTIN_CONNECTORS);
