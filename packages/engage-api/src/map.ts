import { type EngageContact, lowerKeys } from "@engage-bridge/core";

/**
 * Maps `GET /api/v3/contacts/{id}` to an {@link EngageContact}, defensively: the shape of
 * preferences on this endpoint is not published, Engage mixes PascalCase and camelCase keys and
 * sometimes sends booleans as strings. Anything unrecognised becomes `undefined`, never a guess.
 */

/** `true`/`false`, or the strings "true"/"false" (any case, trimmed); anything else is unknown. */
export function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const text = value.trim().toLowerCase();
    if (text === "true") return true;
    if (text === "false") return false;
  }
  return undefined;
}

function toText(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  return text === "" ? undefined : text;
}

function toEmail(value: unknown): string | undefined {
  return typeof value === "string" ? toText(value) : undefined;
}

/** Maps the body of a 200 answer; `requestedId` is used only when the body has no id. */
export function mapContact(requestedId: string, body: unknown): EngageContact {
  const top = lowerKeys(body) ?? {};
  const attributes = lowerKeys(top.attributes) ?? {};
  const preferences = lowerKeys(top.preferences) ?? {};
  const preference = (key: string) =>
    toBoolean(preferences[key]) ?? toBoolean(attributes[key]) ?? toBoolean(top[key]);
  return {
    id: toText(top.id) ?? requestedId,
    email: toEmail(attributes.email) ?? toEmail(top.email),
    mobilePhone: toText(attributes.mobilephone) ?? toText(top.mobilephone),
    preferences: {
      acceptsEmail: preference("acceptsemail"),
      acceptsSms: preference("acceptssms"),
      acceptsPostal: preference("acceptspostal"),
    },
    raw: body,
  };
}
