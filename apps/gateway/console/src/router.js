// Routes are the fragment (`#/overview`, `#/events?…`, `#/events/<id>`, `#/replay?…`): the page is
// one document, and the gateway serves nothing under /admin/ but these files.
import { signedIn } from "./session.js";

/** Draws the current route; set by startRouter, so that the router needs no views. */
let renderRoute = async () => {};
/** Where focus goes after the next render: "heading" (a navigation) or "results" (a search). */
let focusAfterRender = "heading";

/** Renders on every change of the fragment while signed in. */
export function startRouter(render) {
  renderRoute = render;
  window.addEventListener("hashchange", () => {
    if (signedIn()) renderRoute();
  });
}

export function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const at = raw.indexOf("?");
  const path = at === -1 ? raw : raw.slice(0, at);
  const params = new URLSearchParams(at === -1 ? "" : raw.slice(at + 1));
  let parts;
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    parts = [];
  }
  const [first, second] = parts;
  const known =
    (first === "overview" && parts.length === 1) ||
    (first === "events" && parts.length <= 2) ||
    (first === "replay" && parts.length === 1);
  return { first, second, parts, params, known };
}

/** Goes to `hash`; renders again when it is the current one (a repeated search). */
export function navigate(hash, focus = "heading") {
  focusAfterRender = focus;
  if (location.hash === hash) renderRoute();
  else location.hash = hash;
}

/** Renders the current route now, then focuses its heading. */
export function renderCurrent() {
  focusAfterRender = "heading";
  return renderRoute();
}

/** Where the render under way moves focus; the next one moves it to the heading unless asked. */
export function takeFocusRequest() {
  const focus = focusAfterRender;
  focusAfterRender = "heading";
  return focus;
}
