import { Unauthorized } from "./api.js";
import { $, fill, h } from "./dom.js";
import { errorBox } from "./notices.js";
import { parseRoute, takeFocusRequest } from "./router.js";
import { showConsole, showSignIn } from "./screens.js";
import { signedIn } from "./session.js";
import { enterView } from "./view-lifetime.js";
import { eventView } from "./views/event.js";
import { findView } from "./views/find.js";
import { notFoundView } from "./views/not-found.js";
import { overviewView } from "./views/overview.js";
import { replayView } from "./views/replay.js";

/** Draws the view of the current route, then moves focus into it (see takeFocusRequest). */
export async function render() {
  if (!signedIn()) return showSignIn();
  const ctx = enterView();
  const route = parseRoute();
  const view = $("view");
  showConsole();
  markCurrentSection(route);
  const focus = takeFocusRequest();
  try {
    await drawView(view, route, ctx, focus);
  } catch (error) {
    if (error instanceof Unauthorized || !ctx.alive()) return;
    fill(view, h("h1", { tabindex: "-1", text: "Something went wrong" }), errorBox(error.message));
  }
  if (!ctx.alive()) return;
  focusTarget(view, focus)?.focus();
}

function drawView(view, route, ctx, focus) {
  if (route.first === "events" && route.second !== undefined) return eventView(view, route.second, ctx);
  if (route.first === "events") return findView(view, route.params, ctx, focus);
  if (route.first === "replay") return replayView(view, route.params, ctx);
  if (route.first === "overview" || !route.first) return overviewView(view, route.params, ctx);
  return notFoundView(view);
}

/** `aria-current` on the navigation link of the route's section (none on an event's page). */
function markCurrentSection(route) {
  const section = route.first === "events" ? "events" : route.first === "replay" ? "replay" : "overview";
  for (const link of document.querySelectorAll("#nav a[data-route]")) {
    if (link.dataset.route === section && !(section === "events" && route.second)) {
      link.setAttribute("aria-current", "page");
    } else link.removeAttribute("aria-current");
  }
}

/** The search's results after a search, the control that was used (`key:…`), else the heading. */
function focusTarget(view, focus) {
  return (
    (focus === "results" && view.querySelector("#results-heading")) ||
    (focus.startsWith("key:") && view.querySelector(`[data-key="${CSS.escape(focus.slice(4))}"]`)) ||
    view.querySelector("h1")
  );
}
