import { connectorNames } from "../connector-names.js";
import { h, replaceRegion } from "../dom.js";
import { age } from "../format.js";
import { query } from "../query.js";
import { headers, scroller } from "../tables.js";

/** The overview's connector table: health, queue and delivery counts of every connector known. */
export function drawConnectors(region, overview, stats) {
  const names = [
    ...new Set([
      ...connectorNames(stats),
      ...Object.keys(overview.connectors ?? {}),
      ...Object.keys(overview.deliveries ?? {}),
    ]),
  ].sort();
  replaceRegion(
    region,
    h("h2", { id: "health-heading", text: "Connectors" }),
    names.length === 0
      ? h("p", { class: "muted", text: "No connector is configured." })
      : scroller(
          "table",
          { class: "data" },
          h(
            "thead",
            {},
            h("tr", {}, headers(["Connector", "Health", "#Pending", "#Oldest", "#Delivered", "#Dead"])),
          ),
          h(
            "tbody",
            {},
            names.map((name) => connectorRow(name, overview, stats)),
          ),
        ),
  );
}

function connectorRow(name, overview, stats) {
  const pending = overview.pendingByConnector?.[name];
  const counts = stats?.deliveries?.[name] ?? {};
  const dead = counts.dead ?? 0;
  return h(
    "tr",
    {},
    h(
      "th",
      { scope: "row" },
      h("a", {
        href: `#/events${query({ connector: name })}`,
        "data-key": `events:${name}`,
        title: `Find events delivered to ${name}`,
        text: name,
      }),
    ),
    h("td", {}, health(overview.connectors?.[name] ?? stats?.connectors?.[name])),
    h("td", { class: "num", text: String(pending?.depth ?? 0) }),
    h("td", { class: "num", text: age(pending?.oldestSeconds) }),
    h("td", { class: "num", text: String(counts.delivered ?? 0) }),
    h(
      "td",
      { class: "num" },
      dead > 0
        ? h("a", {
            href: `#/events${query({ connector: name, deliveryStatus: "dead" })}`,
            "data-key": `dead:${name}`,
            "aria-label": `${dead} dead deliveries to ${name}: find their events`,
            class: "dead-link",
            text: String(dead),
          })
        : "0",
    ),
  );
}

function health(hc) {
  if (!hc) return h("span", { class: "muted", text: "unknown" });
  if (hc.healthy) return h("span", { class: "health-ok", text: "healthy" });
  return h(
    "span",
    { class: "health-bad" },
    "unhealthy",
    hc.reason ? h("span", { class: "reason", text: `: ${hc.reason}` }) : null,
  );
}
