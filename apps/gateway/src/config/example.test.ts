import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runCli } from "../test-support/harness.ts";

const EXAMPLE = fileURLToPath(new URL("../../../../engage-bridge.example.yaml", import.meta.url));
const CONTRACT_EXAMPLE_KEYS = [
  "server",
  "store",
  "storeOptions",
  "plugins",
  "sources",
  "connectors",
  "delivery",
  "admin",
];

/** A placeholder for every `${VAR}` the file names, shaped like the real value where the key cares. */
function placeholders(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [, name] of text.matchAll(/\$\{([A-Z0-9_]+)\}/g)) env[name ?? ""] = "placeholder-value";
  return {
    ...env,
    ENGAGE_SIGNING_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ENGAGE_PAYLOAD_KEY: "DaqfT7Ys6tGqM3zbesEKpmacTJEqBCp2",
    FORWARD_SIGNING_SECRET: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    HUBSPOT_ENABLED: "true",
    ENGAGE_BRIDGE_ADMIN_TOKEN: "an-admin-token-of-32-characters!",
  };
}

describe("engage-bridge.example.yaml", () => {
  it("passes check-config with placeholder values for every variable, and every secret is masked", async () => {
    const text = readFileSync(EXAMPLE, "utf8");
    const env = placeholders(text);
    const { code, stdout, stderr } = await runCli(["check-config", "--config", EXAMPLE], { env });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("engage-bridge.example.yaml: valid");
    for (const [name, value] of Object.entries(env))
      if (name !== "HUBSPOT_ENABLED") expect(stdout).not.toContain(value);
  });

  it("shows every top-level key of the contract", () => {
    const text = readFileSync(EXAMPLE, "utf8");
    for (const key of CONTRACT_EXAMPLE_KEYS) expect(text).toMatch(new RegExp(`^${key}:`, "m"));
  });
});
