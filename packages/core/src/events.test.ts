import { describe, expect, it } from "vitest";
import { encryptPayload } from "./decrypt.ts";
import { type EventParseError, parseEngageEvent, safeParseEngageEvent } from "./events.ts";
import { readSample, SAMPLE_PAYLOAD_KEY, sampleFiles } from "./test-support/samples.ts";

function failure(body: unknown, options = {}): EventParseError {
  const result = safeParseEngageEvent(body as string, options);
  if (result.success) throw new Error("expected a parse failure");
  return result.error;
}

describe("samples", () => {
  for (const file of sampleFiles()) {
    it(`${file} parses to its type`, () => {
      const body = readSample(file);
      const expectedType = JSON.parse(body).eventType;
      const event = parseEngageEvent(body, { payloadKey: SAMPLE_PAYLOAD_KEY, messageId: "msg_1" });
      expect(event.type).toBe(expectedType);
      expect(event.eventType).toBe(expectedType);
      expect(event.contactId).toBe("1c9b35d6-28d8-4520-8900-a89555f7f0c5");
      expect(event.tenant).toBe("acme");
    });
  }

  it("types the preference sample", () => {
    const event = parseEngageEvent(readSample("contact.acceptsEmail.changed.json"));
    expect(event).toMatchObject({
      type: "contact.acceptsEmail.changed",
      id: "0b7e3c2a-5f0e-4d8e-9a51-2f1d6f3b9c01",
      channel: "email",
      data: { contactId: "1c9b35d6-28d8-4520-8900-a89555f7f0c5", value: false, changedAt: undefined },
    });
    const sms = parseEngageEvent(readSample("contact.acceptsSms.changed.json"));
    expect(sms).toMatchObject({ channel: "sms", data: { value: true } });
  });

  it("types the loyalty samples", () => {
    expect(parseEngageEvent(readSample("loyalty.addPoints.json"))).toMatchObject({
      data: {
        amount: 150.5,
        pointDefinitionId: 1,
        source: "Automation",
        reason: "Birthday",
        sourceId: "auto-77",
      },
    });
    expect(parseEngageEvent(readSample("point.balance.updated.json"))).toMatchObject({
      data: {
        balance: 2500.75,
        accountId: 999,
        definitionId: "1",
        balanceExpires: "2027-12-31T23:59:59.999+01:00",
      },
    });
  });

  it("reads eventId and PascalCase keys of reward.voucher.created", () => {
    const event = parseEngageEvent(readSample("reward.voucher.created.json"), { messageId: "msg_v" });
    expect(event).toMatchObject({
      id: "e7f8a9b0-c1d2-4e3f-a405-6b7c8d9e0f56",
      type: "reward.voucher.created",
      data: {
        amount: 100,
        currency: "SEK",
        voucherId: "f0e1d2c3-b4a5-4968-8776-655443322110",
        uniqueCode: "VCH-9QX4-7KTB",
        validTo: "2027-02-28T23:59:59+01:00",
      },
    });
  });

  it("decrypts the encrypted sample before parsing", () => {
    const event = parseEngageEvent(readSample("encrypted.loyalty.addPoints.json"), {
      payloadKey: SAMPLE_PAYLOAD_KEY,
    });
    const plain = parseEngageEvent(readSample("loyalty.addPoints.json"));
    expect(event.encrypted).toBe(true);
    expect(event.type === "loyalty.addPoints" && event.data).toEqual(
      plain.type === "loyalty.addPoints" && plain.data,
    );
  });
});

describe("tolerance", () => {
  it("falls back from id to eventId to the svix message id", () => {
    const body = (extra: object) => JSON.stringify({ eventType: "x.y", payload: {}, ...extra });
    expect(parseEngageEvent(body({ id: "a", eventId: "b" }), { messageId: "m" }).id).toBe("a");
    expect(parseEngageEvent(body({ eventId: "b" }), { messageId: "m" }).id).toBe("b");
    expect(parseEngageEvent(body({}), { messageId: "m" }).id).toBe("m");
    expect(failure(body({})).reason).toBe("missing_id");
  });

  it("accepts numbers as strings, strings as numbers and keys in any case", () => {
    const event = parseEngageEvent(
      JSON.stringify({
        ID: 42,
        EventType: "point.balance.updated",
        Payload: { BALANCE: "12.5", contactID: 1234, AccountId: "7", DefinitionId: 3, extra: { kept: true } },
      }),
    );
    expect(event).toMatchObject({
      id: "42",
      type: "point.balance.updated",
      contactId: "1234",
      data: { balance: 12.5, accountId: 7, definitionId: "3" },
      payload: { extra: { kept: true } },
    });
  });

  it("reads preference values in tolerant forms and a change time when present", () => {
    const pref = (payload: object) =>
      parseEngageEvent(JSON.stringify({ id: "p", eventType: "contact.acceptsEmail.changed", payload }));
    expect(pref({ contactId: "c", value: "false" })).toMatchObject({ data: { value: false } });
    expect(pref({ contactId: "c", AcceptsEmail: 1 })).toMatchObject({ data: { value: true } });
    expect(pref({ contactId: "c" })).toMatchObject({ data: { value: undefined } });
    const timed = pref({ contactId: "c", value: true, changedAt: "2026-11-28T10:00:00Z" });
    expect(timed.type === "contact.acceptsEmail.changed" && timed.data.changedAt?.toISOString()).toBe(
      "2026-11-28T10:00:00.000Z",
    );
  });

  it("parses an unknown type to the unknown variant with the raw body kept", () => {
    const raw = {
      id: "u1",
      eventType: "contact.consent.changed",
      tenant: "acme",
      payload: { ContactId: "c9", consentId: "x" },
    };
    const event = parseEngageEvent(JSON.stringify(raw));
    expect(event).toMatchObject({
      type: "unknown",
      eventType: "contact.consent.changed",
      contactId: "c9",
      body: raw,
    });
  });
});

describe("problems are reported, never thrown as crashes", () => {
  it.each([
    ["an empty body", "", "empty_body"],
    ["plain text", "hello", "not_json"],
    ["truncated JSON", '{"id":"x","eventType":"loyalty.add', "not_json"],
    ["a JSON array", "[1,2]", "invalid_envelope"],
    ["a JSON string", '"x"', "invalid_envelope"],
    ["JSON null", "null", "invalid_envelope"],
    ["no event type", '{"id":"x","payload":{}}', "invalid_envelope"],
    ["an object as event type", '{"id":"x","eventType":{},"payload":{}}', "invalid_envelope"],
    [
      "a known type without contact",
      '{"id":"x","eventType":"loyalty.addPoints","payload":{"amount":1}}',
      "invalid_payload",
    ],
    [
      "a known type with a text amount",
      '{"id":"x","eventType":"loyalty.addPoints","payload":{"amount":"many","contactId":"c"}}',
      "invalid_payload",
    ],
    [
      "a known type with payload null",
      '{"id":"x","eventType":"loyalty.addPoints","payload":null}',
      "invalid_payload",
    ],
  ])("%s", (_, body, reason) => {
    expect(failure(body).reason).toBe(reason);
  });

  it("keeps the envelope of an undecryptable event so it can be stored and flagged", () => {
    const body = readSample("encrypted.loyalty.addPoints.json");
    const noKey = failure(body);
    expect(noKey.reason).toBe("encrypted_without_key");
    const wrongKey = failure(body, { payloadKey: "Z".repeat(32) });
    expect(wrongKey.reason).toBe("undecryptable");
    expect(wrongKey.envelope).toEqual({
      id: "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e99",
      eventType: "loyalty.addPoints",
      tenant: "acme",
    });
  });

  it("reports a flipped ciphertext byte as undecryptable", () => {
    const envelope = JSON.parse(readSample("encrypted.loyalty.addPoints.json"));
    for (const index of [20, 40, 100]) {
      const raw = Buffer.from(envelope.payload, "base64url");
      raw[index] = (raw[index] ?? 0) ^ 0xff;
      const result = safeParseEngageEvent(
        JSON.stringify({ ...envelope, payload: raw.toString("base64url") }),
        {
          payloadKey: SAMPLE_PAYLOAD_KEY,
        },
      );
      // A flip inside a middle block garbles it: the JSON or the payload schema must catch that.
      if (result.success) throw new Error(`flip at ${index} parsed`);
      expect(["undecryptable", "invalid_payload"]).toContain(result.error.reason);
    }
  });

  it("reports an encrypted payload of the wrong shape", () => {
    const body = JSON.stringify({
      id: "e",
      eventType: "loyalty.addPoints",
      isEncrypted: true,
      payload: { a: 1 },
    });
    expect(failure(body, { payloadKey: SAMPLE_PAYLOAD_KEY }).reason).toBe("undecryptable");
    const notJson = JSON.stringify({
      id: "e",
      eventType: "loyalty.addPoints",
      isEncrypted: true,
      payload: encryptPayload("nope", SAMPLE_PAYLOAD_KEY),
    });
    expect(failure(notJson, { payloadKey: SAMPLE_PAYLOAD_KEY }).reason).toBe("undecryptable");
  });

  it("names fields but never echoes values in errors", () => {
    const error = failure(
      JSON.stringify({
        id: "x",
        eventType: "loyalty.addPoints",
        payload: { amount: "secret@example.com", contactId: "c" },
      }),
    );
    expect(error.message).toContain("amount");
    expect(error.message).not.toContain("secret@example.com");
  });
});
