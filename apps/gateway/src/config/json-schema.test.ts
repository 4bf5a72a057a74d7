import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { builtinRegistry } from "../connectors/builtin.ts";
import { configJsonSchema, SCHEMA_ID } from "./json-schema.ts";

// What an editor sees: the shipped JSON Schema, checked by a standard validator (not by our zod code).
const shipped = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../engage-bridge.schema.json", import.meta.url)), "utf8"),
);
// Editors do not know our `x-secret` annotation; strict mode would refuse it.
const validate = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(shipped);
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const base = { sources: { engage: { signingSecrets: [SECRET] } } };

describe("the shipped JSON Schema", () => {
  it("is the one the code generates, with an $id that names the raw file", () => {
    expect(shipped).toEqual(configJsonSchema(builtinRegistry()));
    expect(SCHEMA_ID).toMatch(/^https:\/\/raw\.githubusercontent\.com\/.+\/engage-bridge\.schema\.json$/);
    expect(shipped.$id).toBe(SCHEMA_ID);
  });

  it("accepts the example configuration", () => {
    const example = parse(
      readFileSync(fileURLToPath(new URL("../../../../engage-bridge.example.yaml", import.meta.url)), "utf8"),
    );
    // `enabled: ${HUBSPOT_ENABLED}` too: number and boolean keys accept a whole reference.
    expect(example.connectors.hubspot.enabled).toBe("${HUBSPOT_ENABLED}");
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  it("accepts blocks of plugin connectors, by name or by type, with the keys every block has", () => {
    const config = {
      ...base,
      plugins: ["@acme/engage-bridge-connector-erp"],
      connectors: {
        erp: { url: "https://erp.example", batchSize: 10, enabled: false },
        erpBrandB: {
          type: "erp",
          filter: { tenants: ["brand-b"] },
          rateLimit: { requests: 5, perSeconds: 1 },
        },
      },
    };
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
  });

  it("still checks built-in blocks, under their name or a type", () => {
    for (const connectors of [
      { hubspot: { accessToken: "t", subscriptionId: 1, colour: "red" } },
      { brandB: { type: "sendgrid", apiKey: "k", groupId: "not a number" } },
      { erp: { enabled: "yes" } },
      { hubspot: { accessToken: "t", subscriptionId: 1, batch: "${A}${B}" } },
    ]) {
      expect(validate({ ...base, connectors }), JSON.stringify(connectors)).toBe(false);
    }
  });

  it("describes every key (hover help in editors)", () => {
    const undescribed: string[] = [];
    const visit = (node: unknown, path: string) => {
      if (!node || typeof node !== "object") return;
      const n = node as Record<string, unknown>;
      for (const [key, child] of Object.entries(
        (n.properties ?? {}) as Record<string, Record<string, unknown>>,
      )) {
        if (!child.description && !child.$ref) undescribed.push(`${path}.${key}`);
        visit(child, `${path}.${key}`);
      }
      for (const key of ["items", "additionalProperties"]) visit(n[key], `${path}[]`);
      for (const key of ["anyOf", "oneOf", "allOf"])
        if (Array.isArray(n[key])) for (const alt of n[key]) visit(alt, path);
    };
    visit(shipped, "");
    for (const [name, def] of Object.entries(shipped.$defs as Record<string, unknown>))
      visit(def, `$defs.${name}`);
    expect(undescribed).toEqual([]);
  });
});
