import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WebhookVerificationError } from "../errors.ts";
import {
  at,
  describeVerifierCases,
  headers,
  hmacSignature,
  type Over,
  reasonOf,
  V1,
  V2,
  webVerifier,
} from "../test-support/verifier-cases.ts";
import { createVerifier, signWebhook } from "../verify.ts";
import { createWebVerifier, signWebhookAsync } from "./verify.ts";

// The cases shared with the Node verifier (src/verify.test.ts), run against this one.
describeVerifierCases(webVerifier);

describe("promise API", () => {
  it("fails by rejecting the promise, never by throwing synchronously", () => {
    const result = createWebVerifier({ secrets: [V1.secret], now: at(V1.timestamp) }).verify(V1.body, {});
    expect(result).toBeInstanceOf(Promise);
    return expect(result).rejects.toThrow(WebhookVerificationError);
  });
});

describe("signWebhookAsync", () => {
  it("signs a timestamp given as text as written, leading zeros included", async () => {
    for (const text of ["01700000000", "001700000000"]) {
      expect(await signWebhookAsync(V1.secret, "msg_zero", text, V1.body)).toBe(
        hmacSignature(V1.secret, "msg_zero", text, V1.body),
      );
    }
  });
});

describe("verifyRequest checks the headers first", () => {
  it("does not read the body of a request whose headers already fail", async () => {
    const req = new Request("https://example.test/webhooks/engage", {
      method: "POST",
      headers: headers(V2, { timestamp: "hello" }),
      body: V2.body,
    });
    const verifier = createWebVerifier({ secrets: [V2.secret], now: at(V2.timestamp) });
    expect(await reasonOf(verifier.verifyRequest(req))).toBe("malformed_timestamp");
    expect(req.bodyUsed).toBe(false);
  });
});

describe("errors match the Node entry's by name, reason and message", () => {
  it("has the same name, reason and message as the Node WebhookVerificationError", async () => {
    const v = V1;
    for (const over of [{}, { timestamp: "hello" }, { signature: "v1," }] as Over[]) {
      const h = headers(v, over);
      const { "svix-id": _, ...missing } = h;
      for (const hs of [h, missing]) {
        let nodeError: unknown = "passed";
        try {
          createVerifier({ secrets: [v.secret], now: at(v.timestamp + 5) }).verify(v.body, hs);
        } catch (error) {
          nodeError = error;
        }
        const webError = await createWebVerifier({ secrets: [v.secret], now: at(v.timestamp + 5) })
          .verify(v.body, hs)
          .then(
            () => "passed",
            (error: unknown) => error,
          );
        if (nodeError === "passed") {
          expect(webError).toBe("passed");
          continue;
        }
        const pick = (e: unknown) => {
          const { name, reason, message } = e as WebhookVerificationError;
          return { name, reason, message };
        };
        expect(pick(webError)).toEqual(pick(nodeError));
      }
    }
  });
});

describe("agrees with the Node verifier on random messages", () => {
  const secretArb = fc
    .uint8Array({ minLength: 24, maxLength: 64 })
    .map((b) => `whsec_${Buffer.from(b).toString("base64")}`);
  it("verifies what the Node signer signs and signs what it signs", async () => {
    await fc.assert(
      fc.asyncProperty(
        secretArb,
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        fc.oneof(fc.string({ unit: "grapheme" }), fc.uint8Array({ maxLength: 300 })),
        async (secret, id, ts, body) => {
          const nodeSig = signWebhook(secret, id, ts, body);
          expect(await signWebhookAsync(secret, id, ts, body)).toBe(nodeSig);
          const verifier = createWebVerifier({ secrets: [secret], now: at(ts) });
          const h = { "svix-id": id, "svix-timestamp": String(ts), "svix-signature": nodeSig };
          expect((await verifier.verify(body, h)).id).toBe(id);
        },
      ),
      { numRuns: 200 },
    );
  });
});
