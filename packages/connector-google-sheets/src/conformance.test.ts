import { sheetsQuotaError, startFakeGoogle } from "@engage-bridge/testkit";
import { describeConnector } from "@engage-bridge/testkit/conformance";
import { googleSheetsConnector } from "./connector.ts";

/**
 * The shared connector conformance suite (`@engage-bridge/testkit/conformance`) against the fake
 * Google (token endpoint and Sheets values API): one result per item, 429 → rate-limited retry no
 * earlier than asked, 5xx → retry, 401 → dead and unhealthy, an aborted attempt → retry, and an
 * append applied whose answer was lost → one row per event after the retries.
 * `connector.test.ts` keeps what is specific to Google Sheets (the header row, read-back after an
 * ambiguous append, token renewal, 403/404 and unknown sheets, the writer lock, …).
 *
 * The suite runs `init` first (it checks row 1 and writes the header into the fresh sheet), then
 * plays the fault: a delivery to a started sheet changes it only with `values.append`, so the
 * faults go to the appends (the read-back of the event-id column after an ambiguous 5xx is a read,
 * answered normally). The default items (a sample of each loyalty type) are all written.
 */
describeConnector(googleSheetsConnector, {
  async target() {
    const fake = await startFakeGoogle();
    const config = fake.connectorConfig();
    return {
      config,
      fail(fault, times) {
        switch (fault.kind) {
          case "rate-limited":
            // Google's per-user quota answer (429 RESOURCE_EXHAUSTED), with a Retry-After that
            // Sheets rarely sends but the connector must honour when it does.
            fake.failNext(
              times,
              {
                status: 429,
                body: sheetsQuotaError("Write"),
                headers: { "Retry-After": String(fault.retryAfterSeconds) },
              },
              "append",
            );
            return;
          case "server-error":
            fake.failNext(times, { status: 503 }, "append");
            return;
          case "unauthorized":
            // On the API call (401 UNAUTHENTICATED), not the token endpoint: the connector's one
            // token renewal gets a new token, whose append is refused again.
            fake.failNext(times, { status: 401 }, "append");
            return;
        }
      },
      // A sheet can be read back: the connector checks the event-id column before writing again.
      ambiguous: {
        dropAfterApply: (times) => fake.dropAfterApply(times),
        async effects(items) {
          const rows = fake.rows(config.spreadsheetId, config.sheetName);
          const column = rows[0]?.indexOf("Event ID") ?? -1;
          if (column < 0) throw new Error("no Event ID column in row 1");
          const ids = rows.slice(1).map((row) => row[column]);
          return items.map((item) => ids.filter((id) => id === item.event.id).length);
        },
      },
      close: () => fake.close(),
    };
  },
});
