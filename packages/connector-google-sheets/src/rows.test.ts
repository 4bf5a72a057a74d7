import { type DeliveryItem, parseEngageEvent } from "@engage-bridge/core";
import { sampleEvent } from "@engage-bridge/testkit";
import { describe, expect, it } from "vitest";
import { googleSheetsConfigSchema } from "./config.ts";
import {
  COLUMN_NAMES,
  columnLetter,
  HEADER,
  type LoyaltyEvent,
  layoutOf,
  MAX_CELL_CHARS,
  toRow,
} from "./rows.ts";

const receivedAt = new Date("2026-11-28T10:00:00.000Z");
function item(type: LoyaltyEvent["type"], payload: Record<string, unknown> = {}): DeliveryItem<LoyaltyEvent> {
  const event = parseEngageEvent(sampleEvent(type, { payload, tenant: "acme-se" })) as LoyaltyEvent;
  return { deliveryId: `d-${event.id}`, event, attempt: 1, receivedAt };
}

/** Every column, by name, for one event. */
const cellsOf = (i: DeliveryItem<LoyaltyEvent>) =>
  Object.fromEntries(toRow(i, COLUMN_NAMES).map((cell, index) => [COLUMN_NAMES[index], cell]));

const contact = "1c9b35d6-28d8-4520-8900-a89555f7f0c5";
const blank = Object.fromEntries(COLUMN_NAMES.map((c) => [c, ""]));

describe("toRow", () => {
  it("fills every column of loyalty.addPoints from its payload; source is the payload's source", () => {
    const points = item("loyalty.addPoints", {
      createdAt: "2026-11-28T09:59:58+01:00",
      userId: "u-17",
      userName: "Kim at the till",
    });
    expect(cellsOf(points)).toEqual({
      ...blank,
      receivedAt: "2026-11-28T10:00:00.000Z",
      eventTime: "2026-11-28T09:59:58+01:00",
      eventId: points.event.id,
      type: "loyalty.addPoints",
      contactId: contact,
      tenant: "acme-se",
      amount: 150.5,
      pointDefinitionId: 1,
      description: "Birthday bonus",
      reason: "Birthday",
      source: "Automation",
      sourceId: "auto-77",
      userId: "u-17",
      userName: "Kim at the till",
    });
  });

  it("fills the balance and voucher columns, numbers as numbers, and nothing else", () => {
    const balance = item("point.balance.updated");
    expect(cellsOf(balance)).toEqual({
      ...blank,
      receivedAt: "2026-11-28T10:00:00.000Z",
      eventId: balance.event.id,
      type: "point.balance.updated",
      contactId: contact,
      tenant: "acme-se",
      balance: 2500.75,
      balanceExpires: "2027-12-31T23:59:59.999+01:00",
      accountId: 999,
      definitionId: "1",
    });
    const voucher = item("reward.voucher.created");
    expect(cellsOf(voucher)).toEqual({
      ...blank,
      receivedAt: "2026-11-28T10:00:00.000Z",
      eventId: voucher.event.id,
      type: "reward.voucher.created",
      contactId: contact,
      tenant: "acme-se",
      voucherId: "f0e1d2c3-b4a5-4968-8776-655443322110",
      uniqueCode: "VCH-9QX4-7KTB",
      voucherAmount: 100,
      currency: "SEK",
      validFrom: "2026-11-28T00:00:00+01:00",
      validTo: "2027-02-28T23:59:59+01:00",
    });
  });

  it("writes the configured columns in their order, the defaults without a config", () => {
    const points = item("loyalty.addPoints");
    const { columns } = googleSheetsConfigSchema.parse({
      spreadsheetId: "1AbC",
      serviceAccount: "{}",
      columns: ["source", { column: "eventId", label: "Id" }, "amount", "balance"],
    });
    expect(toRow(points, columns)).toEqual(["Automation", points.event.id, 150.5, ""]);
    expect(toRow(points)).toHaveLength(HEADER.length);
    expect(toRow(points).slice(13)).toEqual(["Birthday bonus", "Birthday", "Automation", "auto-77"]);
  });

  it("cuts a value to Google's 50,000 characters per cell", () => {
    const long = item("loyalty.addPoints", { description: "x".repeat(MAX_CELL_CHARS + 10) });
    expect(String(toRow(long, ["description"])[0])).toHaveLength(MAX_CELL_CHARS);
  });
});

describe("layout", () => {
  it("finds the event-id and last column letters from the configured columns", () => {
    expect([0, 2, 25, 26, 27, 51, 52, 701, 702].map(columnLetter)).toEqual([
      "A",
      "C",
      "Z",
      "AA",
      "AB",
      "AZ",
      "BA",
      "ZZ",
      "AAA",
    ]);
    const { columns } = googleSheetsConfigSchema.parse({ spreadsheetId: "1AbC", serviceAccount: "{}" });
    expect(layoutOf(columns)).toMatchObject({ eventIdLetter: "C", lastLetter: "Q", header: [...HEADER] });
    const moved = layoutOf([
      { column: "receivedAt", label: "When" },
      { column: "type", label: "What" },
      { column: "contactId", label: "Who" },
      { column: "amount", label: "Points" },
      { column: "eventId", label: "Id" },
    ]);
    expect(moved).toMatchObject({
      eventIdLetter: "E",
      lastLetter: "E",
      header: ["When", "What", "Who", "Points", "Id"],
    });
  });
});
