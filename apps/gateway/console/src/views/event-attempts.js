import { h } from "../dom.js";
import { duration } from "../format.js";
import { time } from "../local-time.js";
import { badge } from "../statuses.js";
import { headers, scroller } from "../tables.js";

/** A delivery's attempts, each with its outcome, its consent decision and what came after it. */
export function attemptsTable(delivery) {
  const attempts = delivery.attempts ?? [];
  if (attempts.length === 0) return h("p", { class: "muted", text: "No attempt yet." });
  return scroller(
    "table",
    { class: "data attempts" },
    h("caption", { class: "visually-hidden", text: `Attempts to ${delivery.connector}` }),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers([
          "##",
          "Started",
          "#Duration",
          "Outcome",
          "#Target HTTP status",
          "Error",
          "Consent",
          "Next attempt",
        ]),
      ),
    ),
    h(
      "tbody",
      {},
      attempts.map((a, i) =>
        h(
          "tr",
          { class: `attempt attempt-${a.outcome}` },
          h("td", { class: "num", text: String(a.attempt ?? i + 1) }),
          h("td", {}, time(a.at)),
          h("td", { class: "num", text: duration(a.durationMs) }),
          h("td", {}, badge(a.outcome)),
          h("td", {
            class: "num",
            text: a.targetStatus === null || a.targetStatus === undefined ? "—" : String(a.targetStatus),
          }),
          h("td", { class: "error-text", text: a.error ?? "" }),
          h("td", {}, consentText(a.consent)),
          h("td", {}, nextAttempt(a, attempts[i + 1], delivery)),
        ),
      ),
    ),
  );
}

/**
 * After a retry: the next attempt's start, or when it is due; a count that starts again is a
 * replay (the retries had run out), and without either the delivery gave up.
 */
function nextAttempt(a, following, delivery) {
  const none = (text) => h("span", { class: "muted", text });
  if (a.outcome === "retry") {
    if (following && following.attempt > a.attempt) return time(following.at);
    if (following) return none("gave up; replayed later");
    if (delivery.nextAttemptAt) return time(delivery.nextAttemptAt);
    if (delivery.status === "dead") return none("gave up");
  }
  return none("—");
}

function consentText(consent) {
  if (!consent) return h("span", { class: "muted", text: "—" });
  if (consent.supersededBy) {
    return h(
      "span",
      {},
      "skipped: superseded by ",
      h("a", {
        href: `#/events/${encodeURIComponent(consent.supersededBy)}`,
        class: "mono",
        text: consent.supersededBy,
      }),
      consent.reason ? ` (${consent.reason})` : "",
    );
  }
  const from =
    consent.from === "engage-api"
      ? "from the Engage API"
      : consent.from === "payload"
        ? "from the payload"
        : "";
  // The value is the contact's "accepts" flag for the event's channel.
  return h("span", {}, `applied: ${consent.value ? "accepts" : "does not accept"}`, from ? ` ${from}` : "");
}
