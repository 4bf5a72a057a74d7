import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encryptPayload } from "./decrypt.ts";
import { EventParseError, KNOWN_EVENT_TYPES, parseEngageEvent, safeParseEngageEvent } from "./events.ts";

const KEY = "0123456789abcdef0123456789abcdef";

/** Every key of Object.prototype, plus the ones JSON.parse makes own data properties. */
const PROTOTYPE_KEYS = [
  ...new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__", "prototype"]),
];

const eventType = fc.oneof(
  fc.constantFrom(...KNOWN_EVENT_TYPES, ...PROTOTYPE_KEYS),
  fc.string(),
  fc.constantFrom(...PROTOTYPE_KEYS).map((k) => k.toUpperCase()),
);
const key = fc.oneof(
  fc.constantFrom(...PROTOTYPE_KEYS, "contactId", "ContactId", "value", "amount", "balance", "Id"),
  fc.string({ maxLength: 12 }),
);
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 20 }),
  fc.constantFrom("", " ", "true", "1e400", "NaN", "2026-11-29T10:00:00Z", ...PROTOTYPE_KEYS),
);
const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: "small", maxDepth: 3 },
    scalar,
    tie("object"),
    fc.array(tie("any"), { maxLength: 3 }),
  ),
  object: fc.dictionary(key, tie("any"), { maxKeys: 6 }),
})).any;

/** Envelopes shaped like Engage's, with every field sometimes missing, mistyped or hostile. */
const envelope = fc.record(
  {
    id: fc.oneof(fc.uuid(), fc.integer(), fc.constantFrom(...PROTOTYPE_KEYS), value),
    eventId: value,
    eventType: fc.oneof(eventType, value),
    EventType: eventType,
    isEncrypted: fc.oneof(fc.boolean(), value),
    tenant: value,
    contactId: value,
    payload: fc.oneof(fc.dictionary(key, value, { maxKeys: 8 }), value),
    __proto__: value,
    constructor: value,
  },
  { requiredKeys: [] },
);

/** Serialises with own `__proto__` keys kept (JSON.stringify of a literal would drop a prototype). */
const toBody = (record: Record<string, unknown>) =>
  `{${Object.entries(record)
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? "null"}`)
    .join(",")}}`;

/** Generous: the machine running CI may be busy with other suites; the runs, not the time, matter. */
const FUZZ_TIMEOUT_MS = 120_000;

describe("parsing any verified body (property-based)", () => {
  it(
    "either parses or fails with an EventParseError, never anything else",
    () => {
      fc.assert(
        fc.property(envelope, fc.boolean(), (record, withKey) => {
          const body = toBody(record);
          try {
            parseEngageEvent(body, { messageId: "msg_fuzz", payloadKey: withKey ? KEY : undefined });
          } catch (error) {
            expect(error).toBeInstanceOf(EventParseError);
          }
          const result = safeParseEngageEvent(body, { messageId: "msg_fuzz" });
          expect(typeof result.success).toBe("boolean");
        }),
        { numRuns: 3000 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "reads arbitrary bytes without throwing anything but EventParseError",
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          const result = safeParseEngageEvent(bytes, { messageId: "msg_fuzz" });
          if (!result.success) expect(result.error).toBeInstanceOf(EventParseError);
        }),
        { numRuns: 2000 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "never changes Object.prototype",
    () => {
      fc.assert(
        fc.property(envelope, (record) => {
          safeParseEngageEvent(toBody(record), { messageId: "msg_fuzz" });
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect(Object.getPrototypeOf({})).toBe(Object.prototype);
        }),
        { numRuns: 1000 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "keeps the event id and type of any envelope with a string type",
    () => {
      fc.assert(
        fc.property(
          fc.uuid(),
          eventType.filter((t) => t.trim() !== ""),
          (id, type) => {
            const body = JSON.stringify({ id, eventType: type, payload: { contactId: "c-1" } });
            const result = safeParseEngageEvent(body);
            const read = result.success ? result.event : result.error.envelope;
            expect(read.id).toBe(id);
            // Surrounding blanks are not part of a type (the schema trims them).
            expect(result.success ? result.event.eventType : result.error.envelope.eventType).toBe(
              type.trim(),
            );
          },
        ),
        { numRuns: 2000 },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe("event types named like Object.prototype members", () => {
  it.each(PROTOTYPE_KEYS)("%s is an unknown type, kept whole", (type) => {
    const body = `{"id":"e-1","eventType":${JSON.stringify(type)},"payload":{"contactId":"c-1"}}`;
    const event = parseEngageEvent(body);
    expect(event).toMatchObject({ type: "unknown", eventType: type, id: "e-1", contactId: "c-1" });
  });

  it("reads a payload whose keys are __proto__ and constructor as data", () => {
    const body =
      '{"id":"e-2","eventType":"loyalty.addPoints","payload":{"__proto__":{"amount":1},"constructor":"x","contactId":"c-2","amount":5}}';
    expect(parseEngageEvent(body)).toMatchObject({ type: "loyalty.addPoints", data: { amount: 5 } });
  });
});

describe("the contact a message names, even when it cannot be parsed", () => {
  it("comes from the payload of an invalid payload", () => {
    const body = '{"id":"e-3","eventType":"loyalty.addPoints","payload":{"ContactId":"c-3"}}';
    const result = safeParseEngageEvent(body);
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.envelope).toMatchObject({ contactId: "c-3" });
  });

  it("comes from the envelope of an encrypted payload without a key, numeric ids as text", () => {
    const payload = encryptPayload('{"contactId":"c-4"}', KEY);
    const body = JSON.stringify({
      id: "e-4",
      eventType: "loyalty.addPoints",
      isEncrypted: true,
      contactId: 4711,
      payload,
    });
    const result = safeParseEngageEvent(body);
    expect(result.success).toBe(false);
    if (!result.success) {
      expect(result.error.reason).toBe("encrypted_without_key");
      expect(result.error.envelope.contactId).toBe("4711");
    }
  });

  it("comes from a readable payload of an envelope without a type", () => {
    const result = safeParseEngageEvent('{"id":"e-5","payload":{"contactId":12}}');
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.envelope.contactId).toBe("12");
  });
});

describe("byte-order marks", () => {
  it("decrypts a payload whose plaintext starts with U+FEFF and still parses it", () => {
    const payload = encryptPayload('\uFEFF{"contactId":"c-6","amount":1}', KEY);
    const body = JSON.stringify({ id: "e-6", eventType: "loyalty.addPoints", isEncrypted: true, payload });
    expect(parseEngageEvent(body, { payloadKey: KEY })).toMatchObject({ contactId: "c-6" });
  });

  it("reads a body that starts with a byte-order mark", () => {
    const body = `\uFEFF{"id":"e-7","eventType":"loyalty.addPoints","payload":{"contactId":"c-7","amount":1}}`;
    expect(parseEngageEvent(Buffer.from(body, "utf8"))).toMatchObject({ contactId: "c-7" });
  });
});
