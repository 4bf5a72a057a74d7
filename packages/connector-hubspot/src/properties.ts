/**
 * Whether a contact property can mirror a preference, and whether a refused contact patch is about
 * one of the mirrored properties.
 *
 * The connector writes the strings "true" and "false" (`SimplePublicObjectInput.properties` values
 * are strings in HubSpot's CRM contacts spec). Read from the `Property` schema of
 * `PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json` in
 * `HubSpot/HubSpot-public-api-spec-collection`, a property accepts both when:
 * - its `type` is `bool` (HubSpot's checkbox; its two options have the values "true" and "false");
 * - its `type` is `enumeration` and its `options` include the values "true" and "false" (an option's
 *   `value` is "the internal value … used when setting the property value through the API");
 * - its `type` is `string`: free text stores "true"/"false" as they are.
 * `number`, `date`, `datetime` and `phone_number` refuse them, and no value can be written to a
 * property whose `modificationMetadata.readOnlyValue` is true, that is `calculated`, or `archived`
 * (the contacts spec: "Read-only and non-existent properties will result in an error").
 */

const TRUE_FALSE = ["true", "false"] as const;

export const FITTING_PROPERTY =
  'a property of type bool (field type booleancheckbox), an enumeration with the options "true" and "false", or a text property';

/** Why a property definition (the answer of `GET /crm/v3/properties/contacts/{name}`) cannot hold "true"/"false", or undefined when it can. */
export function unfitProperty(definition: unknown): string | undefined {
  const p = (definition ?? {}) as {
    type?: unknown;
    fieldType?: unknown;
    options?: unknown;
    archived?: unknown;
    calculated?: unknown;
    modificationMetadata?: { readOnlyValue?: unknown };
  };
  if (p.archived === true) return "it is archived";
  if (p.modificationMetadata?.readOnlyValue === true) return "its value is read-only";
  if (p.calculated === true) return "it is calculated";
  const values = Array.isArray(p.options)
    ? p.options.map((o) => (o as { value?: unknown } | undefined)?.value).filter((v) => typeof v === "string")
    : [];
  const kind = `of type ${String(p.type)}${typeof p.fieldType === "string" ? ` (field type ${p.fieldType})` : ""}`;
  switch (p.type) {
    case "string":
      return undefined;
    case "bool":
      // A bool lists its two options; when it lists none, HubSpot's own true/false apply.
      return values.length === 0 || TRUE_FALSE.every((v) => values.includes(v))
        ? undefined
        : `it is ${kind} with the options ${values.join(", ")}`;
    case "enumeration":
      return TRUE_FALSE.every((v) => values.includes(v))
        ? undefined
        : `it is ${kind} without the options "true" and "false" (its options: ${values.join(", ") || "none"})`;
    default:
      return `it is ${kind}`;
  }
}

/**
 * HubSpot's codes for a refused property value [reports]: `PROPERTY_DOESNT_EXIST`, `INVALID_OPTION`,
 * `READ_ONLY_VALUE` …, in the JSON list of its message or in `errors[].code`.
 */
const PROPERTY_CODES = /\b(PROPERTY_DOESNT_EXIST|INVALID_OPTION|READ_ONLY_VALUE|INVALID_[A-Z_]+)\b/;

/**
 * The mirrored properties a 400 on a contact patch blames, or undefined when it is not about
 * property values. HubSpot answers `VALIDATION_ERROR` "Property values were not valid: [{…, "name":
 * "<property>", "error": "PROPERTY_DOESNT_EXIST"}]" [reports]. The patch carries only the mirrored
 * properties, so an answer about property values that names none of them blames them all.
 */
export function blamedProperties(body: unknown, names: readonly string[]): string[] | undefined {
  const text = JSON.stringify(body ?? "");
  const named = names.filter((name) =>
    new RegExp(`(^|[^A-Za-z0-9_])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^A-Za-z0-9_]|$)`).test(text),
  );
  if (named.length > 0) return named;
  return /Property values were not valid/i.test(text) || PROPERTY_CODES.test(text) ? [...names] : undefined;
}
