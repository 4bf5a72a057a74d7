import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { readSample } from "./test-support/samples.ts";
import { nodeVerifier, webVerifier } from "./test-support/verifier-cases.ts";
import {
  createVerifier,
  InvalidSecretError,
  signWebhook,
  type VerifiedWebhook,
  WebhookVerificationError,
} from "./verify.ts";
import { verifyAndParse, verifyRequestAndParse } from "./verify-and-parse.ts";

/**
 * The webhook test cases of the official libraries, ported to this verifier:
 * - svix/svix-webhooks, javascript/src/webhook.test.ts (svix-* headers);
 * - standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts (webhook-* headers).
 * Both build their fixture the same way: HMAC-SHA256 of `${id}.${timestamp}.${payload}` under the
 * base64-decoded secret, standard base64, `v1,` prefix, tolerance 5 minutes.
 * They run against both verifiers: the Node one and the Web Crypto one of `@engage-bridge/core/web`.
 */

const defaultMsgID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const defaultPayload = `{"test": 2432232314}`;
const defaultSecret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const toleranceMs = 5 * 60 * 1000;

function testPayload(brand: "svix" | "webhook", timestampMs = Date.now()) {
  const timestamp = Math.floor(timestampMs / 1000);
  const signature = createHmac("sha256", Buffer.from(defaultSecret, "base64"))
    .update(`${defaultMsgID}.${timestamp}.${defaultPayload}`)
    .digest("base64");
  const header: Record<string, string> = {
    [`${brand}-id`]: defaultMsgID,
    [`${brand}-signature`]: `v1,${signature}`,
    [`${brand}-timestamp`]: String(timestamp),
  };
  return { payload: defaultPayload, header, timestamp };
}

// Bodies and requests as frameworks hand them over.
const now = 1_700_000_000;
const body = readSample("loyalty.addPoints.json");
const headers = {
  "svix-id": "msg_body_1",
  "svix-timestamp": String(now),
  "svix-signature": signWebhook(defaultSecret, "msg_body_1", now, body),
};
const expected: VerifiedWebhook = { id: "msg_body_1", timestamp: now, brand: "svix" };

describe.each([nodeVerifier, webVerifier])("$name verifier", (adapter) => {
  const verifier = (secret = defaultSecret) => adapter.create({ secrets: [secret] });

  for (const brand of ["svix", "webhook"] as const) {
    const source =
      brand === "svix"
        ? "svix-webhooks javascript/src/webhook.test.ts"
        : "standard-webhooks libraries/javascript/src/webhook.test.ts";
    describe(`official test cases (${source})`, () => {
      it.each(["id", "timestamp", "signature"])("missing %s raises error", async (header) => {
        const p = testPayload(brand);
        delete p.header[`${brand}-${header}`];
        await expect(verifier().verify(p.payload, p.header)).rejects.toThrow(WebhookVerificationError);
      });

      it("invalid timestamp throws error", async () => {
        const p = testPayload(brand);
        p.header[`${brand}-timestamp`] = "hello";
        await expect(verifier().verify(p.payload, p.header)).rejects.toThrow(WebhookVerificationError);
      });

      it("invalid signature throws error", async () => {
        const p = testPayload(brand);
        p.header[`${brand}-signature`] = "v1,dawfeoifkpqwoekfpqoekf";
        await expect(verifier().verify(p.payload, p.header)).rejects.toThrow(WebhookVerificationError);
      });

      it("partial signature throws error", async () => {
        const p = testPayload(brand);
        p.header[`${brand}-signature`] = (p.header[`${brand}-signature`] ?? "").slice(0, 8);
        await expect(verifier().verify(p.payload, p.header)).rejects.toThrow(WebhookVerificationError);
        p.header[`${brand}-signature`] = "v1,";
        await expect(verifier().verify(p.payload, p.header)).rejects.toThrow(WebhookVerificationError);
      });

      it("valid signature is valid", async () => {
        const p = testPayload(brand);
        await expect(verifier().verify(p.payload, p.header)).resolves.toMatchObject({
          id: defaultMsgID,
          brand,
        });
      });

      it("old timestamp fails", async () => {
        const p = testPayload(brand, Date.now() - toleranceMs - 1000);
        await expect(verifier().verify(p.payload, p.header)).rejects.toThrow(WebhookVerificationError);
      });

      it("new timestamp fails", async () => {
        const p = testPayload(brand, Date.now() + toleranceMs + 1000);
        await expect(verifier().verify(p.payload, p.header)).rejects.toThrow(WebhookVerificationError);
      });

      it("multi sig payload is valid", async () => {
        const p = testPayload(brand);
        p.header[`${brand}-signature`] = [
          "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
          "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
          p.header[`${brand}-signature`],
          "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        ].join(" ");
        await verifier().verify(p.payload, p.header);
      });

      it("verification works with and without signature prefix", async () => {
        const p = testPayload(brand);
        await verifier(defaultSecret).verify(p.payload, p.header);
        await verifier(`whsec_${defaultSecret}`).verify(p.payload, p.header);
      });
    });
  }

  describe("official test cases, construction and signing (standard-webhooks)", () => {
    it("empty key raises error", () => {
      expect(() => adapter.create({ secrets: [""] })).toThrow(InvalidSecretError);
      expect(() => adapter.create({ secrets: [undefined as never] })).toThrow(InvalidSecretError);
      expect(() => adapter.create({ secrets: [null as never] })).toThrow(InvalidSecretError);
    });

    it("sign function works", async () => {
      await expect(
        adapter.sign(
          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
          defaultMsgID,
          1614265330,
          '{"test": 2432232314}',
        ),
      ).resolves.toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    });
  });

  describe("where the reference libraries agree", () => {
    const at = (seconds: number) => adapter.create({ secrets: [defaultSecret], now: () => seconds * 1000 });

    it("compares timestamps as integers: a leading zero, signed as sent, verifies", async () => {
      const header = {
        "svix-id": defaultMsgID,
        "svix-timestamp": "01614265330",
        "svix-signature": `v1,${createHmac("sha256", Buffer.from(defaultSecret, "base64")).update(`${defaultMsgID}.01614265330.${defaultPayload}`).digest("base64")}`,
      };
      expect((await at(1614265330).verify(defaultPayload, header)).timestamp).toBe(1614265330);
    });

    it("rejects a non-canonical base64 spelling of a valid signature", async () => {
      const valid = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
      // The last character before `=` carries 2 unused bits: `E` → `F` decodes to the same bytes.
      const respelled = `${valid.slice(0, -2)}F=`;
      expect(Buffer.from(respelled, "base64").equals(Buffer.from(valid, "base64"))).toBe(true);
      const header = (signature: string) => ({
        "svix-id": defaultMsgID,
        "svix-timestamp": "1614265330",
        "svix-signature": `v1,${signature}`,
      });
      expect((await at(1614265330).verify(defaultPayload, header(valid))).id).toBe(defaultMsgID);
      await expect(at(1614265330).verify(defaultPayload, header(respelled))).rejects.toThrow(
        WebhookVerificationError,
      );
      await expect(at(1614265330).verify(defaultPayload, header(valid.slice(0, -1)))).rejects.toThrow(
        WebhookVerificationError,
      );
    });

    it("refuses a null tolerance instead of taking the default", () => {
      expect(() => adapter.create({ secrets: [defaultSecret], toleranceSeconds: null as never })).toThrow(
        RangeError,
      );
    });

    it("signs only integer timestamps", async () => {
      for (const bad of [1.5, -1, Number.NaN, 2 ** 60]) {
        await expect(adapter.sign(defaultSecret, defaultMsgID, bad, "{}")).rejects.toThrow(RangeError);
      }
    });
  });

  describe("bodies and requests as frameworks hand them over", () => {
    const v = adapter.create({ secrets: [defaultSecret], now: () => now * 1000 });

    it.each([
      ["string", body],
      ["Buffer", Buffer.from(body)],
      ["Uint8Array", new Uint8Array(Buffer.from(body))],
      ["ArrayBuffer", new Uint8Array(Buffer.from(body)).buffer],
    ] as const)("verifies a %s body", async (_kind, input) => {
      await expect(v.verify(input as never, headers)).resolves.toEqual(expected);
      await expect(v.verify(input as never, new Headers(headers))).resolves.toEqual(expected);
    });

    it("verifies a Fetch API Request, reading its body once and returning it", async () => {
      const request = new Request("https://example.com/webhooks/engage", { method: "POST", headers, body });
      const { webhook, body: read } = await v.verifyRequest(request);
      expect(webhook).toEqual(expected);
      expect(Buffer.from(read).toString()).toBe(body);
      expect(request.bodyUsed).toBe(true);
      const forged = new Request("https://example.com/", { method: "POST", headers, body: `${body} ` });
      await expect(v.verifyRequest(forged)).rejects.toThrow(WebhookVerificationError);
    });
  });
});

describe("bodies and requests as frameworks hand them over (Node verifier)", () => {
  const v = createVerifier({ secrets: [defaultSecret], now: () => now * 1000 });

  it("verifies and parses in one call", async () => {
    expect(verifyAndParse(v, Buffer.from(body), headers)).toMatchObject({
      webhook: expected,
      event: { type: "loyalty.addPoints", contactId: "1c9b35d6-28d8-4520-8900-a89555f7f0c5" },
    });
    const request = new Request("https://example.com/", { method: "POST", headers, body });
    expect(await verifyRequestAndParse(v, request)).toMatchObject({
      webhook: expected,
      event: { type: "loyalty.addPoints" },
    });
    expect(() => verifyAndParse(v, "{}", headers)).toThrow(WebhookVerificationError);
  });
});
