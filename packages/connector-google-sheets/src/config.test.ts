import { createServiceAccount } from "@engage-bridge/testkit";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { googleSheetsConfigSchema, parseServiceAccount } from "./config.ts";
import { a1, endRow } from "./connector.ts";
import { COLUMN_NAMES, HEADER } from "./rows.ts";

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
      columns: [
        { column: "receivedAt", label: "Received at" },
        { column: "eventTime", label: "Event time" },
        { column: "eventId", label: "Event ID" },
        { column: "type", label: "Event type" },
        { column: "contactId", label: "Contact ID" },
        { column: "amount", label: "Points added" },
        { column: "balance", label: "Balance" },
        { column: "balanceExpires", label: "Balance expires" },
        { column: "voucherId", label: "Voucher ID" },
        { column: "uniqueCode", label: "Voucher code" },
        { column: "voucherAmount", label: "Voucher amount" },
        { column: "currency", label: "Voucher currency" },
        { column: "validTo", label: "Voucher valid to" },
        { column: "description", label: "Description" },
        { column: "reason", label: "Reason" },
        { column: "source", label: "Source" },
        { column: "sourceId", label: "Source ID" },
      ],
      onHeaderMismatch: "refuse",
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
      "columns",
      "onHeaderMismatch",
    ]);
  });
});

describe("columns and onHeaderMismatch", () => {
  const base = { spreadsheetId: "1AbC", serviceAccount: "{}" };
  const parse = (extra: Record<string, unknown>) => googleSheetsConfigSchema.parse({ ...base, ...extra });
  const problems = (extra: Record<string, unknown>) =>
    googleSheetsConfigSchema
      .safeParse({ ...base, ...extra })
      .error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);

  it("takes names and { column, label } objects, in the order given, with default labels", () => {
    const config = parse({
      columns: [
        "eventId",
        { column: "amount", label: "  Poäng  " },
        { column: "tenant" },
        "source",
        { column: "receivedAt", label: "=När" },
      ],
    });
    expect(config.columns).toEqual([
      { column: "eventId", label: "Event ID" },
      { column: "amount", label: "Poäng" },
      { column: "tenant", label: "Tenant" },
      { column: "source", label: "Source" },
      { column: "receivedAt", label: "=När" },
    ]);
    // The contract's example (a list of names) is the default.
    const contract = parse({
      columns: [
        "receivedAt",
        "eventTime",
        "eventId",
        "type",
        "contactId",
        "amount",
        "balance",
        "balanceExpires",
        "voucherId",
        "uniqueCode",
        "voucherAmount",
        "currency",
        "validTo",
        "description",
        "reason",
        "source",
        "sourceId",
      ],
    });
    expect(contract.columns).toEqual(parse({}).columns);
    expect(contract.columns.map((c) => c.label)).toEqual([...HEADER]);
    // The first version's thirteen columns keep their place and labels.
    expect(HEADER.slice(0, 13)).toEqual([
      "Received at",
      "Event time",
      "Event ID",
      "Event type",
      "Contact ID",
      "Points added",
      "Balance",
      "Balance expires",
      "Voucher ID",
      "Voucher code",
      "Voucher amount",
      "Voucher currency",
      "Voucher valid to",
    ]);
    // Every documented column can be used.
    expect(parse({ columns: [...COLUMN_NAMES] }).columns).toHaveLength(24);
  });

  it("names the valid columns for an unknown one, and refuses duplicates and a missing eventId", () => {
    const valid =
      "receivedAt, eventTime, eventId, type, contactId, tenant, amount, pointDefinitionId, description, reason, source, sourceId, userId, userName, balance, balanceExpires, accountId, definitionId, voucherId, uniqueCode, voucherAmount, currency, validFrom, validTo";
    expect(problems({ columns: ["eventId", "points"] })).toEqual([
      `columns.1: unknown column "points"; valid columns: ${valid}`,
    ]);
    expect(problems({ columns: ["eventId", { column: "Event type", label: "Type" }] })).toEqual([
      `columns.1: column: unknown column "Event type"; valid columns: ${valid}`,
    ]);
    expect(
      problems({ columns: ["eventId", "amount", { column: "amount", label: "Points" }, "eventId"] }),
    ).toEqual(["columns.2: duplicate column amount", "columns.3: duplicate column eventId"]);
    expect(problems({ columns: ["receivedAt", "amount"] })).toEqual([
      "columns: columns must include eventId (rows already in the sheet are recognised by it)",
    ]);
    // Every problem at once, as check-config lists them.
    expect(problems({ columns: ["amount", "points", { column: "amount", label: "Points" }] })).toEqual([
      `columns.1: unknown column "points"; valid columns: ${valid}`,
      "columns.2: duplicate column amount",
      "columns: columns must include eventId (rows already in the sheet are recognised by it)",
    ]);
    expect(problems({ columns: [] })?.[0]).toMatch(/^columns: Too small/);
    expect(problems({ columns: ["eventId", { column: "amount", label: " " }] })?.[0]).toMatch(
      /^columns\.1\.label: Too small/,
    );
    expect(problems({ columns: ["eventId", { column: "amount", header: "Points" }] })).toEqual([
      'columns.1: Unrecognized key: "header"',
    ]);
    expect(problems({ columns: ["eventId", 7] })).toEqual([
      'columns.1: expected a column name or { column: <name>, label: "<header text>" }',
    ]);
  });

  it("refuses on a header mismatch unless told to append new columns", () => {
    expect(parse({}).onHeaderMismatch).toBe("refuse");
    expect(parse({ onHeaderMismatch: "append-new-columns" }).onHeaderMismatch).toBe("append-new-columns");
    expect(problems({ onHeaderMismatch: "append" })?.[0]).toMatch(/^onHeaderMismatch: Invalid option/);
  });

  it("lists the column names as an enum in the JSON schema, with the default", () => {
    const schema = z.toJSONSchema(googleSheetsConfigSchema, { io: "input" }) as {
      properties: Record<string, Record<string, unknown>>;
    };
    const { columns, onHeaderMismatch } = schema.properties;
    expect(columns).toMatchObject({
      type: "array",
      default: [...parse({}).columns.map((c) => c.column)],
      items: {
        anyOf: [
          { type: "string", enum: [...COLUMN_NAMES] },
          {
            type: "object",
            properties: { column: { type: "string", enum: [...COLUMN_NAMES] }, label: { type: "string" } },
            required: ["column"],
            additionalProperties: false,
          },
        ],
      },
    });
    expect(onHeaderMismatch).toMatchObject({ enum: ["refuse", "append-new-columns"], default: "refuse" });
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
