import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { KNOWN_EVENT_TYPES } from "@engage-bridge/core";
import { describe, expect, it } from "vitest";
import { builtinRegistry } from "../connectors/builtin.ts";
import { createRouter } from "../connectors/routing.ts";
import { runCli, tempDir } from "../test-support/harness.ts";
import { filterMatches } from "./connectors-schema.ts";
import { configJsonSchema } from "./json-schema.ts";
import { ConfigError, parseConfig } from "./load.ts";

const registry = builtinRegistry();
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SOURCES = { engage: { signingSecrets: [SECRET] }, shop: { signingSecrets: [SECRET] } };
const HUBSPOT = { accessToken: "t", subscriptionId: 1 };
const SHEETS = { spreadsheetId: "1Sheet", serviceAccount: "{}" };

const parse = (connectors: Record<string, unknown>) =>
  parseConfig(JSON.stringify({ sources: SOURCES, connectors }), "t.json", { registry, env: {} });

function problems(connectors: Record<string, unknown>) {
  try {
    parse(connectors);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("connector instances", () => {
  it("takes the type from the key when none is given: today's configs are unchanged", () => {
    const config = parse({ hubspot: HUBSPOT });
    expect(config.connectors.hubspot).toMatchObject({
      type: "hubspot",
      enabled: true,
      config: { accessToken: "t" },
    });
  });

  it("runs several instances of one type, each with its own config", () => {
    const config = parse({
      hubspotSe: { type: "hubspot", ...HUBSPOT, filter: { tenants: ["acme-se"] } },
      hubspotNo: { type: "hubspot", accessToken: "u", subscriptionId: 2, filter: { tenants: ["acme-no"] } },
    });
    expect(config.connectors.hubspotSe).toMatchObject({ type: "hubspot", config: { accessToken: "t" } });
    expect(config.connectors.hubspotNo).toMatchObject({ type: "hubspot", config: { accessToken: "u" } });
  });

  it("names the problem of an unknown type, a missing type and a bad block by instance", () => {
    expect(problems({ brandB: { ...SHEETS } })).toEqual([
      {
        path: "connectors.brandB",
        message: expect.stringContaining(
          `no connector is named brandB: set type to one of ${Object.keys(registry).sort().join(", ")} (or load its plugin)`,
        ),
      },
    ]);
    expect(problems({ brandB: { type: "excel", ...SHEETS } })).toEqual([
      { path: "connectors.brandB.type", message: expect.stringMatching(/unknown connector type excel/) },
    ]);
    expect(problems({ hubspotNo: { type: "hubspot", subscriptionId: 2 } }).map((p) => p.path)).toEqual([
      "connectors.hubspotNo.accessToken",
    ]);
  });

  it("refuses unknown event types and unknown sources in a filter", () => {
    const found = problems({
      hubspot: { ...HUBSPOT, filter: { types: ["contact.acceptsEmail.changed", "contact.deleted"] } },
    });
    expect(found.map((p) => p.path)).toEqual(["connectors.hubspot.filter.types.1"]);
    expect(problems({ hubspot: { ...HUBSPOT, filter: { sources: ["engage", "nowhere"] } } })).toEqual([
      {
        path: "connectors.hubspot.filter.sources",
        message: expect.stringMatching(/no source is named nowhere/),
      },
    ]);
    expect(problems({ hubspot: { ...HUBSPOT, filter: { tenant: ["a"] } } })[0]?.message).toMatch(
      /unknown key/,
    );
  });

  it("lists the known event types for filters, and each connector's block for any instance name, in the JSON Schema", () => {
    const schema = configJsonSchema(registry) as {
      $defs: Record<
        string,
        { properties: Record<string, { properties?: Record<string, { items?: { enum?: string[] } }> }> }
      >;
      properties: {
        connectors: { additionalProperties: { anyOf: unknown[] }; properties: Record<string, unknown> };
      };
    };
    const hubspot = schema.$defs["connector-hubspot"];
    expect(hubspot?.properties.filter?.properties?.types?.items?.enum).toEqual([...KNOWN_EVENT_TYPES]);
    expect(schema.properties.connectors.properties.hubspot).toEqual({ $ref: "#/$defs/connector-hubspot" });
    expect(schema.properties.connectors.additionalProperties.anyOf).toContainEqual({
      $ref: "#/$defs/connector-googleSheets",
      required: ["type"],
    });
  });
});

describe("filters", () => {
  const event = { type: "loyalty.addPoints", tenant: "acme-se", source: "engage" };
  it.each([
    [undefined, true],
    [{}, true],
    [{ types: ["loyalty.addPoints", "point.balance.updated"] }, true],
    [{ types: ["point.balance.updated"] }, false],
    [{ tenants: ["acme-no", "acme-se"] }, true],
    [{ tenants: ["acme-no"] }, false],
    [{ sources: ["engage"], tenants: ["acme-se"] }, true],
    [{ sources: ["shop"], tenants: ["acme-se"] }, false],
  ] as const)("%j matches: %s (AND across keys, OR within a list)", (filter, expected) => {
    expect(filterMatches(filter as never, event)).toBe(expected);
  });

  it("does not match a tenant filter when the event names no tenant", () => {
    expect(filterMatches({ tenants: ["acme-se"] }, { type: "loyalty.addPoints", source: "engage" })).toBe(
      false,
    );
  });

  it("routes to enabled instances that handle the type and whose filter matches", () => {
    const config = parse({
      sheetsSe: { type: "googleSheets", ...SHEETS, filter: { tenants: ["acme-se"] } },
      sheetsNo: { type: "googleSheets", ...SHEETS, filter: { tenants: ["acme-no"] } },
      sheetsAll: { type: "googleSheets", ...SHEETS },
      sheetsOff: { type: "googleSheets", ...SHEETS, enabled: false },
      hubspot: { ...HUBSPOT, filter: { sources: ["shop"] } },
    });
    const route = createRouter(config, registry);
    expect(route({ type: "loyalty.addPoints", tenant: "acme-se", source: "engage" })).toEqual([
      "sheetsSe",
      "sheetsAll",
    ]);
    expect(route({ type: "loyalty.addPoints", tenant: "acme-dk", source: "engage" })).toEqual(["sheetsAll"]);
    expect(route({ type: "contact.acceptsEmail.changed", source: "engage" })).toEqual([]);
    expect(route({ type: "contact.acceptsEmail.changed", source: "shop" })).toEqual(["hubspot"]);
  });
});

describe("check-config", () => {
  it("prints each instance with its type and filter, and validates typed instances of built-in connectors", async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, "c.json");
      writeFileSync(
        file,
        JSON.stringify({
          sources: SOURCES,
          connectors: { sheetsBrandB: { type: "googleSheets", filter: { tenants: ["brand-b"] }, ...SHEETS } },
        }),
      );
      const result = await runCli(["check-config", "--config", file]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout).toMatch(
        / {2}sheetsBrandB:\n {4}type: googleSheets\n {4}enabled: true\n {4}filter:\n {6}tenants:\n {8}- brand-b\n/,
      );
    } finally {
      dir.remove();
    }
  });
});
