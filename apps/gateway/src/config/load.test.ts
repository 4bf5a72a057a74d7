import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { builtinRegistry } from "../connectors/builtin.ts";
import { tempDir } from "../test-support/harness.ts";
import { configJsonSchema } from "./json-schema.ts";
import {
  ConfigError,
  maskConfig,
  maskUrlCredentials,
  parseConfig,
  parseConfigWithSecrets,
  resolveConfigPath,
} from "./load.ts";

const registry = builtinRegistry();
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PAYLOAD_KEY = "DaqfT7Ys6tGqM3zbesEKpmacTJEqBCp2";

// The example of the contract, verbatim in shape.
const CONTRACT_EXAMPLE = `
server:
  host: 0.0.0.0
  port: 8080
  bodyLimit: 1mb
  trustProxy: false
store: sqlite:./data/engage-bridge.db
sources:
  engage:
    signingSecrets: ["\${ENGAGE_SIGNING_SECRET}"]
    toleranceSeconds: 300
    allowedIps: [svix-eu]
    requiredHeaders: { x-engage-token: "\${ENGAGE_HEADER_TOKEN}" }
    rateLimit: { requests: 200, perSeconds: 1 }
    payloadKey: "\${ENGAGE_PAYLOAD_KEY}"
    engageApi:
      baseUrl: https://acme.voyado.com
      apiKey: "\${ENGAGE_API_KEY}"
connectors:
  hubspot:
    enabled: true
    accessToken: "\${HUBSPOT_TOKEN}"
    baseUrl: https://api.hubapi.com
    apiVersion: "2026-03"
    subscriptionId: 123456
    legalBasis: CONSENT_WITH_NOTICE
    legalBasisExplanation: "Preference changed in Voyado Engage"
    batch: false
    smsProperty: engage_accepts_sms
    postalProperty: engage_accepts_postal
    rateLimit: { requests: 100, perSeconds: 10 }
  sendgrid:
    enabled: true
    apiKey: "\${SENDGRID_API_KEY}"
    baseUrl: https://api.sendgrid.com
    groupId: 4242
  googleSheets:
    enabled: true
    spreadsheetId: 1AbC
    sheetName: Loyalty
    serviceAccountFile: ./secrets/sheets-sa.json
    rootUrl: https://sheets.googleapis.com/
    tokenUrl: https://oauth2.googleapis.com/token
delivery:
  maxAttempts: 15
  maxAgeHours: 72
admin:
  token: "\${ENGAGE_BRIDGE_ADMIN_TOKEN}"
`;
const ENV = {
  ENGAGE_SIGNING_SECRET: SECRET,
  ENGAGE_HEADER_TOKEN: "header-token-value",
  ENGAGE_PAYLOAD_KEY: PAYLOAD_KEY,
  ENGAGE_API_KEY: "engage-api-key-value",
  HUBSPOT_TOKEN: "pat-eu1-hubspot-token",
  SENDGRID_API_KEY: "SG.sendgrid-key",
  ENGAGE_BRIDGE_ADMIN_TOKEN: "admin-token-0123456789",
};

function problemsOf(text: string, env: NodeJS.ProcessEnv = ENV) {
  try {
    parseConfig(text, "test.yaml", { registry, env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("accepts the contract's example and fills defaults", () => {
    const config = parseConfig(CONTRACT_EXAMPLE, "test.yaml", { registry, env: ENV });
    expect(config.server).toEqual({
      host: "0.0.0.0",
      port: 8080,
      bodyLimit: 1024 * 1024,
      trustProxy: false,
      maxInflightBytes: 64 * 1024 * 1024,
    });
    expect(config.sources.engage?.signingSecrets).toEqual([SECRET]);
    expect(config.connectors).toMatchObject({
      hubspot: {
        enabled: true,
        rateLimit: { requests: 100, perSeconds: 10 },
        config: { subscriptionId: "123456", apiVersion: "2026-03" },
      },
      sendgrid: { enabled: true, config: { groupId: 4242 } },
    });
    expect(config.delivery).toEqual({
      maxAttempts: 15,
      maxAgeHours: 72,
      retryBaseSeconds: 5,
      retryMaxSeconds: 3600,
      attemptTimeoutSeconds: 30,
      pollIntervalMs: 500,
    });
    expect(config.plugins).toEqual([]);
  });

  it("reads JSON as well, with defaults for everything optional", () => {
    const config = parseConfig(
      JSON.stringify({ sources: { engage: { signingSecrets: [SECRET] } } }),
      "c.json",
      { registry, env: {} },
    );
    expect(config.store).toBe("sqlite:./data/engage-bridge.db");
    expect(config.sources.engage?.toleranceSeconds).toBe(300);
    expect(config.connectors).toEqual({});
  });

  it("lists every problem of a broken file with its key path", () => {
    const broken = `
server:
  port: 99999
  bodyLimit: lots
  colour: blue
store: mysql://nope
sources:
  engage:
    signingSecrets: ["whsec_c2hvcnQ=", "\${MISSING_SECRET}"]
    toleranceSeconds: -1
    allowedIps: [svix-us, 10.0.0.0/33]
    payloadKey: short
    engageApi: { baseUrl: not-a-url }
connectors:
  hubspot: { accessToken: x, subscriptionId: abc, legalBasis: MAYBE, extra: 1 }
  salesforce: { enabled: true }
delivery: { maxAttempts: 0 }
`;
    const problems = problemsOf(broken, {});
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "server.port",
        "server.bodyLimit",
        "server",
        "store",
        "sources.engage.signingSecrets.0",
        "sources.engage.signingSecrets.1",
        "sources.engage.toleranceSeconds",
        "sources.engage.allowedIps.0",
        "sources.engage.allowedIps.1",
        "sources.engage.payloadKey",
        "sources.engage.engageApi.baseUrl",
        "sources.engage.engageApi.apiKey",
        "connectors.hubspot.subscriptionId",
        "connectors.hubspot.legalBasis",
        "connectors.hubspot",
        "connectors.salesforce",
        "delivery.maxAttempts",
      ]),
    );
    expect(problems.find((p) => p.path === "server")?.message).toMatch(/unknown key: colour/);
    expect(problems.find((p) => p.path === "connectors.salesforce")?.message).toMatch(
      `no connector is named salesforce: set type to one of ${Object.keys(registry).sort().join(", ")} (or load its plugin)`,
    );
    expect(problems.find((p) => p.path === "sources.engage.signingSecrets.1")?.message).toMatch(
      /MISSING_SECRET is not set/,
    );
    expect(problems.find((p) => p.path === "sources.engage.signingSecrets.0")?.message).toMatch(
      /at least 24 are required/,
    );
    // Messages never carry the values.
    expect(JSON.stringify(problems)).not.toContain("c2hvcnQ");
  });

  it("requires at least one source and names missing required keys", () => {
    const problems = problemsOf("sources: {}\nconnectors:\n  sendgrid: { enabled: true }\n");
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: "sources", message: expect.stringMatching(/at least one source/) },
        { path: "connectors.sendgrid.apiKey", message: expect.any(String) },
      ]),
    );
  });

  it("reports YAML syntax errors and duplicate keys", () => {
    expect(problemsOf("sources: [unclosed")[0]?.message).toMatch(/line/);
    expect(problemsOf("store: a\nstore: b\n")[0]?.message).toMatch(/DUPLICATE_KEY/);
  });

  it("substitutes ${file:…} (trimmed) relative to the config file and reports unreadable files", () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, "secret.txt"), `${SECRET}\n`);
      const text =
        'sources:\n  engage:\n    signingSecrets: ["${file:secret.txt}", "${file:/no/such/file}"]\n';
      let problems: readonly unknown[] = [];
      try {
        parseConfig(text, join(dir.path, "c.yaml"), { registry, env: {} });
      } catch (error) {
        problems = (error as ConfigError).problems;
      }
      expect(problems).toEqual([
        {
          path: "sources.engage.signingSecrets.1",
          message: expect.stringMatching(/cannot read file \/no\/such\/file \(ENOENT\)/),
        },
      ]);
      const ok = parseConfig(
        'sources:\n  engage:\n    signingSecrets: ["${file:secret.txt}"]\n',
        join(dir.path, "c.yaml"),
        { registry, env: {} },
      );
      expect(ok.sources.engage?.signingSecrets).toEqual([SECRET]);
    } finally {
      dir.remove();
    }
  });

  it("lets PORT override server.port", () => {
    const config = parseConfig(CONTRACT_EXAMPLE, "test.yaml", { registry, env: { ...ENV, PORT: "9191" } });
    expect(config.server.port).toBe(9191);
    expect(problemsOf(CONTRACT_EXAMPLE, { ...ENV, PORT: "http" })).toEqual([
      { path: "PORT", message: "must be a port number" },
    ]);
  });
});

describe("maskConfig", () => {
  it("masks every secret and a store password", () => {
    const { config, secrets } = parseConfigWithSecrets(
      CONTRACT_EXAMPLE.replace("sqlite:./data/engage-bridge.db", "postgres://bridge:pg-password@db:5432/eb"),
      "t.yaml",
      {
        registry,
        env: ENV,
      },
    );
    const printed = JSON.stringify(maskConfig(config, secrets));
    for (const value of [...Object.values(ENV), SECRET.slice(6), "pg-password"])
      expect(printed).not.toContain(value);
    expect(printed).toContain("whsec_****");
    expect(printed).toContain("x-engage-token");
    expect(printed).toContain("subscriptionId");
  });
});

describe("maskUrlCredentials", () => {
  it.each([
    ["postgres://bridge:pg-pass@db:5432/eb", "postgres://bridge:****@db:5432/eb"],
    [
      "postgres://bridge@db/eb?password=pg-pass&sslmode=require",
      "postgres://bridge@db/eb?password=****&sslmode=require",
    ],
    [
      "postgres://u:pg-pass@[not-a-host/db?sslpassword=x1",
      "postgres://u:****@[not-a-host/db?sslpassword=****",
    ],
    ["https://api.example.com/v1?api_key=k-123&x=1", "https://api.example.com/v1?api_key=****&x=1"],
    ["https://api.example.com/v1", "https://api.example.com/v1"],
    // Passwords holding the characters that end a URL part: masked to the last `@`.
    ["postgres://bridge:p@ss-word-71@db/eb", "postgres://bridge:****@db/eb"],
    ["postgres://bridge:pa/ss#wo?rd-72@db/eb", "postgres://bridge:****@db/eb"],
  ])("%s", (url, masked) => {
    expect(maskUrlCredentials(url)).toBe(masked);
  });
});

describe("trustProxy with allowedIps", () => {
  it.each([[true], [["0.0.0.0/0"]], ["10.0.0.1, ::/0"]])(
    "refuses %j, which trusts every hop",
    (trustProxy) => {
      const text = JSON.stringify({
        server: { trustProxy },
        sources: { engage: { signingSecrets: [SECRET], allowedIps: ["svix-eu"] } },
      });
      expect(() => parseConfig(text, "t.json", { registry, env: {} })).toThrow(
        /server\.trustProxy: this trusts every proxy hop/,
      );
    },
  );
});

describe("values read from files are secret whatever they become", () => {
  it("masks a file's content coerced to a number, and one given with surrounding blanks", () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, "gid.txt"), "4242\n");
      writeFileSync(join(dir.path, "sid.txt"), "SheetFromFile123\n");
      const file = join(dir.path, "c.yaml");
      const text = `sources: { engage: { signingSecrets: ["${SECRET}"] } }
connectors:
  sendgrid: { apiKey: SG.x, groupId: "\${file:gid.txt}" }
  googleSheets: { spreadsheetId: "\${file:sid.txt} ", serviceAccountFile: ./sa.json }
`;
      const { config, secrets } = parseConfigWithSecrets(text, file, { registry, env: {} });
      const printed = JSON.stringify(maskConfig(config, secrets));
      expect(printed).not.toContain("4242");
      expect(printed).not.toContain("SheetFromFile123");
    } finally {
      dir.remove();
    }
  });
});

describe("resolveConfigPath", () => {
  it("prefers --config, then ENGAGE_BRIDGE_CONFIG, then ./engage-bridge.yaml, else sandbox", () => {
    const dir = tempDir();
    try {
      expect(resolveConfigPath(undefined, {}, dir.path)).toBeUndefined();
      writeFileSync(join(dir.path, "engage-bridge.yaml"), "");
      expect(resolveConfigPath(undefined, {}, dir.path)).toBe(join(dir.path, "engage-bridge.yaml"));
      expect(resolveConfigPath(undefined, { ENGAGE_BRIDGE_CONFIG: "env.yaml" }, dir.path)).toBe(
        join(dir.path, "env.yaml"),
      );
      expect(resolveConfigPath("flag.yaml", { ENGAGE_BRIDGE_CONFIG: "env.yaml" }, dir.path)).toBe(
        join(dir.path, "flag.yaml"),
      );
    } finally {
      dir.remove();
    }
  });
});

describe("JSON Schema", () => {
  it("is generated from the validation code and the shipped file is up to date", () => {
    const shipped = JSON.parse(
      readFileSync(new URL("../../engage-bridge.schema.json", import.meta.url), "utf8"),
    );
    const generated = configJsonSchema(registry) as {
      properties: Record<string, { properties?: Record<string, unknown> }>;
      $defs: Record<string, unknown>;
    };
    expect(shipped).toEqual(generated);
    expect(Object.keys(generated.properties)).toEqual([
      "server",
      "store",
      "storeOptions",
      "sources",
      "connectors",
      "delivery",
      "admin",
      "plugins",
    ]);
    // One block per registered connector, in registration order.
    expect(Object.keys(generated.properties.connectors?.properties ?? {})).toEqual(Object.keys(registry));
    expect(generated.properties.connectors?.properties?.hubspot).toEqual({
      $ref: "#/$defs/connector-hubspot",
    });
    expect(generated.$defs["connector-hubspot"]).toMatchObject({
      properties: {
        type: { const: "hubspot" },
        filter: expect.any(Object),
        // Booleans also take a whole `${ENV}` reference (coerced at load).
        enabled: { anyOf: [{ type: "boolean" }, { type: "string", "x-reference": true }] },
        subscriptionId: expect.any(Object),
        accessToken: expect.any(Object),
      },
    });
  });
});
