import { encryptPayload, KNOWN_EVENT_TYPES } from "@engage-bridge/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classify } from "./classify.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const PROTOTYPE_KEYS = [
  ...new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__", "prototype"]),
];
const STATUSES = new Set(["accepted", "ignored", "undecryptable"]);
const connectorsFor = (type: string) => (type.startsWith("contact.") ? ["hubspot"] : ["googleSheets"]);

const text = fc.oneof(
  fc.constantFrom(...KNOWN_EVENT_TYPES, ...PROTOTYPE_KEYS, "", " "),
  fc.string({ maxLength: 16 }),
);
const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.integer(), text);
const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: "small", maxDepth: 3 },
    scalar,
    tie("object"),
    fc.array(tie("any"), { maxLength: 3 }),
  ),
  object: fc.dictionary(
    fc.oneof(text, fc.constantFrom("contactId", "ContactId", "amount", "value")),
    tie("any"),
    {
      maxKeys: 5,
    },
  ),
})).any;
const envelope = fc.record(
  {
    id: fc.oneof(fc.uuid(), value),
    eventId: value,
    eventType: fc.oneof(text, value),
    isEncrypted: fc.oneof(fc.boolean(), value),
    tenant: value,
    contactId: value,
    payload: fc.oneof(
      fc.dictionary(fc.oneof(text, fc.constantFrom("contactId", "amount", "value", "balance")), value, {
        maxKeys: 6,
      }),
      value,
      fc.constant(encryptPayload('{"contactId":"c-enc","amount":1}', KEY)),
    ),
  },
  { requiredKeys: [] },
);
/** Serialised by hand so that own `__proto__` keys survive. */
const toBody = (record: Record<string, unknown>) =>
  Buffer.from(
    `{${Object.entries(record)
      .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? "null"}`)
      .join(",")}}`,
  );

describe("classify (property-based): every verified body becomes a storable record", () => {
  it("never throws, and always gives an id, a type, a status and connectors only for accepted events", () => {
    fc.assert(
      fc.property(envelope, fc.boolean(), (record, withKey) => {
        const out = classify(toBody(record), "msg_fuzz", withKey ? KEY : undefined, connectorsFor);
        expect(STATUSES.has(out.status)).toBe(true);
        expect(typeof out.eventId === "string" && out.eventId.length > 0).toBe(true);
        expect(typeof out.type).toBe("string");
        if (out.status !== "accepted") expect(out.connectors).toEqual([]);
        if (out.contactId !== undefined) expect(typeof out.contactId).toBe("string");
      }),
      { numRuns: 3000 },
    );
  }, 120_000);

  it("classifies arbitrary bytes without throwing", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(STATUSES.has(classify(bytes, "msg_fuzz", KEY, connectorsFor).status)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  }, 120_000);

  it.each(PROTOTYPE_KEYS)("%s is an unknown type, ignored, with no connectors", (type) => {
    const body = Buffer.from(`{"id":"e","eventType":${JSON.stringify(type)},"payload":{"contactId":7}}`);
    expect(classify(body, "msg", undefined, connectorsFor)).toEqual({
      eventId: "e",
      type,
      status: "ignored",
      statusReason: "unknown_event_type",
      contactId: "7",
      tenant: undefined,
      connectors: [],
    });
  });

  it("keeps the contact an undecryptable event's envelope names", () => {
    const body = Buffer.from(
      '{"id":"e","eventType":"loyalty.addPoints","isEncrypted":true,"contactId":"c-x","payload":"zz"}',
    );
    expect(classify(body, "msg", KEY, connectorsFor)).toMatchObject({
      status: "undecryptable",
      contactId: "c-x",
    });
  });
});
