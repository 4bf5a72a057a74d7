import { api, Unauthorized } from "../api.js";
import { fill, h } from "../dom.js";
import { announce, errorBox } from "../notices.js";
import { query } from "../query.js";
import { FIND_KEYS, findForm } from "./find-form.js";
import { rememberFindRoute } from "./find-memory.js";
import { drawResults } from "./find-results.js";

const PAGE_SIZE = 50;

/** Find events (`#/events?…`): the filters of the route, and the page of events they match. */
export async function findView(view, params, ctx, focus) {
  document.title = "Find events · engage-bridge console";
  const stats = await api("stats");
  if (!ctx.alive()) return;
  const search = readSearch(params);
  const results = h(
    "section",
    { class: "results", "aria-labelledby": "results-heading" },
    h("p", { class: "muted", text: "Searching…" }),
  );
  fill(
    view,
    h("h1", { tabindex: "-1", text: "Find events" }),
    findForm(search.filters, search.limit, stats),
    results,
  );

  let page;
  try {
    page = await api(
      `events${query({ ...search.filters, cursor: search.cursor, limit: search.limit ?? PAGE_SIZE })}`,
    );
  } catch (error) {
    if (error instanceof Unauthorized || !ctx.alive()) throw error;
    fill(
      results,
      h("h2", { id: "results-heading", tabindex: "-1", text: "Results" }),
      errorBox(error.status === 400 ? `The search was refused: ${error.message}` : error.message),
    );
    return;
  }
  if (!ctx.alive()) return;
  rememberFindRoute(location.hash || "#/events");
  const heading = drawResults(results, page, search);
  if (focus === "results") announce(heading);
}

/** The search a route asks for; `filterKey` names its filters (and page size) without the cursor. */
function readSearch(params) {
  const filters = Object.fromEntries(FIND_KEYS.map((k) => [k, params.get(k) ?? ""]));
  const cursor = params.get("cursor") ?? "";
  // Page size: PAGE_SIZE unless the address asks for another (1 to 500).
  const asked = Number.parseInt(params.get("limit") ?? "", 10);
  const limit = Number.isInteger(asked) && asked >= 1 && asked <= 500 ? asked : undefined;
  return { filters, cursor, limit, filterKey: query({ ...filters, limit }) };
}
