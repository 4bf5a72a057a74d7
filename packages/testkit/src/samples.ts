import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The sample Engage bodies (shaped as Voyado documents them) shipped in this package. */
export const SAMPLES_DIR = fileURLToPath(new URL("../samples/", import.meta.url));
/** The documentation example key the encrypted sample was made with. */
export const SAMPLE_PAYLOAD_KEY = "DaqfT7Ys6tGqM3zbesEKpmacTJEqBCp2";
export const SAMPLE_CONTACT_ID = "1c9b35d6-28d8-4520-8900-a89555f7f0c5";

export interface Sample {
  file: string;
  eventType: string;
  body: string;
}

export function loadSamples(): Sample[] {
  return readdirSync(SAMPLES_DIR)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => {
      const body = readFileSync(`${SAMPLES_DIR}${file}`, "utf8");
      return { file, eventType: (JSON.parse(body) as { eventType: string }).eventType, body };
    });
}

export const SAMPLE_EVENT_TYPES: readonly string[] = [
  "contact.acceptsEmail.changed",
  "contact.acceptsSms.changed",
  "contact.acceptsPostal.changed",
  "loyalty.addPoints",
  "point.balance.updated",
  "reward.voucher.created",
];

/**
 * A body like the sample of `eventType` with a fresh event id (and any payload fields overridden),
 * so that many distinct events can be sent from one sample.
 */
export function sampleEvent(
  eventType: string,
  overrides: { id?: string; contactId?: string; payload?: Record<string, unknown>; tenant?: string } = {},
): string {
  const sample = loadSamples().find((s) => s.eventType === eventType && !s.file.startsWith("encrypted."));
  if (!sample) throw new Error(`no sample for event type ${eventType}`);
  const envelope = JSON.parse(sample.body) as Record<string, unknown>;
  const id = overrides.id ?? randomUUID();
  if ("eventId" in envelope) envelope.eventId = id;
  else envelope.id = id;
  if (overrides.tenant) envelope.tenant = overrides.tenant;
  const payload = { ...(envelope.payload as Record<string, unknown>) };
  if (overrides.contactId) {
    const key = "ContactId" in payload ? "ContactId" : "contactId";
    payload[key] = overrides.contactId;
  }
  envelope.payload = { ...payload, ...overrides.payload };
  return JSON.stringify(envelope);
}
