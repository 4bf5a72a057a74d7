import {
  type AddPointsEvent,
  type BalanceUpdatedEvent,
  type DeliveryItem,
  lowerKeys,
  type VoucherCreatedEvent,
} from "@engage-bridge/core";

export type LoyaltyEvent = AddPointsEvent | BalanceUpdatedEvent | VoucherCreatedEvent;
export type Cell = string | number;

/**
 * Every column the connector can write, in the order the README documents them: first what every
 * event has, then the fields of each loyalty payload. `source` is the `loyalty.addPoints` payload's
 * `source` field (e.g. "Automation"): the contract lists it among the payload fields, and the Engage
 * source an event came in on (the `sources:` key) is not part of what a connector receives.
 * `amount` is the points added (`loyalty.addPoints`); a voucher's amount is `voucherAmount`.
 */
export const COLUMN_NAMES = [
  "receivedAt",
  "eventTime",
  "eventId",
  "type",
  "contactId",
  "tenant",
  // loyalty.addPoints
  "amount",
  "pointDefinitionId",
  "description",
  "reason",
  "source",
  "sourceId",
  "userId",
  "userName",
  // point.balance.updated
  "balance",
  "balanceExpires",
  "accountId",
  "definitionId",
  // reward.voucher.created
  "voucherId",
  "uniqueCode",
  "voucherAmount",
  "currency",
  "validFrom",
  "validTo",
] as const;

export type ColumnName = (typeof COLUMN_NAMES)[number];

/**
 * The columns written when `columns` is not configured: the thirteen of the first version, in
 * their order (so existing sheets keep lining up), then four more of `loyalty.addPoints`.
 */
export const DEFAULT_COLUMNS: readonly ColumnName[] = [
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
];

/** Header text of each column unless configured otherwise; the first version's labels unchanged. */
export const DEFAULT_LABELS: Readonly<Record<ColumnName, string>> = {
  receivedAt: "Received at",
  eventTime: "Event time",
  eventId: "Event ID",
  type: "Event type",
  contactId: "Contact ID",
  tenant: "Tenant",
  amount: "Points added",
  pointDefinitionId: "Point definition ID",
  description: "Description",
  reason: "Reason",
  source: "Source",
  sourceId: "Source ID",
  userId: "User ID",
  userName: "User name",
  balance: "Balance",
  balanceExpires: "Balance expires",
  accountId: "Account ID",
  definitionId: "Definition ID",
  voucherId: "Voucher ID",
  uniqueCode: "Voucher code",
  voucherAmount: "Voucher amount",
  currency: "Voucher currency",
  validFrom: "Voucher valid from",
  validTo: "Voucher valid to",
};

/** One configured column: which value, under which header text. */
export interface Column {
  column: ColumnName;
  label: string;
}

/** The header row of the default columns (what an unconfigured connector writes to an empty sheet). */
export const HEADER: readonly string[] = DEFAULT_COLUMNS.map((c) => DEFAULT_LABELS[c]);

/** Google refuses a cell over 50,000 characters (and with it the whole append). */
export const MAX_CELL_CHARS = 50_000;

/** The A1 letters of a 0-based column index: 0 → A, 25 → Z, 26 → AA. */
export function columnLetter(index: number): string {
  let n = index + 1;
  let letters = "";
  while (n > 0) {
    const rem = (n - 1) % 26;
    letters = String.fromCharCode(65 + rem) + letters;
    n = Math.floor((n - 1) / 26);
  }
  return letters;
}

/** Where things are in a sheet written with some columns. */
export interface SheetLayout {
  columns: readonly Column[];
  /** Row 1 as the connector writes it. */
  header: readonly string[];
  /** Letter of the event-id column, read back to find rows already written. */
  eventIdLetter: string;
  /** Letter of the last configured column. */
  lastLetter: string;
}

/**
 * The 13 columns versions before `columns` existed wrote, in their order: a sheet started by one of
 * them keeps getting exactly these when `columns` is not configured (an upgrade changes nothing).
 */
export const LEGACY_COLUMN_COUNT = 13;

/** Whether `columns` is the default set with the default labels (the operator configured none). */
export function isDefaultColumns(columns: readonly Column[]): boolean {
  return (
    columns.length === DEFAULT_COLUMNS.length &&
    columns.every((c, i) => c.column === DEFAULT_COLUMNS[i] && c.label === DEFAULT_LABELS[c.column])
  );
}

/** The layout of `columns`, which must hold `eventId` (the config schema makes sure of it). */
export function layoutOf(columns: readonly Column[]): SheetLayout {
  const eventId = columns.findIndex((c) => c.column === "eventId");
  if (eventId < 0) throw new Error("columns must include eventId");
  return {
    columns,
    header: columns.map((c) => c.label),
    eventIdLetter: columnLetter(eventId),
    lastLetter: columnLetter(columns.length - 1),
  };
}

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

type Item = DeliveryItem<LoyaltyEvent>;
const points = (e: LoyaltyEvent) => (e.type === "loyalty.addPoints" ? e.data : undefined);
const balance = (e: LoyaltyEvent) => (e.type === "point.balance.updated" ? e.data : undefined);
const voucher = (e: LoyaltyEvent) => (e.type === "reward.voucher.created" ? e.data : undefined);

/** Each column's cell for an event; empty where the event's type has no such field. */
const CELL_OF: Readonly<Record<ColumnName, (item: Item) => Cell>> = {
  receivedAt: (i) => i.receivedAt.toISOString(),
  eventTime: (i) => eventTime(i.event.payload),
  eventId: (i) => text(i.event.id),
  type: (i) => i.event.type,
  contactId: (i) => text(i.event.contactId),
  tenant: (i) => text(i.event.tenant),
  amount: (i) => num(points(i.event)?.amount),
  pointDefinitionId: (i) => num(points(i.event)?.pointDefinitionId),
  description: (i) => text(points(i.event)?.description),
  reason: (i) => text(points(i.event)?.reason),
  source: (i) => text(points(i.event)?.source),
  sourceId: (i) => text(points(i.event)?.sourceId),
  userId: (i) => text(points(i.event)?.userId),
  userName: (i) => text(points(i.event)?.userName),
  balance: (i) => num(balance(i.event)?.balance),
  balanceExpires: (i) => text(balance(i.event)?.balanceExpires),
  accountId: (i) => num(balance(i.event)?.accountId),
  definitionId: (i) => text(balance(i.event)?.definitionId),
  voucherId: (i) => text(voucher(i.event)?.voucherId),
  uniqueCode: (i) => text(voucher(i.event)?.uniqueCode),
  voucherAmount: (i) => num(voucher(i.event)?.amount),
  currency: (i) => text(voucher(i.event)?.currency),
  validFrom: (i) => text(voucher(i.event)?.validFrom),
  validTo: (i) => text(voucher(i.event)?.validTo),
};

/**
 * One sheet row per event, one cell per configured column (the defaults when none are given);
 * empty strings where a column does not apply. Values are written with `valueInputOption=RAW`, so
 * text that looks like a formula stays text.
 */
export function toRow(item: Item, columns: readonly (Column | ColumnName)[] = DEFAULT_COLUMNS): Cell[] {
  return columns.map((c) => CELL_OF[typeof c === "string" ? c : c.column](item));
}
