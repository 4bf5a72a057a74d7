import {
  type AddPointsEvent,
  type BalanceUpdatedEvent,
  type DeliveryItem,
  lowerKeys,
  type VoucherCreatedEvent,
} from "@engage-bridge/core";

export type LoyaltyEvent = AddPointsEvent | BalanceUpdatedEvent | VoucherCreatedEvent;
export type Cell = string | number;

/** The header row, written once when the sheet is empty. Column C holds the event id. */
export const HEADER = [
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
] as const;

/** 0-based index and letter of the event-id column, used to find rows already written. */
export const EVENT_ID_COLUMN = 2;
export const EVENT_ID_LETTER = "C";
export const LAST_COLUMN_LETTER = "M";

/** Google refuses a cell over 50,000 characters (and with it the whole append). */
export const MAX_CELL_CHARS = 50_000;

/** Payload keys that may carry when the event happened (matched case-insensitively). */
const EVENT_TIME_KEYS = [
  "occurredat",
  "eventtime",
  "createdat",
  "created",
  "timestamp",
  "changedat",
  "updatedat",
  "modifiedat",
  "time",
];

function text(value: unknown): Cell {
  if (value === undefined || value === null) return "";
  const s = typeof value === "string" ? value : String(value);
  return s.length > MAX_CELL_CHARS ? s.slice(0, MAX_CELL_CHARS) : s;
}

function num(value: number | undefined): Cell {
  return value !== undefined && Number.isFinite(value) ? value : "";
}

function eventTime(payload: unknown): Cell {
  const record = lowerKeys(payload);
  if (!record) return "";
  for (const key of EVENT_TIME_KEYS) {
    const value = record[key];
    if (typeof value === "string" && value.trim() !== "") return text(value.trim());
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return "";
}

/**
 * One sheet row per event, in {@link HEADER} order; empty strings where a column does not apply.
 * Values are written with `valueInputOption=RAW`, so text that looks like a formula stays text.
 */
export function toRow(item: DeliveryItem<LoyaltyEvent>): Cell[] {
  const { event } = item;
  const row: Cell[] = [
    item.receivedAt.toISOString(),
    eventTime(event.payload),
    text(event.id),
    event.type,
    text(event.contactId),
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
  ];
  switch (event.type) {
    case "loyalty.addPoints":
      row[5] = num(event.data.amount);
      break;
    case "point.balance.updated":
      row[6] = num(event.data.balance);
      row[7] = text(event.data.balanceExpires);
      break;
    case "reward.voucher.created":
      row[8] = text(event.data.voucherId);
      row[9] = text(event.data.uniqueCode);
      row[10] = num(event.data.amount);
      row[11] = text(event.data.currency);
      row[12] = text(event.data.validTo);
      break;
  }
  return row;
}
