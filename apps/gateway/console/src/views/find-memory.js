// What Find remembers between its visits, while signed in.

/** The last Find route, for the detail page's way back. */
let lastFind = "#/events";
/** Older-page cursors visited per filter, for "Newer events" (cursor paging only goes forward). */
const pageStacks = new Map();

export const lastFindRoute = () => lastFind;

export function rememberFindRoute(hash) {
  lastFind = hash;
}

export const visitedCursors = (filterKey) => pageStacks.get(filterKey) ?? [];

export function keepVisitedCursors(filterKey, stack) {
  pageStacks.set(filterKey, stack);
}

export function forgetPages() {
  pageStacks.clear();
}
