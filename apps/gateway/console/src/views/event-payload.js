import { api, Unauthorized } from "../api.js";
import { fill, h } from "../dom.js";
import { errorBox } from "../notices.js";

/** The "Show payload" button and the region it opens; the payload is fetched each time it opens. */
export function payloadToggle(eventId, ctx) {
  const region = h("div", { id: "payload", class: "payload", hidden: true });
  const button = h("button", {
    type: "button",
    class: "secondary",
    "aria-expanded": "false",
    "aria-controls": "payload",
    text: "Show payload",
  });
  const hide = () => {
    button.setAttribute("aria-expanded", "false");
    button.textContent = "Show payload";
    region.hidden = true;
    fill(region);
  };
  const show = async () => {
    button.disabled = true;
    try {
      const p = await api(`events/${encodeURIComponent(eventId)}/payload`);
      if (!ctx.alive()) return;
      fill(region, ...payloadContent(p));
      region.hidden = false;
      button.setAttribute("aria-expanded", "true");
      button.textContent = "Hide payload";
    } catch (error) {
      if (error instanceof Unauthorized) return;
      fill(region, errorBox(error.message));
      region.hidden = false;
    } finally {
      button.disabled = false;
      if (ctx.alive()) button.focus();
    }
  };
  button.addEventListener("click", () => (button.getAttribute("aria-expanded") === "true" ? hide() : show()));
  return { button, region };
}

function payloadContent(p) {
  return [
    h(
      "p",
      { class: "muted" },
      p.decrypted
        ? "The stored body, its payload decrypted with the source's key."
        : `The stored body as received${p.note ? ` (${p.note})` : ""}.`,
    ),
    h(
      "pre",
      { tabindex: "0", "aria-label": "Payload" },
      h("code", { text: JSON.stringify(p.body, null, 2) }),
    ),
  ];
}
