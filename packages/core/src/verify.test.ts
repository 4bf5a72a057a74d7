import { Webhook } from "svix";
import { describe, expect, it } from "vitest";
import { at, describeVerifierCases, headers, nodeVerifier, V1, V2 } from "./test-support/verifier-cases.ts";
import { createVerifier, signWebhook, WebhookVerificationError } from "./verify.ts";

// The cases shared with the Web Crypto verifier (src/web/verify.test.ts), run against this one.
describeVerifierCases(nodeVerifier);

describe("synchronous API", () => {
  it("returns the result, throws the failure and signs without a promise", () => {
    const verifier = createVerifier({ secrets: [V1.secret], now: at(V1.timestamp) });
    expect(verifier.verify(V1.body, headers(V1))).toEqual({
      id: V1.id,
      timestamp: V1.timestamp,
      brand: "svix",
    });
    expect(() => verifier.verify(V1.body, {})).toThrow(WebhookVerificationError);
    expect(signWebhook(V1.secret, V1.id, V1.timestamp, V1.body)).toBe(V1.signature);
  });
});

describe("agrees with the svix package", () => {
  it("verifies what svix signs, and svix verifies what we sign", () => {
    const wh = new Webhook(V2.secret);
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      eventType: "contact.acceptsEmail.changed",
      payload: { contactId: "c-1", value: true },
    });
    const svixSig = wh.sign("msg_x", new Date(now * 1000), body);
    const ours = createVerifier({ secrets: [V2.secret] });
    expect(
      ours.verify(body, { "svix-id": "msg_x", "svix-timestamp": String(now), "svix-signature": svixSig }).id,
    ).toBe("msg_x");
    const ourSig = signWebhook(V2.secret, "msg_y", now, body);
    expect(() =>
      wh.verify(body, { "svix-id": "msg_y", "svix-timestamp": String(now), "svix-signature": ourSig }),
    ).not.toThrow();
  });
});
