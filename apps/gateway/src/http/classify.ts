import { safeParseEngageEvent } from "@engage-bridge/core";
import type { NewEvent } from "../store/store.ts";

export type Classified = Omit<NewEvent, "source" | "svixId" | "receivedAt" | "body">;

/**
 * Reads what can be stored of a verified body, whatever its state: an accepted event with the
 * connectors it goes to, or an ignored / undecryptable one kept whole. It never throws: a signed
 * body is Engage's word, and losing it to a parsing bug (a 5xx Svix retries for a day, then drops)
 * is worse than storing it as unreadable.
 *
 * `contactId` is the contact the message names even when it could not be parsed, so that
 * erasure (`forget-contact`) finds every message about a contact, and only those.
 */
export function classify(
  body: Uint8Array,
  svixId: string,
  payloadKey: string | undefined,
  /** The instances an accepted event goes to (routing by type and tenant; the caller knows the source). */
  connectorsFor: (eventType: string, tenant: string | undefined) => readonly string[],
): Classified {
  try {
    const parsed = safeParseEngageEvent(body, { messageId: svixId, payloadKey });
    if (parsed.success) {
      const event = parsed.event;
      const base = {
        eventId: event.id,
        type: event.eventType,
        contactId: event.contactId,
        tenant: event.tenant,
      };
      if (event.type === "unknown")
        return { ...base, status: "ignored", statusReason: "unknown_event_type", connectors: [] };
      return { ...base, status: "accepted", connectors: connectorsFor(event.type, event.tenant) };
    }
    const { reason, envelope } = parsed.error;
    const undecryptable = reason === "undecryptable" || reason === "encrypted_without_key";
    return {
      eventId: envelope.id ?? svixId,
      type: envelope.eventType ?? "",
      status: undecryptable ? "undecryptable" : "ignored",
      statusReason: reason,
      contactId: envelope.contactId,
      tenant: envelope.tenant,
      connectors: [],
    };
  } catch {
    return { eventId: svixId, type: "", status: "ignored", statusReason: "unreadable", connectors: [] };
  }
}
