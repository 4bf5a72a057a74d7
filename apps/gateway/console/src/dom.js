// The page is built with createElement and textContent only: the CSP forbids inline code, and text
// from the gateway (payloads, errors) must never be read as HTML.

export const $ = (id) => document.getElementById(id);

/**
 * Creates an element. Attributes: `class`, `text`, `on<event>` (listener), booleans (set when
 * true), anything else as an attribute. Children: nodes or strings (always text, never HTML).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value") el.value = String(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces an element's children: nodes or strings, arrays flattened, null and false left out. */
export function fill(el, ...children) {
  el.replaceChildren(
    ...children.flat(Number.POSITIVE_INFINITY).filter((c) => c !== null && c !== undefined && c !== false),
  );
}

/** Replaces a region's content, keeping focus on the element with the same `data-key`, if any. */
export function replaceRegion(region, ...children) {
  const active = document.activeElement;
  const key = active && region.contains(active) ? active.getAttribute("data-key") : null;
  fill(region, ...children);
  if (key) region.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

let uid = 0;
export const nextId = (prefix) => `${prefix}-${++uid}`;
