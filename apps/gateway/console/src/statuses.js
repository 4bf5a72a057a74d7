import { h } from "./dom.js";

export const EVENT_STATUSES = ["accepted", "ignored", "undecryptable"];
export const DELIVERY_STATUSES = ["pending", "retrying", "delivered", "skipped", "dead"];
/** Finished deliveries: the ones a replay may re-queue. */
export const REPLAYABLE = ["dead", "skipped", "delivered"];

export function badge(status) {
  return h("span", { class: `badge badge-${String(status).replace(/[^a-z]/g, "")}`, text: status });
}
