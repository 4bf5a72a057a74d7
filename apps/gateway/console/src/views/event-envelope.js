import { h } from "../dom.js";
import { time } from "../local-time.js";
import { query } from "../query.js";
import { badge } from "../statuses.js";

/** What the gateway stored about an event besides its payload. */
export function envelope(e) {
  const row = (term, ...value) => [h("dt", { text: term }), h("dd", {}, ...value)];
  return h(
    "dl",
    { class: "envelope" },
    row("Type", e.type),
    row(
      "Status",
      badge(e.status),
      e.statusReason ? h("span", { class: "reason", text: ` ${e.statusReason}` }) : null,
    ),
    row("Received", time(e.receivedAt)),
    row("Event id", h("span", { class: "mono", text: e.id })),
    row("Svix id", h("span", { class: "mono", text: e.svixId })),
    row("Source", e.source),
    row("Tenant", e.tenant ?? "—"),
    row(
      "Contact id",
      e.contactId
        ? h("a", {
            href: `#/events${query({ contact: e.contactId })}`,
            class: "mono",
            "aria-label": `Contact ${e.contactId}: find this contact's events`,
            text: e.contactId,
          })
        : "—",
    ),
    row(
      "Trace id",
      e.traceId
        ? h("span", { class: "mono", text: e.traceId })
        : h("span", { class: "muted", text: "not traced" }),
    ),
  );
}
