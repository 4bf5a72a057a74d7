import { describe, expect, it } from "vitest";
import { encryptPayload } from "../decrypt.ts";
import { parseEngageEvent, safeParseEngageEvent } from "../events.ts";
import { readSample, SAMPLE_PAYLOAD_KEY, sampleFiles } from "../test-support/samples.ts";
import { parseEngageEventAsync, safeParseEngageEventAsync } from "./index.ts";

/** The web parser is the Node parser with Web Crypto decryption: same events, same failures. */
describe("parseEngageEventAsync (web entry)", () => {
  for (const file of sampleFiles()) {
    it(`parses ${file} exactly as parseEngageEvent does`, async () => {
      const body = readSample(file);
      const options = { payloadKey: SAMPLE_PAYLOAD_KEY, messageId: "msg_1" };
      expect(await parseEngageEventAsync(body, options)).toEqual(parseEngageEvent(body, options));
      expect(await parseEngageEventAsync(new TextEncoder().encode(body), options)).toEqual(
        parseEngageEvent(body, options),
      );
    });
  }

  const encrypted = (plaintext: string) =>
    JSON.stringify({
      id: "e-1",
      eventType: "loyalty.addPoints",
      isEncrypted: true,
      contactId: "c-env",
      payload: encryptPayload(plaintext, SAMPLE_PAYLOAD_KEY),
    });

  it.each([
    ["no key", encrypted('{"contactId":"c-1","amount":1}'), {}],
    ["a wrong key", encrypted('{"contactId":"c-1","amount":1}'), { payloadKey: "x".repeat(32) }],
    ["plaintext that is not JSON", encrypted("not json"), { payloadKey: SAMPLE_PAYLOAD_KEY }],
    [
      "a payload that is not base64",
      encrypted("{}").replace(/"payload":"[^"]+"/, '"payload":"@@@"'),
      { payloadKey: SAMPLE_PAYLOAD_KEY },
    ],
    ["not JSON at all", "nope", { payloadKey: SAMPLE_PAYLOAD_KEY }],
    ["an invalid payload", encrypted('{"contactId":"c-1"}'), { payloadKey: SAMPLE_PAYLOAD_KEY }],
  ])("fails like the Node parser for %s", async (_what, body, options) => {
    const web = await safeParseEngageEventAsync(body, options);
    const node = safeParseEngageEvent(body, options);
    expect(web.success).toBe(false);
    expect(node.success).toBe(false);
    if (!web.success && !node.success) {
      expect(web.error.reason).toBe(node.error.reason);
      expect(web.error.message).toBe(node.error.message);
      expect(web.error.envelope).toEqual(node.error.envelope);
    }
  });
});
