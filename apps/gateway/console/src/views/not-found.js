import { fill, h } from "../dom.js";

export function notFoundView(view) {
  fill(
    view,
    h("h1", { tabindex: "-1", text: "Not found" }),
    h("p", {}, "No such page. ", h("a", { href: "#/overview", text: "Go to the overview" }), "."),
  );
}
