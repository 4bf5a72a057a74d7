import { api, Unauthorized } from "../api.js";
import { fill, h, replaceRegion } from "../dom.js";
import { field, select } from "../fields.js";
import { time } from "../local-time.js";
import { announce, errorBox } from "../notices.js";
import { navigate } from "../router.js";
import { onLeave } from "../view-lifetime.js";
import { drawDeliveryCharts, drawEventsChart } from "./overview-charts.js";
import { drawConnectors } from "./overview-connectors.js";
import { drawQueue } from "./overview-queue.js";

/** The overview (`#/overview?window=hour|day`): queue, connectors and charts, refreshed every 15 s. */
export async function overviewView(view, params, ctx) {
  const windowName = params.get("window") === "day" ? "day" : "hour";
  document.title = "Overview · engage-bridge console";
  const windowSelect = select(
    "window",
    [
      ["hour", "Last hour"],
      ["day", "Last day"],
    ],
    windowName,
  );
  windowSelect.setAttribute("data-key", "window");
  windowSelect.addEventListener("change", () =>
    navigate(`#/overview?window=${windowSelect.value}`, "key:window"),
  );
  const updated = h("span", { class: "muted", "aria-live": "off" });
  const refresh = h("button", { type: "button", class: "secondary", "data-key": "refresh", text: "Refresh" });
  const queue = h("section", { class: "cards", "aria-labelledby": "queue-heading" });
  const health = h("section", { "aria-labelledby": "health-heading" });
  const events = h("section", { "aria-labelledby": "events-chart-heading" });
  const deliveries = h("section", { "aria-labelledby": "deliveries-chart-heading" });
  fill(
    view,
    h("h1", { tabindex: "-1", text: "Overview" }),
    h("div", { class: "toolbar" }, field("Window", windowSelect), refresh, updated),
    queue,
    h("div", { class: "overview-grid" }, events, health),
    deliveries,
  );

  /** What removes the charts drawn last: each refresh draws them anew. */
  const charts = [];
  const track = (remove) => charts.push(remove);
  const removeCharts = () => {
    for (const remove of charts.splice(0)) remove();
  };
  const load = async () => {
    const [overview, stats] = await Promise.all([
      api(`overview?window=${windowName}`),
      api("stats").catch((e) => {
        if (e instanceof Unauthorized) throw e;
        return undefined;
      }),
    ]);
    if (!ctx.alive()) return;
    removeCharts();
    drawQueue(queue, overview, stats, windowName);
    drawConnectors(health, overview, stats);
    drawEventsChart(events, overview, windowName, track);
    drawDeliveryCharts(deliveries, overview, windowName, track);
    fill(updated, "Updated ", time(new Date().toISOString()));
  };

  let timer;
  onLeave(() => clearInterval(timer));
  onLeave(removeCharts);
  const reload = async () => {
    try {
      await load();
    } catch (error) {
      if (error instanceof Unauthorized || !ctx.alive()) return;
      replaceRegion(queue, errorBox(error.message));
    }
  };
  refresh.addEventListener("click", async () => {
    await reload();
    announce("Overview refreshed.");
  });
  await load();
  // Left meanwhile: no timer for a page that is gone.
  if (ctx.alive()) timer = setInterval(reload, 15_000);
}
