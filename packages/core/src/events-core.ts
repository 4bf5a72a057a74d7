import { z } from "zod";
import { PayloadDecryptionError } from "./errors.ts";
import {
  CHANGE_TIME_KEYS,
  firstKey,
  lowerKeys,
  nonEmptyText,
  optionalOf,
  parseJsonText,
  tolerantBoolean,
  tolerantDate,
  tolerantId,
  tolerantNumber,
  tolerantString,
} from "./tolerant.ts";

export const PREFERENCE_EVENT_TYPES = [
  "contact.acceptsEmail.changed",
  "contact.acceptsSms.changed",
  "contact.acceptsPostal.changed",
] as const;
export const LOYALTY_EVENT_TYPES = [
  "loyalty.addPoints",
  "point.balance.updated",
  "reward.voucher.created",
] as const;
export const KNOWN_EVENT_TYPES = [...PREFERENCE_EVENT_TYPES, ...LOYALTY_EVENT_TYPES] as const;

export type PreferenceEventType = (typeof PREFERENCE_EVENT_TYPES)[number];
export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];
export type PreferenceChannel = "email" | "sms" | "postal";

export const PREFERENCE_CHANNELS: Record<PreferenceEventType, PreferenceChannel> = {
  "contact.acceptsEmail.changed": "email",
  "contact.acceptsSms.changed": "sms",
  "contact.acceptsPostal.changed": "postal",
};

const preferenceData = (channel: PreferenceChannel) =>
  z.preprocess(
    (payload) => {
      const record = payload as Record<string, unknown>;
      // The value's key is not published: `value` is our reading, `accepts<channel>` the other one.
      return {
        contactId: record.contactid,
        value: firstKey(record, ["value", `accepts${channel}`]),
        changedAt: firstKey(record, CHANGE_TIME_KEYS),
      };
    },
    z.object({
      contactId: tolerantId,
      value: optionalOf(tolerantBoolean),
      changedAt: optionalOf(tolerantDate),
    }),
  );

const addPointsData = z
  .looseObject({
    amount: tolerantNumber,
    contactid: tolerantId,
    pointdefinitionid: optionalOf(tolerantNumber),
    source: optionalOf(tolerantString),
    description: optionalOf(tolerantString),
    userid: optionalOf(tolerantString),
    username: optionalOf(tolerantString),
    reason: optionalOf(tolerantString),
    sourceid: optionalOf(tolerantString),
  })
  .transform((p) => ({
    contactId: p.contactid,
    amount: p.amount,
    pointDefinitionId: p.pointdefinitionid,
    source: p.source,
    description: p.description,
    userId: p.userid,
    userName: p.username,
    reason: p.reason,
    sourceId: p.sourceid,
  }));

const balanceData = z
  .looseObject({
    balance: tolerantNumber,
    contactid: tolerantId,
    accountid: optionalOf(tolerantNumber),
    definitionid: optionalOf(tolerantString),
    balanceexpires: optionalOf(tolerantString),
  })
  .transform((p) => ({
    contactId: p.contactid,
    balance: p.balance,
    accountId: p.accountid,
    definitionId: p.definitionid,
    balanceExpires: p.balanceexpires,
  }));

const voucherData = z
  .looseObject({
    amount: optionalOf(tolerantNumber),
    contactid: tolerantId,
    currency: optionalOf(tolerantString),
    id: optionalOf(tolerantString),
    uniquecode: optionalOf(tolerantString),
    validfrom: optionalOf(tolerantString),
    validto: optionalOf(tolerantString),
  })
  .transform((p) => ({
    contactId: p.contactid,
    amount: p.amount,
    currency: p.currency,
    voucherId: p.id,
    uniqueCode: p.uniquecode,
    validFrom: p.validfrom,
    validTo: p.validto,
  }));

/** Payload schemas for the known event types, applied to the payload with lower-cased keys. */
export const payloadSchemas = {
  "contact.acceptsEmail.changed": preferenceData("email"),
  "contact.acceptsSms.changed": preferenceData("sms"),
  "contact.acceptsPostal.changed": preferenceData("postal"),
  "loyalty.addPoints": addPointsData,
  "point.balance.updated": balanceData,
  "reward.voucher.created": voucherData,
} as const;

/**
 * Looked up by the event type a sender chose: a Map, so `constructor`, `__proto__` or `toString`
 * are unknown types like any other, never a member of Object.prototype.
 */
const SCHEMA_OF: ReadonlyMap<string, z.ZodType> = new Map(Object.entries(payloadSchemas));

const PREFERENCE_CHANNEL_OF: ReadonlyMap<string, PreferenceChannel> = new Map(
  Object.entries(PREFERENCE_CHANNELS),
);

export type PreferenceData = z.output<ReturnType<typeof preferenceData>>;
export type AddPointsData = z.output<typeof addPointsData>;
export type BalanceData = z.output<typeof balanceData>;
export type VoucherData = z.output<typeof voucherData>;

interface EventBase {
  /** `id ?? eventId ?? svix-id` of the envelope. */
  id: string;
  /** The event type exactly as Engage sent it. */
  eventType: string;
  tenant: string | undefined;
  /** Whether the payload arrived encrypted (and was decrypted). */
  encrypted: boolean;
  /** The payload object as received (after decryption), unknown fields included. */
  payload: unknown;
}

export interface PreferenceEvent<T extends PreferenceEventType = PreferenceEventType> extends EventBase {
  type: T;
  channel: PreferenceChannel;
  contactId: string;
  data: PreferenceData;
}
export interface AddPointsEvent extends EventBase {
  type: "loyalty.addPoints";
  contactId: string;
  data: AddPointsData;
}
export interface BalanceUpdatedEvent extends EventBase {
  type: "point.balance.updated";
  contactId: string;
  data: BalanceData;
}
export interface VoucherCreatedEvent extends EventBase {
  type: "reward.voucher.created";
  contactId: string;
  data: VoucherData;
}
/** An event type this version does not know. It is kept whole so that nothing is lost. */
export interface UnknownEvent extends EventBase {
  type: "unknown";
  /** Best-effort contact id when the payload carries one. */
  contactId: string | undefined;
  /** The whole envelope as received. */
  body: unknown;
}

export type EngageEvent =
  | PreferenceEvent<"contact.acceptsEmail.changed">
  | PreferenceEvent<"contact.acceptsSms.changed">
  | PreferenceEvent<"contact.acceptsPostal.changed">
  | AddPointsEvent
  | BalanceUpdatedEvent
  | VoucherCreatedEvent
  | UnknownEvent;

export type EngageEventType = EngageEvent["type"];

export function isPreferenceEvent(event: EngageEvent): event is PreferenceEvent {
  return (PREFERENCE_EVENT_TYPES as readonly string[]).includes(event.type);
}

export type EventParseFailure =
  | "empty_body"
  | "not_json"
  | "invalid_envelope"
  | "missing_id"
  | "encrypted_without_key"
  | "undecryptable"
  | "invalid_payload";

/**
 * A verified body that cannot become an event. `envelope` holds what could be read (id, type,
 * tenant) so that a caller can still store and flag the message instead of losing it. Messages and
 * issues name fields, never their values.
 */
export class EventParseError extends Error {
  override readonly name = "EventParseError";
  readonly reason: EventParseFailure;
  readonly issues: readonly string[];
  /**
   * What could be read: `contactId` is the contact the message names (its payload's, else the
   * envelope's own `contactId`), so that erasure can still find a message that failed to parse.
   */
  readonly envelope: { id?: string; eventType?: string; tenant?: string; contactId?: string };
  constructor(
    reason: EventParseFailure,
    message: string,
    envelope: EventParseError["envelope"] = {},
    issues: readonly string[] = [],
  ) {
    super(issues.length ? `${message}: ${issues.join("; ")}` : message);
    this.reason = reason;
    this.envelope = envelope;
    this.issues = issues;
  }
}

export interface ParseOptions {
  /** The verified `svix-id`; used as the event id when the envelope has none. */
  messageId?: string;
  /** 32-character key for `isEncrypted` payloads. */
  payloadKey?: string;
}

const envelopeSchema = z.looseObject({
  id: optionalOf(tolerantId),
  eventid: optionalOf(tolerantId),
  eventtype: nonEmptyText("expected a non-empty event type"),
  isencrypted: optionalOf(tolerantBoolean),
  tenant: optionalOf(tolerantString),
  payload: z.unknown(),
});

function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
}

const utf8 = new TextDecoder();

function decodeBody(body: Uint8Array | string | object): unknown {
  if (typeof body === "object" && !(body instanceof Uint8Array)) return body;
  const text = typeof body === "string" ? body : utf8.decode(body);
  if (text.trim() === "") throw new EventParseError("empty_body", "body is empty");
  try {
    return parseJsonText(text);
  } catch {
    throw new EventParseError("not_json", "body is not JSON");
  }
}

/** The contact a (lower-cased) payload or envelope names, if it names one in a readable form. */
function namedContactId(...records: (Record<string, unknown> | undefined)[]): string | undefined {
  for (const record of records) {
    const id =
      record && Object.hasOwn(record, "contactid") ? tolerantId.safeParse(record.contactid) : undefined;
    if (id?.success) return id.data;
  }
  return undefined;
}

/** Decrypts an Engage payload string to its plaintext; throws `PayloadDecryptionError`. */
export type PayloadDecrypter = (data: string, key: string) => string;

/**
 * The parser, with the payload decryption passed in: `parseEngageEvent` gives it `node:crypto`'s, and
 * the web entry one backed by Web Crypto. This module loads no `node:` module.
 */
export function parseEngageEventWith(
  decrypt: PayloadDecrypter,
  body: Uint8Array | string | object,
  options: ParseOptions = {},
): EngageEvent {
  const json = decodeBody(body);
  const lowered = lowerKeys(json);
  if (!lowered) throw new EventParseError("invalid_envelope", "body is not a JSON object");
  const parsed = envelopeSchema.safeParse(lowered);
  if (!parsed.success) {
    const contactId = namedContactId(lowerKeys(lowered.payload), lowered);
    throw new EventParseError(
      "invalid_envelope",
      "envelope does not match",
      contactId === undefined ? {} : { contactId },
      describeIssues(parsed.error),
    );
  }
  const env = parsed.data;
  const id = env.id ?? env.eventid ?? options.messageId;
  const encrypted = env.isencrypted === true;
  // A plain payload is read once here, for the contact it names and then for its schema.
  let payloadKeys = encrypted ? undefined : lowerKeys(env.payload);
  const envelope: EventParseError["envelope"] = {
    id,
    eventType: env.eventtype,
    tenant: env.tenant,
    contactId: namedContactId(encrypted ? lowerKeys(env.payload) : payloadKeys, lowered),
  };
  if (!id) throw new EventParseError("missing_id", "envelope has no id, eventId or message id", envelope);

  let payload: unknown = env.payload;
  if (encrypted) {
    if (!options.payloadKey) {
      throw new EventParseError(
        "encrypted_without_key",
        "payload is encrypted and no payload key is set",
        envelope,
      );
    }
    if (typeof payload !== "string") {
      throw new EventParseError("undecryptable", "encrypted payload is not a string", envelope);
    }
    try {
      payload = parseJsonText(decrypt(payload, options.payloadKey));
    } catch (error) {
      const detail =
        error instanceof PayloadDecryptionError ? error.message : "decrypted payload is not JSON";
      throw new EventParseError("undecryptable", detail, envelope);
    }
    payloadKeys = lowerKeys(payload);
    envelope.contactId = namedContactId(payloadKeys, lowered);
  }

  const base = { id, eventType: env.eventtype, tenant: env.tenant, encrypted, payload };
  const schema = SCHEMA_OF.get(env.eventtype);
  if (!schema) return { ...base, type: "unknown", contactId: envelope.contactId, body: json };
  if (!payloadKeys) throw new EventParseError("invalid_payload", "payload is not a JSON object", envelope);
  const data = schema.safeParse(payloadKeys);
  if (!data.success) {
    throw new EventParseError(
      "invalid_payload",
      "payload does not match",
      envelope,
      describeIssues(data.error),
    );
  }
  const typed = data.data as { contactId: string };
  const type = env.eventtype as KnownEventType;
  const channel = PREFERENCE_CHANNEL_OF.get(type);
  if (channel) {
    return { ...base, type, channel, contactId: typed.contactId, data: typed } as EngageEvent;
  }
  return { ...base, type, contactId: typed.contactId, data: typed } as EngageEvent;
}

export type SafeParseResult =
  | { success: true; event: EngageEvent }
  | { success: false; error: EventParseError };

/** {@link parseEngageEventWith} as a result instead of a throw. */
export function safeParseEngageEventWith(
  decrypt: PayloadDecrypter,
  body: Uint8Array | string | object,
  options: ParseOptions = {},
): SafeParseResult {
  try {
    return { success: true, event: parseEngageEventWith(decrypt, body, options) };
  } catch (error) {
    if (error instanceof EventParseError) return { success: false, error };
    throw error;
  }
}

/**
 * The encrypted payload of an envelope that says `isEncrypted` (its text, to decrypt before
 * parsing), or undefined. Bodies that are not such an envelope give undefined: the parser reports them.
 */
export function encryptedPayloadOf(body: Uint8Array | string | object): string | undefined {
  try {
    const env = envelopeSchema.safeParse(lowerKeys(decodeBody(body)));
    return env.success && env.data.isencrypted === true && typeof env.data.payload === "string"
      ? env.data.payload
      : undefined;
  } catch {
    return undefined;
  }
}
