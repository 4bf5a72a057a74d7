import { $, h } from "./dom.js";

/** Says `message` through the page's live region. */
export function announce(message) {
  const live = $("live");
  live.textContent = "";
  // A fresh text node is announced even when the message repeats.
  setTimeout(() => {
    live.textContent = message;
  }, 50);
}

export function errorBox(message) {
  return h("p", { class: "error", role: "alert", text: message });
}
