import { safeParseEngageEvent } from "@engage-bridge/core";

/**
 * The contact id an erasure request names, as stored: Engage ids are text (numbers are stored as
 * their decimal text), and surrounding blanks are not part of an id.
 */
export const normalizeContactId = (contactId: string | number) => String(contactId).trim();

/**
 * The contact a stored body names, read the way ingest reads it (payload `contactId` in any case,
 * as text or number, else the envelope's own). Used for rows stored before every status kept its
 * contact id; undefined when the body names none it can read.
 */
export function contactNamedBy(body: Uint8Array): string | undefined {
  const parsed = safeParseEngageEvent(body, { messageId: "stored" });
  return parsed.success ? parsed.event.contactId : parsed.error.envelope.contactId;
}
