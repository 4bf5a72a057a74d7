import { h } from "./dom.js";

/** A table in a box that scrolls sideways when the table is wider than the page. */
export function scroller(...args) {
  return h("div", { class: "table-scroll" }, h(...args));
}

/** Column headers; a leading `#` marks a numeric (right-aligned) column. */
export function headers(names) {
  return names.map((name) =>
    name.startsWith("#")
      ? h("th", { scope: "col", class: "num", text: name.slice(1) })
      : h("th", { scope: "col", text: name }),
  );
}
