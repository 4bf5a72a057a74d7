import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type FakeEngageApi,
  SAMPLE_CONTACT_ID,
  SAMPLE_PAYLOAD_KEY,
  type SandboxTarget,
  startFakeEngageApi,
} from "@engage-bridge/testkit";
import { parseConfig } from "./config/load.ts";
import type { GatewayConfig } from "./config/schema.ts";
import { builtinSandboxes } from "./connectors/builtin.ts";
import type { ConnectorRegistry } from "./connectors/registry.ts";

export const SANDBOX_DIR = "data";
export const SANDBOX_SOURCE = "engage";
/** The sample contact's address in the sandbox's fake Engage API (and in the fake targets). */
export const SANDBOX_EMAIL = "sample.contact@example.com";

/** A value generated once and kept in ./data (0600), so that restarts keep it. */
function persisted(name: string, make: () => string, cwd: string): string {
  const dir = resolve(cwd, SANDBOX_DIR);
  const file = join(dir, name);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const value = make();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}

/** The sandbox's signing secret, printed in its banner. */
export const sandboxSecret = (cwd = process.cwd()): string =>
  persisted("sandbox-signing-secret", () => `whsec_${randomBytes(32).toString("base64")}`, cwd);

/** The sandbox's admin token, printed in its banner: a newcomer sees the dashboard in the first minute. */
export const sandboxAdminToken = (cwd = process.cwd()): string =>
  persisted("sandbox-admin-token", () => randomBytes(24).toString("base64url"), cwd);

export const sandboxStore = (cwd = process.cwd()) =>
  `sqlite:${resolve(cwd, SANDBOX_DIR, "engage-bridge.db")}`;

/** Sandbox config for read commands (events, stats…): its store and source; no fakes needed. */
export function sandboxConfig(registry: ConnectorRegistry, cwd = process.cwd()): GatewayConfig {
  const text = JSON.stringify({
    store: sandboxStore(cwd),
    sources: { [SANDBOX_SOURCE]: { signingSecrets: [sandboxSecret(cwd)], payloadKey: SAMPLE_PAYLOAD_KEY } },
  });
  return parseConfig(text, "(sandbox)", { registry });
}

export interface Sandbox {
  config: GatewayConfig;
  /** Where each fake listens, by connector (and `engageApi`), for the banner. */
  fakes: Record<string, string>;
  /** What the fake targets hold now, by connector (for a look after send-sample). */
  state(): Record<string, unknown>;
  close(): Promise<void>;
}

/** The sandbox's fake Engage API: it knows the sample contact, whose current preferences differ per channel. */
export async function startSandboxEngageApi(): Promise<FakeEngageApi> {
  const engage = await startFakeEngageApi();
  engage.setContact(SAMPLE_CONTACT_ID, {
    email: SANDBOX_EMAIL,
    acceptsEmail: false,
    acceptsSms: true,
    acceptsPostal: false,
  });
  return engage;
}

/**
 * Sandbox mode for `start`: SQLite under ./data, one source `engage` (generated secret, the sample
 * payload key), and every built-in connector pointed at the fake its package's `./testing` entry
 * starts, with a fake Engage API that knows the sample contact — the recommended setup, so
 * preference events apply Engage's current value. No connector is named here.
 */
export async function startSandbox(registry: ConnectorRegistry, cwd = process.cwd()): Promise<Sandbox> {
  const engage = await startSandboxEngageApi();
  const targets: [string, SandboxTarget][] = [];
  try {
    for (const { connector, sandbox } of await builtinSandboxes()) {
      targets.push([
        connector.name,
        await sandbox({ contact: { id: SAMPLE_CONTACT_ID, email: SANDBOX_EMAIL } }),
      ]);
    }
  } catch (error) {
    await Promise.all([engage.close(), ...targets.map(([, t]) => t.close())]);
    throw error;
  }
  const text = JSON.stringify({
    // A sandbox has a secret printed on the screen and fake targets: this machine only (`--host`
    // opens it up on purpose).
    server: { host: "127.0.0.1" },
    store: sandboxStore(cwd),
    admin: { token: sandboxAdminToken(cwd) },
    sources: {
      [SANDBOX_SOURCE]: {
        signingSecrets: [sandboxSecret(cwd)],
        payloadKey: SAMPLE_PAYLOAD_KEY,
        engageApi: { baseUrl: engage.url, apiKey: engage.apiKey },
      },
    },
    connectors: Object.fromEntries(targets.map(([name, t]) => [name, t.config])),
  });
  const config = parseConfig(text, "(sandbox)", { registry });
  return {
    config,
    fakes: { engageApi: engage.url, ...Object.fromEntries(targets.map(([name, t]) => [name, t.url])) },
    state: () => Object.fromEntries(targets.map(([name, t]) => [name, t.state()])),
    close: async () => {
      await Promise.all([engage.close(), ...targets.map(([, t]) => t.close())]);
    },
  };
}
