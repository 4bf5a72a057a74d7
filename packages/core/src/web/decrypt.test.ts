import { describe, expect, it } from "vitest";
import { decryptPayload, encryptPayload } from "../decrypt.ts";
import { PayloadDecryptionError } from "../errors.ts";
import { readSample, SAMPLE_PAYLOAD_KEY } from "../test-support/samples.ts";
import { decryptPayloadAsync, isValidPayloadKey } from "./decrypt.ts";

const KEY = SAMPLE_PAYLOAD_KEY;
const encryptedSample = JSON.parse(readSample("encrypted.loyalty.addPoints.json")) as { payload: string };

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PayloadDecryptionError) return error.reason;
    throw error;
  }
  return "passed";
}

describe("decryptPayloadAsync", () => {
  it("decrypts the encrypted sample to the plain sample's payload", async () => {
    const plain = JSON.parse(await decryptPayloadAsync(encryptedSample.payload, KEY));
    expect(plain).toEqual(JSON.parse(readSample("loyalty.addPoints.json")).payload);
  });

  it("round-trips with the Node encryptPayload, URL-safe and standard base64, any length", async () => {
    for (const text of [
      "",
      "x",
      "0123456789abcde",
      "0123456789abcdef",
      '{"contactId":"c-1","amount":5}',
      "é€😀".repeat(40),
    ]) {
      const urlSafe = encryptPayload(text, KEY);
      const standard = encryptPayload(text, KEY, { standardBase64: true });
      expect(await decryptPayloadAsync(urlSafe, KEY)).toBe(text);
      expect(await decryptPayloadAsync(standard, KEY)).toBe(text);
      expect(await decryptPayloadAsync(`  ${standard}\n`, KEY)).toBe(decryptPayload(`  ${standard}\n`, KEY));
    }
  });

  it("keeps a leading U+FEFF, as the Node decryptPayload does", async () => {
    const data = encryptPayload('\uFEFF{"a":1}', KEY);
    expect(await decryptPayloadAsync(data, KEY)).toBe('\uFEFF{"a":1}');
    expect(await decryptPayloadAsync(data, KEY)).toBe(decryptPayload(data, KEY));
  });

  it("gives wrong_key_or_corrupt for a wrong key and for plaintext that is not UTF-8", async () => {
    expect(await reasonOf(decryptPayloadAsync(encryptedSample.payload, "A".repeat(32)))).toBe(
      "wrong_key_or_corrupt",
    );
    // Decrypting under the wrong key in Node gives random bytes when the padding happens to be valid;
    // build such a case directly: a ciphertext of invalid UTF-8.
    const iv = Buffer.alloc(16, 1);
    const { createCipheriv } = await import("node:crypto");
    const cipher = createCipheriv("aes-256-cbc", Buffer.from(KEY), iv);
    const data = Buffer.concat([iv, cipher.update(Buffer.from([0xff, 0xfe, 0x80])), cipher.final()]).toString(
      "base64url",
    );
    expect(await reasonOf(decryptPayloadAsync(data, KEY))).toBe("wrong_key_or_corrupt");
  });

  it("agrees with the Node decryptPayload on every single flipped byte", async () => {
    const raw = Buffer.from(encryptedSample.payload, "base64url");
    for (let i = 0; i < raw.length; i++) {
      const copy = Buffer.from(raw);
      copy[i] = (copy[i] ?? 0) ^ 0x80;
      const data = copy.toString("base64url");
      let node: string;
      try {
        node = decryptPayload(data, KEY);
      } catch (error) {
        node = (error as PayloadDecryptionError).reason;
      }
      const web = await decryptPayloadAsync(data, KEY).catch((error: PayloadDecryptionError) => error.reason);
      expect(web).toBe(node);
    }
  });

  it.each([
    ["not base64", "this is not base64!"],
    ["too short", Buffer.alloc(16).toString("base64")],
    ["not whole blocks", Buffer.alloc(40).toString("base64")],
    ["empty", ""],
    ["4n+1 characters long", "AAAAA"],
    ["padded in the middle", `AA==${Buffer.alloc(32).toString("base64")}`],
  ])("gives malformed_data for data that is %s", async (_, data) => {
    expect(await reasonOf(decryptPayloadAsync(data, KEY))).toBe("malformed_data");
    expect(() => decryptPayload(data, KEY)).toThrow(/not base64 of IV/);
  });

  it.each([
    ["short", "abc"],
    ["long", "x".repeat(33)],
    ["empty", ""],
    ["32 characters but 33 bytes", `é${"x".repeat(31)}`],
  ])("refuses a %s key with invalid_key", async (_, key) => {
    expect(await reasonOf(decryptPayloadAsync(encryptedSample.payload, key))).toBe("invalid_key");
    expect(isValidPayloadKey(key)).toBe(false);
  });

  it("has the Node error's name and message, and rejects instead of throwing", async () => {
    const result = decryptPayloadAsync(encryptedSample.payload, "B".repeat(32));
    expect(result).toBeInstanceOf(Promise);
    const error = (await result.catch((e: unknown) => e)) as PayloadDecryptionError;
    let nodeError: PayloadDecryptionError | undefined;
    try {
      decryptPayload(encryptedSample.payload, "B".repeat(32));
    } catch (e) {
      nodeError = e as PayloadDecryptionError;
    }
    expect({ name: error.name, reason: error.reason, message: error.message }).toEqual({
      name: nodeError?.name,
      reason: nodeError?.reason,
      message: nodeError?.message,
    });
    expect(error.message).not.toContain("B".repeat(32));
    expect(isValidPayloadKey(KEY)).toBe(true);
  });
});
