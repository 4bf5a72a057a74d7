import { fill, h } from "../dom.js";
import { plural } from "../format.js";
import { time } from "../local-time.js";
import { query } from "../query.js";
import { navigate } from "../router.js";
import { badge } from "../statuses.js";
import { scroller } from "../tables.js";
import { keepVisitedCursors, visitedCursors } from "./find-memory.js";

/** Shows one page of events with its pager; returns the heading, for announcing it. */
export function drawResults(results, page, search) {
  const items = page.items ?? [];
  const heading = resultsHeading(items, page, search.cursor);
  const buttons = pager(page, search);
  fill(
    results,
    h("h2", { id: "results-heading", tabindex: "-1", text: heading }),
    items.length === 0
      ? h("p", { class: "muted", text: "Try fewer filters or another time range." })
      : eventsTable(items),
    buttons.childElementCount > 0 ? buttons : null,
  );
  return heading;
}

function resultsHeading(items, page, cursor) {
  if (items.length === 0) return cursor ? "No more events" : "No events match";
  return `${plural(items.length, "event")}${page.nextCursor || cursor ? " on this page" : ""}`;
}

/** "Newer events" goes back through the cursors visited, "Older events" forward to the next one. */
function pager(page, { filters, limit, cursor, filterKey }) {
  const stack = visitedCursors(filterKey);
  const el = h("div", { class: "pager" });
  if (cursor) {
    el.append(
      h("button", {
        type: "button",
        class: "secondary",
        text: stack.length > 0 ? "Newer events" : "First page",
        onclick: () => {
          const previous = stack.pop() ?? "";
          keepVisitedCursors(filterKey, stack);
          navigate(`#/events${query({ ...filters, limit, cursor: previous })}`, "results");
        },
      }),
    );
  }
  if (page.nextCursor) {
    el.append(
      h("button", {
        type: "button",
        class: "secondary",
        text: "Older events",
        onclick: () => {
          keepVisitedCursors(filterKey, [...stack, cursor]);
          navigate(`#/events${query({ ...filters, limit, cursor: page.nextCursor })}`, "results");
        },
      }),
    );
  }
  return el;
}

function eventsTable(items) {
  return scroller(
    "table",
    { class: "data", id: "events-table" },
    h("caption", { class: "visually-hidden", text: "Events, newest first" }),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Received", "Event id", "Type", "Status", "Contact id", "Source"].map((t) =>
          h("th", { scope: "col", text: t }),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      items.map((e) =>
        h(
          "tr",
          {},
          h("td", {}, time(e.receivedAt)),
          h("td", {}, h("a", { href: `#/events/${encodeURIComponent(e.id)}`, class: "mono", text: e.id })),
          h("td", { text: e.type }),
          h(
            "td",
            {},
            badge(e.status),
            e.statusReason ? h("span", { class: "reason", text: ` ${e.statusReason}` }) : null,
          ),
          h("td", { class: "mono", text: e.contactId ?? "—" }),
          h("td", { text: e.source }),
        ),
      ),
    ),
  );
}
