import { chartBox, drawChart } from "../charts.js";
import { h, replaceRegion } from "../dom.js";
import { plural } from "../format.js";

const OUTCOMES = [
  { key: "delivered", label: "delivered", stroke: "#1a7f37" },
  { key: "skipped", label: "skipped", stroke: "#6e7781" },
  { key: "retry", label: "retried", stroke: "#9a6700" },
  { key: "dead", label: "dead", stroke: "#cf222e" },
];

/** Events received per bucket; `track` is given what removes the chart. */
export function drawEventsChart(region, overview, windowName, track) {
  const unit = bucketLabel(overview.bucketSeconds ?? 60);
  const xs = (overview.events ?? []).map((b) => Date.parse(b.t) / 1000);
  const ns = (overview.events ?? []).map((b) => b.n ?? 0);
  const total = ns.reduce((a, b) => a + b, 0);
  const box = chartBox(
    `Events received per ${unit}`,
    `${plural(total, "event")} in the last ${windowName}, at most ${Math.max(0, ...ns)} in one ${unit}.`,
  );
  replaceRegion(region, h("h2", { id: "events-chart-heading", text: `Events per ${unit}` }), box.figure);
  track(drawChart(box.plot, [{ label: "events", stroke: "#0969da" }], xs, [ns]));
}

/** One chart per connector of its attempts by outcome; `track` is given what removes each chart. */
export function drawDeliveryCharts(region, overview, windowName, track) {
  const unit = bucketLabel(overview.bucketSeconds ?? 60);
  const perConnector = overview.deliveries ?? {};
  const plotted = Object.keys(perConnector).sort();
  const grid = h("div", { class: "chart-grid" });
  replaceRegion(
    region,
    h("h2", { id: "deliveries-chart-heading", text: `Delivery attempts by outcome per ${unit}` }),
    plotted.length === 0 ? h("p", { class: "muted", text: "No connector to show." }) : grid,
  );
  for (const name of plotted) {
    const buckets = perConnector[name] ?? [];
    const sums = OUTCOMES.map((o) => buckets.reduce((a, b) => a + (b[o.key] ?? 0), 0));
    const box = chartBox(
      name,
      `${name}: ${OUTCOMES.map((o, i) => `${sums[i]} ${o.label}`).join(", ")} in the last ${windowName}.`,
    );
    // In the page before it is drawn: uPlot takes the plot's width.
    grid.append(box.figure);
    track(
      drawChart(
        box.plot,
        OUTCOMES,
        buckets.map((b) => Date.parse(b.t) / 1000),
        OUTCOMES.map((o) => buckets.map((b) => b[o.key] ?? 0)),
      ),
    );
  }
}

function bucketLabel(seconds) {
  if (seconds === 60) return "minute";
  if (seconds < 60) return plural(seconds, "second");
  if (seconds % 3600 === 0) return seconds === 3600 ? "hour" : `${seconds / 3600} hours`;
  return `${Math.round(seconds / 60)} minutes`;
}
