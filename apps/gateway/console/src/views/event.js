import { ApiError, api, Unauthorized } from "../api.js";
import { fill, h } from "../dom.js";
import { errorBox } from "../notices.js";
import { onLeave } from "../view-lifetime.js";
import { drawDeliveries } from "./event-deliveries.js";
import { envelope } from "./event-envelope.js";
import { payloadToggle } from "./event-payload.js";
import { lastFindRoute } from "./find-memory.js";

const inFlight = (d) => d.status === "pending" || d.status === "retrying";

/** An event's page (`#/events/<id or svix-id>`): its envelope, payload and deliveries, with replay. */
export async function eventView(view, id, ctx) {
  document.title = `Event ${id} · engage-bridge console`;
  let detail;
  try {
    detail = await api(`events/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      fill(
        view,
        h("p", {}, h("a", { href: lastFindRoute(), text: "Back to Find events" })),
        h("h1", { tabindex: "-1", text: "Event not found" }),
        h("p", {}, "No event with the id or svix-id ", h("code", { text: id }), " is stored."),
      );
      return;
    }
    throw error;
  }
  if (!ctx.alive()) return;
  const e = detail.event;
  const payload = payloadToggle(e.id, ctx);
  const deliveriesRegion = h("section", { "aria-labelledby": "deliveries-heading" });
  const replayStatus = h("p", { class: "notice", role: "status" });
  fill(
    view,
    h("p", { class: "back" }, h("a", { href: lastFindRoute(), text: "Back to Find events" })),
    h("h1", { tabindex: "-1" }, "Event ", h("span", { class: "mono", text: e.id })),
    envelope(e),
    h("div", { class: "actions" }, payload.button),
    payload.region,
    replayStatus,
    deliveriesRegion,
  );

  let timer;
  const stop = () => clearTimeout(timer);
  onLeave(stop);
  const show = (deliveries) => drawDeliveries(deliveriesRegion, deliveries, replayOne);
  /** While a delivery is pending or retrying, the page follows it. */
  const follow = (deliveries) => {
    stop();
    if (deliveries.some(inFlight)) timer = setTimeout(reload, 1_000);
  };
  const reload = async () => {
    try {
      const fresh = await api(`events/${encodeURIComponent(e.id)}`);
      if (!ctx.alive()) return;
      show(fresh.deliveries ?? []);
      follow(fresh.deliveries ?? []);
    } catch (error) {
      if (error instanceof Unauthorized || !ctx.alive()) return;
      fill(replayStatus, errorBox(error.message));
      timer = setTimeout(reload, 5_000);
    }
  };
  const replayOne = async (connector, replayable) => {
    if (!replayable) {
      replayStatus.textContent = `The delivery to ${connector} is still in progress: nothing to replay.`;
      return;
    }
    try {
      const r = await api("replay", { method: "POST", body: { event: e.id, connector } });
      if (!ctx.alive()) return;
      replayStatus.textContent =
        r.requeued > 0
          ? `Re-queued the delivery to ${connector}.`
          : `Nothing re-queued for ${connector} (it is not finished).`;
      await reload();
    } catch (error) {
      if (error instanceof Unauthorized || !ctx.alive()) return;
      fill(replayStatus, errorBox(`Replay failed: ${error.message}`));
    }
  };
  show(detail.deliveries ?? []);
  follow(detail.deliveries ?? []);
}
