import { describe, expect, it } from "vitest";
import { decryptPayload, encryptPayload, isValidPayloadKey, PayloadDecryptionError } from "./decrypt.ts";
import { readSample, SAMPLE_PAYLOAD_KEY } from "./test-support/samples.ts";

const KEY = SAMPLE_PAYLOAD_KEY;
const encryptedSample = JSON.parse(readSample("encrypted.loyalty.addPoints.json")) as { payload: string };

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof PayloadDecryptionError) return error.reason;
    throw error;
  }
  return "passed";
}

describe("decryptPayload", () => {
  it("decrypts the encrypted sample with the documented key to the plain sample's payload", () => {
    const plain = JSON.parse(decryptPayload(encryptedSample.payload, KEY));
    expect(plain).toEqual(JSON.parse(readSample("loyalty.addPoints.json")).payload);
  });

  it("accepts standard base64 with padding as well as URL-safe without", () => {
    const text = '{"contactId":"c-1","amount":5}';
    const urlSafe = encryptPayload(text, KEY);
    const standard = encryptPayload(text, KEY, { standardBase64: true });
    expect(urlSafe).not.toMatch(/[+/=]/);
    expect(decryptPayload(urlSafe, KEY)).toBe(text);
    expect(decryptPayload(standard, KEY)).toBe(text);
  });

  it("round-trips with a fixed IV reproducibly and a random IV differently", () => {
    const iv = Buffer.alloc(16, 9);
    expect(encryptPayload("x", KEY, { iv })).toBe(encryptPayload("x", KEY, { iv }));
    expect(encryptPayload("x", KEY)).not.toBe(encryptPayload("x", KEY));
  });

  it("gives a typed error for a wrong key", () => {
    const wrong = "A".repeat(32);
    expect(reasonOf(() => decryptPayload(encryptedSample.payload, wrong))).toBe("wrong_key_or_corrupt");
  });

  it("gives a typed error for a flipped byte in the last block", () => {
    const raw = Buffer.from(encryptedSample.payload, "base64url");
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 0x01;
    expect(reasonOf(() => decryptPayload(raw.toString("base64url"), KEY))).toBe("wrong_key_or_corrupt");
  });

  it("never crashes on any single flipped byte", () => {
    const raw = Buffer.from(encryptedSample.payload, "base64url");
    for (let i = 0; i < raw.length; i++) {
      const copy = Buffer.from(raw);
      copy[i] = (copy[i] ?? 0) ^ 0x80;
      const outcome = reasonOf(() => decryptPayload(copy.toString("base64url"), KEY));
      expect(["passed", "wrong_key_or_corrupt"]).toContain(outcome);
    }
  });

  it.each([
    ["not base64", "this is not base64!"],
    ["too short", Buffer.alloc(16).toString("base64")],
    ["not whole blocks", Buffer.alloc(40).toString("base64")],
    ["empty", ""],
  ])("gives a typed error for data that is %s", (_, data) => {
    expect(reasonOf(() => decryptPayload(data, KEY))).toBe("malformed_data");
  });

  it.each([
    ["short", "abc"],
    ["long", "x".repeat(33)],
    ["empty", ""],
  ])("refuses a %s key", (_, key) => {
    expect(reasonOf(() => decryptPayload(encryptedSample.payload, key))).toBe("invalid_key");
    expect(isValidPayloadKey(key)).toBe(false);
  });

  it("does not put the key or data in the error message", () => {
    try {
      decryptPayload(encryptedSample.payload, "B".repeat(32));
    } catch (error) {
      expect(String(error)).not.toContain("B".repeat(32));
      expect(String(error)).not.toContain(encryptedSample.payload.slice(0, 20));
    }
  });
});

describe("plaintext exactly as encrypted", () => {
  it("keeps a leading U+FEFF", () => {
    const key = "0123456789abcdef0123456789abcdef";
    expect(decryptPayload(encryptPayload("\uFEFF{}", key), key)).toBe("\uFEFF{}");
  });
});
