import { connectorNames } from "../connector-names.js";
import { h } from "../dom.js";
import { field, select } from "../fields.js";
import { fromLocalInput, toLocalInput } from "../local-time.js";
import { query } from "../query.js";
import { navigate } from "../router.js";
import { DELIVERY_STATUSES, EVENT_STATUSES } from "../statuses.js";

/** The filters Find takes, as named in its route and in the API's query. */
export const FIND_KEYS = [
  "id",
  "contact",
  "type",
  "status",
  "connector",
  "deliveryStatus",
  "source",
  "since",
  "until",
];

/** Offered even before one is stored; /stats adds the ones that are. */
const EVENT_TYPES = [
  "contact.acceptsEmail.changed",
  "contact.acceptsSms.changed",
  "contact.acceptsPostal.changed",
  "loyalty.addPoints",
  "point.balance.updated",
  "reward.voucher.created",
];

/** The filter form, showing `filters`; a search goes to its route, keeping the page size asked. */
export function findForm(filters, limit, stats) {
  const inputs = filterInputs(filters, stats);
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find events", novalidate: true },
    h(
      "div",
      { class: "field-row" },
      field("Event id or svix-id", inputs.id, "exact match"),
      field("Contact id", inputs.contact, "exact match"),
    ),
    h(
      "div",
      { class: "field-row" },
      field("Event type", inputs.type),
      field("Event status", inputs.status),
      field("Connector", inputs.connector),
      field("Delivery status", inputs.deliveryStatus, "with the connector, when one is chosen"),
    ),
    h(
      "div",
      { class: "field-row" },
      field("Source", inputs.source),
      field("Received from", inputs.since, "local time"),
      field("Received before", inputs.until, "local time"),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", text: "Search" }),
      h("button", {
        type: "button",
        class: "secondary",
        text: "Clear filters",
        onclick: () => navigate("#/events"),
      }),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = {};
    for (const key of FIND_KEYS) {
      const raw = inputs[key].value.trim();
      next[key] = key === "since" || key === "until" ? fromLocalInput(raw) : raw;
    }
    navigate(`#/events${query({ ...next, limit })}`, "results");
  });
  return form;
}

function filterInputs(filters, stats) {
  const types = [...new Set([...EVENT_TYPES, ...Object.keys(stats.events ?? {})])].filter(Boolean).sort();
  return {
    id: h("input", {
      name: "id",
      type: "search",
      value: filters.id,
      autocomplete: "off",
      spellcheck: "false",
    }),
    contact: h("input", {
      name: "contact",
      type: "search",
      value: filters.contact,
      autocomplete: "off",
      spellcheck: "false",
    }),
    type: select("type", [["", "Any type"], ...types], filters.type),
    status: select("status", [["", "Any status"], ...EVENT_STATUSES], filters.status),
    connector: select("connector", [["", "Any connector"], ...connectorNames(stats)], filters.connector),
    deliveryStatus: select(
      "deliveryStatus",
      [["", "Any delivery status"], ...DELIVERY_STATUSES],
      filters.deliveryStatus,
    ),
    source: h("input", { name: "source", type: "text", value: filters.source, autocomplete: "off" }),
    since: h("input", { name: "since", type: "datetime-local", value: toLocalInput(filters.since) }),
    until: h("input", { name: "until", type: "datetime-local", value: toLocalInput(filters.until) }),
  };
}
