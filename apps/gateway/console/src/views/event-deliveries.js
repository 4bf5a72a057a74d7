import { h, nextId, replaceRegion } from "../dom.js";
import { plural } from "../format.js";
import { time } from "../local-time.js";
import { badge, REPLAYABLE } from "../statuses.js";
import { attemptsTable } from "./event-attempts.js";

/**
 * An event's deliveries, one section per connector with its attempts and a replay button;
 * `replay(connector, replayable)` is called by the button. Drawn again while the page follows them.
 */
export function drawDeliveries(region, deliveries, replay) {
  replaceRegion(
    region,
    h("h2", { id: "deliveries-heading", text: `Deliveries (${deliveries.length})` }),
    deliveries.length === 0
      ? h("p", { class: "muted", text: "No connector takes this event." })
      : deliveries.map((d) => delivery(d, replay)),
  );
}

function delivery(d, replay) {
  const headingId = nextId("delivery");
  const replayable = REPLAYABLE.includes(d.status);
  // Not disabled while in flight, only marked so: the button keeps its focus across redraws and
  // says why nothing happens.
  const button = h("button", {
    type: "button",
    class: d.status === "dead" ? null : "secondary",
    "data-key": `replay:${d.connector}`,
    "aria-disabled": replayable ? null : "true",
    text: `Replay to ${d.connector}`,
  });
  button.addEventListener("click", () => replay(d.connector, replayable));
  return h(
    "section",
    { class: "delivery", "aria-labelledby": headingId, "data-connector": d.connector },
    h(
      "div",
      { class: "delivery-head" },
      h("h3", { id: headingId }, d.connector, " ", badge(d.status)),
      button,
    ),
    h(
      "p",
      { class: "delivery-meta" },
      `${plural((d.attempts ?? []).length, "attempt")}`,
      d.nextAttemptAt ? [" · next attempt ", time(d.nextAttemptAt)] : null,
      " · updated ",
      time(d.updatedAt),
    ),
    d.lastError && d.status !== "delivered"
      ? h("p", { class: "last-error" }, "Last error: ", h("span", { class: "error-text", text: d.lastError }))
      : null,
    attemptsTable(d),
  );
}
