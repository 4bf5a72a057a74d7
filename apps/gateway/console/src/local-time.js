import { h } from "./dom.js";

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** Local time as `YYYY-MM-DD HH:MM:SS`, with the exact ISO time in `datetime` and the tooltip. */
export function time(iso) {
  if (!iso) return h("span", { class: "muted", text: "—" });
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", { text: String(iso) });
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return h("time", { datetime: d.toISOString(), title: d.toISOString(), text });
}

/** ISO (from the URL) → the `YYYY-MM-DDTHH:MM` a datetime-local input shows, in local time. */
export function toLocalInput(iso) {
  const d = iso ? new Date(iso) : undefined;
  if (!d || Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local input's value (local time) → ISO, or "" when empty or invalid. */
export function fromLocalInput(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
