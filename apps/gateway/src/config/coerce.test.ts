import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { builtinRegistry } from "../connectors/builtin.ts";
import { tempDir } from "../test-support/harness.ts";
import { ConfigError, loadStoreConfig, parseConfig } from "./load.ts";

const registry = builtinRegistry();
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const problemsOf = (text: string, env: NodeJS.ProcessEnv) => {
  try {
    parseConfig(text, "test.yaml", { registry, env });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
};

const BASE = `
sources:
  engage:
    signingSecrets: ["${SECRET}"]
`;

describe("numbers and booleans from ${ENV}", () => {
  it("coerces whole references into number and boolean keys, gateway's and connectors' alike", () => {
    const config = parseConfig(
      `${BASE}
server:
  port: \${APP_PORT}
  trustProxy: \${TRUST}
storeOptions:
  statementTimeoutMs: " \${TIMEOUT} "
delivery:
  maxAgeHours: \${MAX_AGE}
connectors:
  hubspot:
    enabled: \${HUBSPOT_ENABLED}
    accessToken: \${HUBSPOT_TOKEN}
    subscriptionId: \${SUBSCRIPTION}
    batch: \${HUBSPOT_BATCH}
    rateLimit: { requests: "\${HS_REQUESTS}", perSeconds: 10 }
  sendgrid:
    enabled: \${SENDGRID_ENABLED}
    apiKey: \${SENDGRID_KEY}
    groupId: \${GROUP}
`,
      "test.yaml",
      {
        registry,
        env: {
          APP_PORT: "9090",
          TRUST: "1",
          TIMEOUT: "3000",
          MAX_AGE: "1.5",
          HUBSPOT_ENABLED: "TRUE",
          HUBSPOT_TOKEN: "12345678",
          SUBSCRIPTION: "987",
          HUBSPOT_BATCH: "false",
          HS_REQUESTS: "50",
          SENDGRID_ENABLED: "false",
          SENDGRID_KEY: "SG.x",
          GROUP: "4242",
        },
      },
    );
    expect(config.server.port).toBe(9090);
    expect(config.server.trustProxy).toBe(1);
    expect(config.storeOptions.statementTimeoutMs).toBe(3000);
    expect(config.delivery.maxAgeHours).toBe(1.5);
    const hubspot = config.connectors.hubspot;
    expect(hubspot?.enabled).toBe(true);
    // A string key stays a string even when the text looks like a number.
    expect(hubspot?.config).toMatchObject({ accessToken: "12345678", subscriptionId: "987", batch: false });
    expect(hubspot?.rateLimit).toEqual({ requests: 50, perSeconds: 10 });
    expect(config.connectors.sendgrid?.enabled).toBe(false);
    expect(config.connectors.sendgrid?.config).toMatchObject({ groupId: 4242 });
  });

  it("picks a renamed instance's schema by its type", () => {
    const config = parseConfig(
      `${BASE}
connectors:
  brandB:
    type: sendgrid
    apiKey: SG.y
    groupId: \${GROUP}
`,
      "test.yaml",
      { registry, env: { GROUP: "77" } },
    );
    expect(config.connectors.brandB?.config).toMatchObject({ groupId: 77 });
  });

  it("names the reference, never its value, when the text does not parse", () => {
    const problems = problemsOf(
      `${BASE}
server:
  port: \${APP_PORT}
connectors:
  hubspot:
    enabled: \${HUBSPOT_ENABLED}
    accessToken: t
    subscriptionId: 1
`,
      { APP_PORT: "eighty", HUBSPOT_ENABLED: "s3cret-yes" },
    );
    expect(problems).toEqual([
      "server.port: ${APP_PORT} must be a number",
      "connectors.hubspot.enabled: ${HUBSPOT_ENABLED} must be true or false",
    ]);
    expect(problems.join("\n")).not.toMatch(/eighty|s3cret/);
  });

  it("leaves literal text alone: only interpolated values are coerced", () => {
    expect(problemsOf(`${BASE}\nserver:\n  port: "8080"\n`, {})).toEqual([
      "server.port: Invalid input: expected number, received string",
    ]);
    // Part of a string is not a whole reference.
    expect(problemsOf(`${BASE}\nserver:\n  port: "80\${DIGIT}"\n`, { DIGIT: "8" })).toHaveLength(1);
  });
});

describe("loadStoreConfig", () => {
  it("reads only store and storeOptions: missing connector secrets and unknown blocks do not matter", () => {
    const dir = tempDir("engage-store-config-");
    try {
      const file = join(dir.path, "engage-bridge.yaml");
      writeFileSync(
        file,
        `store: \${DATABASE_URL}\nstoreOptions: { connectTimeoutMs: "\${CONNECT_MS}" }\nsources: { engage: { signingSecrets: ["\${UNSET}"] } }\nconnectors: { x: { type: plugin } }\n`,
      );
      expect(
        loadStoreConfig(file, { DATABASE_URL: "postgres://u:p@db:5432/engage", CONNECT_MS: "2000" }),
      ).toEqual({
        store: "postgres://u:p@db:5432/engage",
        storeOptions: { statementTimeoutMs: 5000, connectTimeoutMs: 2000 },
      });
      expect(() => loadStoreConfig(file, { CONNECT_MS: "2000" })).toThrow(
        "store: environment variable DATABASE_URL is not set",
      );
    } finally {
      dir.remove();
    }
  });
});
