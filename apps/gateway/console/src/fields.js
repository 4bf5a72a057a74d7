import { h, nextId } from "./dom.js";

/** A labelled form control inside a `.field` wrapper. */
export function field(label, control, hint) {
  control.id ||= nextId("f");
  const hintEl = hint ? h("span", { class: "hint", id: `${control.id}-hint`, text: hint }) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id, text: label }), control, hintEl);
}

/** A `<select>` of `options` (values, or `[value, label]` pairs) with `value` chosen. */
export function select(name, options, value) {
  const el = h("select", { name });
  for (const option of options) {
    const [v, label] = Array.isArray(option) ? option : [option, option];
    el.append(h("option", { value: v, text: label }));
  }
  el.value = value ?? "";
  if (el.value !== (value ?? "")) {
    // A value from the URL that the list does not know: keep it selectable.
    el.append(h("option", { value, text: value }));
    el.value = value;
  }
  return el;
}
