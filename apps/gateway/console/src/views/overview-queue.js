import { h, replaceRegion } from "../dom.js";
import { age } from "../format.js";
import { query } from "../query.js";

/** The overview's cards: queue depth, oldest pending, events received, dead deliveries. */
export function drawQueue(region, overview, stats, windowName) {
  const deadTotal = Object.values(stats?.deliveries ?? {}).reduce((sum, c) => sum + (c.dead ?? 0), 0);
  replaceRegion(
    region,
    h("h2", { id: "queue-heading", class: "visually-hidden", text: "Queue" }),
    card("Queue depth", String(overview.queueDepth ?? 0), "deliveries pending or retrying"),
    card("Oldest pending", age(overview.oldestPendingSeconds), "waiting the longest"),
    card(
      `Events, last ${windowName}`,
      String((overview.events ?? []).reduce((sum, b) => sum + (b.n ?? 0), 0)),
      "received",
    ),
    card(
      "Dead deliveries",
      deadTotal > 0
        ? h("a", {
            href: `#/events${query({ deliveryStatus: "dead" })}`,
            class: "dead-link",
            "data-key": "dead-total",
            "aria-label": `${deadTotal} dead deliveries: find their events`,
            text: String(deadTotal),
          })
        : "0",
      "gave up; replay them",
    ),
  );
}

function card(label, value, note) {
  return h(
    "div",
    { class: "card" },
    h("p", { class: "card-label", text: label }),
    h("p", { class: "card-value" }, value),
    h("p", { class: "card-note", text: note }),
  );
}
