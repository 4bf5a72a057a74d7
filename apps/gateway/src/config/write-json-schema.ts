// Build step: writes engage-bridge.schema.json next to package.json, shipped with the gateway.
import { writeFileSync } from "node:fs";
import { builtinRegistry } from "../connectors/builtin.ts";
import { configJsonSchema } from "./json-schema.ts";

const target = new URL("../../engage-bridge.schema.json", import.meta.url);
writeFileSync(target, `${JSON.stringify(configJsonSchema(builtinRegistry()), null, 2)}\n`);
