import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { SAMPLE_PAYLOAD_KEY } from "@engage-bridge/testkit";
import { parseConfig } from "./config/load.ts";
import type { GatewayConfig } from "./config/schema.ts";
import type { ConnectorRegistry } from "./connectors/registry.ts";

export const SANDBOX_DIR = "data";
export const SANDBOX_SOURCE = "engage";

/** The sandbox's signing secret: generated once, kept in ./data so that restarts keep it. */
export function sandboxSecret(cwd = process.cwd()): string {
  const dir = resolve(cwd, SANDBOX_DIR);
  const file = join(dir, "sandbox-signing-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dir, { recursive: true });
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * Sandbox mode: SQLite under ./data, one source named `engage` with a generated secret and the
 * payload key of the encrypted sample, so that every sample is accepted.
 */
export function sandboxConfig(registry: ConnectorRegistry, cwd = process.cwd()): GatewayConfig {
  const text = JSON.stringify({
    store: `sqlite:${resolve(cwd, SANDBOX_DIR, "engage-bridge.db")}`,
    sources: { [SANDBOX_SOURCE]: { signingSecrets: [sandboxSecret(cwd)], payloadKey: SAMPLE_PAYLOAD_KEY } },
  });
  return parseConfig(text, "(sandbox)", { registry });
}
