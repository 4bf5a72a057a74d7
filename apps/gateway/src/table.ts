import type { ConsentDecision, EventDetail } from "./store/store.ts";

/**
 * C0 and C1 control characters and bidirectional overrides. Table cells come from webhook payloads
 * (event types, ids, error texts): a terminal escape in one of them must not reach the operator's
 * terminal, where it could rewrite the screen or hide what it shows.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A cell as it may be printed: every unprintable character shown as U+FFFD. */
export const printable = (text: string) => text.replace(UNPRINTABLE, "\ufffd");

/** Plain-text columns for terminal output. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const safe = rows.map((row) => row.map(printable));
  const widths = headers.map((h, i) => Math.max(h.length, ...safe.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), ...safe.map(line)].join("\n");
}

/** `engage-bridge event <id>`: the event, then each delivery with its attempts, oldest first. */
export function formatEventDetail(detail: Omit<EventDetail, "body">): string {
  const { event } = detail;
  const head = formatTable(
    ["field", "value"],
    [
      ["id", event.id],
      ["svixId", event.svixId],
      ["source", event.source],
      ["type", event.type],
      ["status", event.statusReason ? `${event.status} (${event.statusReason})` : event.status],
      ["contactId", event.contactId ?? ""],
      ["tenant", event.tenant ?? ""],
      ["receivedAt", event.receivedAt],
      ["traceId", event.traceId ?? ""],
    ],
  );
  const deliveries = detail.deliveries.map((d) => {
    const title = printable(
      `${d.connector}: ${d.status}${d.nextAttemptAt ? `, next attempt ${d.nextAttemptAt}` : ""}` +
        (d.lastError && d.status !== "delivered" ? ` (${d.lastError})` : ""),
    );
    const attempts = formatTable(
      ["attempt", "at", "ms", "outcome", "target", "consent", "error"],
      d.attempts.map((a) => [
        String(a.attempt),
        a.at,
        String(a.durationMs),
        a.outcome,
        a.targetStatus === null ? "" : String(a.targetStatus),
        consentText(a.consent),
        a.error ?? "",
      ]),
    );
    return `${title}\n${d.attempts.length ? attempts : "  no attempt yet"}`;
  });
  return [head, ...deliveries].join("\n\n");
}

function consentText(consent: ConsentDecision | null): string {
  if (!consent) return "";
  if ("supersededBy" in consent) return `superseded by ${consent.supersededBy}`;
  return `${consent.value ? "accepts" : "refuses"} (from ${consent.from === "engage-api" ? "Engage API" : "payload"})`;
}
