import uPlot from "uplot";
import { h } from "./dom.js";

const HEIGHT = 180;

/** A captioned figure with an empty plot area; the plot's label says in words what the chart shows. */
export function chartBox(caption, summary) {
  const plot = h("div", { class: "chart", role: "img", "aria-label": summary });
  return { plot, figure: h("figure", { class: "chart-figure" }, h("figcaption", { text: caption }), plot) };
}

/**
 * Draws stacked bars with uPlot into `plot` (already in the page, so that it has a width): `series`
 * bottom to top, `values[i]` the counts of series i per bucket of `xs` (unix seconds). uPlot does
 * not stack: each series is drawn as the running total up to it, the tallest first, so that the
 * ones below paint over its lower part; the legend shows each series' own count. Returns what
 * removes the chart again.
 */
export function drawChart(plot, series, xs, values) {
  const totals = runningTotals(xs, values);
  const order = series.map((_, i) => i).reverse();
  const width = () => Math.max(280, Math.floor(plot.getBoundingClientRect().width || 600));
  const u = new uPlot(
    stackedBarOptions(series, order, values, width()),
    [xs, ...order.map((i) => totals[i])],
    plot,
  );
  const onResize = () => u.setSize({ width: width(), height: HEIGHT });
  window.addEventListener("resize", onResize);
  return () => {
    window.removeEventListener("resize", onResize);
    u.destroy();
  };
}

/** Per series, the sum of it and the series below it, bucket by bucket. */
function runningTotals(xs, values) {
  const totals = [];
  let running = xs.map(() => 0);
  for (const v of values) {
    running = running.map((sum, i) => sum + (v[i] ?? 0));
    totals.push(running);
  }
  return totals;
}

function stackedBarOptions(series, order, values, width) {
  return {
    width,
    height: HEIGHT,
    series: [
      {},
      ...order.map((i) => ({
        label: series[i].label,
        stroke: series[i].stroke,
        fill: series[i].stroke,
        width: 0,
        points: { show: false },
        paths: uPlot.paths.bars({ size: [0.8, 40] }),
        value: (_u, _v, _si, idx) => (idx === null || idx === undefined ? "–" : String(values[i][idx] ?? 0)),
      })),
    ],
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
    axes: [
      { stroke: "#3d444d", grid: { stroke: "#d8dee4" }, ticks: { stroke: "#d8dee4" } },
      {
        stroke: "#3d444d",
        grid: { stroke: "#d8dee4" },
        ticks: { stroke: "#d8dee4" },
        size: 44,
        // Counts: whole-number steps only.
        incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000],
      },
    ],
    cursor: { points: { show: false } },
    legend: { live: true },
  };
}
