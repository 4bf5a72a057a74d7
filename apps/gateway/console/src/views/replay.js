import { api } from "../api.js";
import { connectorNames } from "../connector-names.js";
import { fill, h } from "../dom.js";
import { field, select } from "../fields.js";
import { fromLocalInput, toLocalInput } from "../local-time.js";
import { countToReplay } from "./replay-outcome.js";

/** Bulk replay (`#/replay?…`): choose finished deliveries, count them, then re-queue exactly those. */
export async function replayView(view, params, ctx) {
  document.title = "Bulk replay · engage-bridge console";
  const stats = await api("stats");
  if (!ctx.alive()) return;
  const inputs = selectionInputs(params, stats);
  const outcome = h("div", { class: "replay-outcome", id: "replay-outcome" });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Bulk replay", novalidate: true },
    h(
      "div",
      { class: "field-row" },
      field("Connector", inputs.connector),
      field("Delivery status", inputs.status),
      field("Events received from", inputs.since, "local time"),
      field("Events received before", inputs.until, "local time"),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Count matching deliveries" })),
  );
  // Any change makes the count stale: the replay button goes until counted again.
  form.addEventListener("input", () => fill(outcome));
  form.addEventListener("change", () => fill(outcome));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    return countToReplay(outcome, selection(inputs), ctx);
  });
  fill(
    view,
    h("h1", { tabindex: "-1", text: "Bulk replay" }),
    h(
      "p",
      {},
      "Re-queues finished deliveries that match: their attempt count starts again and their history is kept. ",
      "Count them first (a dry run changes nothing), then replay exactly that selection.",
    ),
    form,
    outcome,
  );
}

function selectionInputs(params, stats) {
  return {
    connector: select(
      "connector",
      [["", "Every connector"], ...connectorNames(stats)],
      params.get("connector") ?? "",
    ),
    status: select(
      "status",
      [
        ["dead", "dead"],
        ["skipped", "skipped"],
        ["delivered", "delivered"],
      ],
      params.get("status") ?? "dead",
    ),
    since: h("input", { name: "since", type: "datetime-local", value: toLocalInput(params.get("since")) }),
    until: h("input", { name: "until", type: "datetime-local", value: toLocalInput(params.get("until")) }),
  };
}

/** The replay request's selection (`/replay`'s body without `dryRun`): only what was chosen. */
function selection(inputs) {
  const b = { status: inputs.status.value };
  if (inputs.connector.value) b.connector = inputs.connector.value;
  const since = fromLocalInput(inputs.since.value);
  const until = fromLocalInput(inputs.until.value);
  if (since) b.since = since;
  if (until) b.until = until;
  return b;
}
