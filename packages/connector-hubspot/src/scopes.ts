import type { HubSpotConfig } from "./config.ts";

/**
 * The private app scopes the connector's requests need, as the `security` of each operation names
 * them in HubSpot's specs (repository `HubSpot/HubSpot-public-api-spec-collection`):
 * - `PublicApiSpecs/Communication Preferences/Subscriptions/Rollouts/176901/2026-03/subscriptions.json`:
 *   `GET …/definitions` needs `communication_preferences.read` or `communication_preferences.read_write`;
 *   `POST …/statuses/{subscriberIdString}` needs `communication_preferences.write` or
 *   `communication_preferences.read_write`; `POST …/statuses/batch/write` needs
 *   `communication_preferences.statuses.batch.write`.
 * - `PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json`: `PATCH /crm/v3/objects/contacts/{contactId}`
 *   needs `crm.objects.contacts.write`.
 * - `PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json`: `GET
 *   /crm/v3/properties/{objectType}/{propertyName}` accepts, for contacts, `crm.schemas.contacts.read`
 *   (also `crm.objects.contacts.read`/`.write`; the schema scope is the one meant for it).
 */
export const SCOPES = {
  read: "communication_preferences.read",
  write: "communication_preferences.write",
  readWrite: "communication_preferences.read_write",
  batchWrite: "communication_preferences.statuses.batch.write",
  contactsWrite: "crm.objects.contacts.write",
  contactSchemasRead: "crm.schemas.contacts.read",
} as const;

/** The scope one kind of request needs, for the reason of a 403. */
export const REQUEST_SCOPE = {
  statusWrite: `${SCOPES.write} (or ${SCOPES.readWrite})`,
  batchWrite: SCOPES.batchWrite,
  contactPatch: SCOPES.contactsWrite,
} as const;

/**
 * Every scope `config` needs, for the operator who sets up the private app. Batch mode sends no
 * single writes, so it needs no `communication_preferences.write`: least privilege.
 */
export function requiredScopes(config: HubSpotConfig): string {
  const scopes = config.batch
    ? [`${SCOPES.read} (or ${SCOPES.readWrite})`, SCOPES.batchWrite]
    : [`${SCOPES.read} and ${SCOPES.write} (or ${SCOPES.readWrite} for both)`];
  if (config.smsProperty || config.postalProperty)
    scopes.push(SCOPES.contactsWrite, `${SCOPES.contactSchemasRead} (to check the properties at start-up)`);
  return scopes.join(", ");
}

/**
 * The scopes a 403 says are missing: HubSpot lists them in an error `context` (`missingScopes` in
 * the spec's example of `ErrorDetail.context`; other answers use other keys with "scopes" in them).
 */
export function scopesNamed(body: unknown): string[] {
  const found = new Set<string>();
  const visit = (entry: unknown, depth: number) => {
    if (!entry || typeof entry !== "object" || depth > 3) return;
    const { context, errors } = entry as { context?: unknown; errors?: unknown };
    if (context && typeof context === "object") {
      for (const [key, value] of Object.entries(context)) {
        if (!/scopes/i.test(key) || !Array.isArray(value)) continue;
        for (const scope of value) if (typeof scope === "string" && /^[\w.-]+$/.test(scope)) found.add(scope);
      }
    }
    if (Array.isArray(errors)) for (const e of errors) visit(e, depth + 1);
  };
  visit(body, 0);
  return [...found];
}
