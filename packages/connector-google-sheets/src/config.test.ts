import { createServiceAccount } from "@engage-bridge/testkit";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { googleSheetsConfigSchema, parseServiceAccount } from "./config.ts";
import { a1, endRow } from "./connector.ts";

describe("config schema", () => {
  it("keeps the contract's keys and defaults", () => {
    expect(
      googleSheetsConfigSchema.parse({
        spreadsheetId: "1AbC",
        serviceAccountFile: "./secrets/sheets-sa.json",
      }),
    ).toEqual({
      spreadsheetId: "1AbC",
      sheetName: "Loyalty",
      serviceAccountFile: "./secrets/sheets-sa.json",
      rootUrl: "https://sheets.googleapis.com/",
      tokenUrl: "https://oauth2.googleapis.com/token",
    });
    // The key's contents are checked at start, so a config without the real key still validates.
    expect(
      googleSheetsConfigSchema.safeParse({ spreadsheetId: "sheet-1", serviceAccount: "{}" }).success,
    ).toBe(true);
  });

  it("wants exactly one key source, no unknown keys and an id rather than a URL", () => {
    const problems = (input: unknown) =>
      googleSheetsConfigSchema.safeParse(input).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(problems({ spreadsheetId: "1AbC" })).toEqual([
      "serviceAccountFile: set exactly one of serviceAccountFile or serviceAccount",
    ]);
    expect(problems({ spreadsheetId: "1AbC", serviceAccountFile: "a.json", serviceAccount: "{}" })).toEqual([
      "serviceAccountFile: set exactly one of serviceAccountFile or serviceAccount",
    ]);
    expect(
      problems({ spreadsheetId: "https://docs.google.com/spreadsheets/d/1AbC/edit", serviceAccount: "{}" }),
    ).toEqual(["spreadsheetId: expected the spreadsheet id (the part of its URL after /d/), not a URL"]);
    expect(problems({ spreadsheetId: "1AbC", serviceAccount: "{}", range: "A:M" })?.[0]).toMatch(/range/);
  });

  it("yields a JSON schema for the gateway's config schema file", () => {
    const schema = z.toJSONSchema(googleSheetsConfigSchema, { io: "input" }) as {
      properties: Record<string, unknown>;
    };
    expect(Object.keys(schema.properties)).toEqual([
      "spreadsheetId",
      "sheetName",
      "serviceAccountFile",
      "serviceAccount",
      "rootUrl",
      "tokenUrl",
    ]);
  });
});

describe("parseServiceAccount", () => {
  it("reads a Google key file and names problems without echoing values", () => {
    const { json, key } = createServiceAccount();
    expect(parseServiceAccount(json, "serviceAccount")).toEqual({
      clientEmail: key.client_email,
      privateKey: key.private_key,
      privateKeyId: key.private_key_id,
    });
    const messages = [
      "not json {",
      JSON.stringify({ private_key: key.private_key }),
      JSON.stringify({ client_email: "sa@p.iam.gserviceaccount.com" }),
      JSON.stringify({ client_email: "sa@p.iam.gserviceaccount.com", private_key: "hunter2" }),
    ].map((text) => {
      try {
        parseServiceAccount(text, "serviceAccount");
        return "parsed";
      } catch (error) {
        return (error as Error).message;
      }
    });
    expect(messages).toEqual([
      "serviceAccount is not JSON (expected a Google service-account key file)",
      "serviceAccount has no client_email (expected a Google service-account key file)",
      "serviceAccount has no private_key (expected a Google service-account key file)",
      "serviceAccount: private_key is not a PEM-encoded RSA private key",
    ]);
  });
});

describe("A1 helpers", () => {
  it("quotes sheet names and reads the last row of a range", () => {
    expect(a1("Loyalty", "C1:C")).toBe("'Loyalty'!C1:C");
    expect(a1("Kund's log", "A1")).toBe("'Kund''s log'!A1");
    expect(endRow("Loyalty!A2:M501")).toBe(501);
    expect(endRow("'Kund''s log'!A7:M7")).toBe(7);
    expect(endRow(undefined)).toBeUndefined();
  });
});
