import { Webhook } from "svix";
import { describe, expect, it } from "vitest";
import { createVerifier, InvalidSecretError, signWebhook, WebhookVerificationError } from "./verify.ts";

// The official vectors every Svix library tests (shared/reference/engage-webhooks.md).
const V1 = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const V2 = {
  secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
  id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
  timestamp: 1649367553,
  body: '{"email":"test@example.com","username":"test_user"}',
  signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
};
type Vector = typeof V1;

const at = (seconds: number) => () => seconds * 1000;
const headers = (v: Vector, over: Partial<{ id: string; timestamp: string; signature: string }> = {}) => ({
  "svix-id": over.id ?? v.id,
  "svix-timestamp": over.timestamp ?? String(v.timestamp),
  "svix-signature": over.signature ?? v.signature,
});
const verifierFor = (v: Vector, extra: Partial<Parameters<typeof createVerifier>[0]> = {}) =>
  createVerifier({ secrets: [v.secret], now: at(v.timestamp), ...extra });

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason;
    throw error;
  }
  return "passed";
}

describe("official vectors", () => {
  for (const v of [V1, V2]) {
    it(`verifies ${v.id}`, () => {
      expect(verifierFor(v).verify(v.body, headers(v))).toEqual({
        id: v.id,
        timestamp: v.timestamp,
        brand: "svix",
      });
    });
    it(`verifies ${v.id} from a Buffer body`, () => {
      expect(verifierFor(v).verify(Buffer.from(v.body), headers(v)).id).toBe(v.id);
    });
    it(`signs ${v.id} exactly like the vector`, () => {
      expect(signWebhook(v.secret, v.id, v.timestamp, v.body)).toBe(v.signature);
    });
  }
});

describe("must fail", () => {
  const v = V1;
  const sig = v.signature.slice(3);
  const oneOff = sig[0] === "A" ? `B${sig.slice(1)}` : `A${sig.slice(1)}`;
  const cases: [string, Partial<{ id: string; timestamp: string; signature: string }>, string][] = [
    ["a signature one character off", { signature: `v1,${oneOff}` }, "no_matching_signature"],
    [
      "the first 8 characters of a valid entry",
      { signature: v.signature.slice(0, 8) },
      "no_matching_signature",
    ],
    [
      "the first 8 characters of the signature",
      { signature: `v1,${sig.slice(0, 8)}` },
      "no_matching_signature",
    ],
    ["a bare v1,", { signature: "v1," }, "no_matching_signature"],
    ["only other versions", { signature: `v1a,${sig} v2,${sig}` }, "no_matching_signature"],
    ["a timestamp of hello", { timestamp: "hello" }, "malformed_timestamp"],
    ["a timestamp with trailing junk", { timestamp: `${v.timestamp}abc` }, "malformed_timestamp"],
    ["a fractional timestamp", { timestamp: `${v.timestamp}.5` }, "malformed_timestamp"],
    ["a negative timestamp", { timestamp: `-${v.timestamp}` }, "malformed_timestamp"],
    ["a timestamp with spaces", { timestamp: ` ${v.timestamp}` }, "malformed_timestamp"],
    ["another message id", { id: "msg_other" }, "no_matching_signature"],
    ["an empty signature header", { signature: "" }, "missing_headers"],
  ];
  for (const [name, over, reason] of cases) {
    it(`rejects ${name}`, () => {
      expect(reasonOf(() => verifierFor(v).verify(v.body, headers(v, over)))).toBe(reason);
    });
  }

  it("rejects timestamps 301 s old or 301 s ahead, accepts 300 s both ways", () => {
    const verifier = (offset: number) =>
      createVerifier({ secrets: [v.secret], now: at(v.timestamp + offset) });
    expect(reasonOf(() => verifier(301).verify(v.body, headers(v)))).toBe("timestamp_too_old");
    expect(reasonOf(() => verifier(-301).verify(v.body, headers(v)))).toBe("timestamp_too_new");
    expect(reasonOf(() => verifier(300).verify(v.body, headers(v)))).toBe("passed");
    expect(reasonOf(() => verifier(-300).verify(v.body, headers(v)))).toBe("passed");
  });

  it("checks the timestamp before the signature, so a stale replay fails as stale", () => {
    const late = createVerifier({ secrets: [v.secret], now: at(v.timestamp + 3600) });
    expect(reasonOf(() => late.verify(v.body, headers(v)))).toBe("timestamp_too_old");
  });

  it("honours a configured tolerance", () => {
    const wide = createVerifier({ secrets: [v.secret], toleranceSeconds: 600, now: at(v.timestamp + 599) });
    expect(reasonOf(() => wide.verify(v.body, headers(v)))).toBe("passed");
    const narrow = createVerifier({ secrets: [v.secret], toleranceSeconds: 10, now: at(v.timestamp + 11) });
    expect(reasonOf(() => narrow.verify(v.body, headers(v)))).toBe("timestamp_too_old");
  });

  it("rejects missing headers with a reason", () => {
    const { "svix-id": _, ...noId } = headers(v);
    expect(reasonOf(() => verifierFor(v).verify(v.body, noId))).toBe("missing_headers");
    expect(reasonOf(() => verifierFor(v).verify(v.body, {}))).toBe("missing_headers");
  });

  it("rejects a body changed by one byte", () => {
    expect(reasonOf(() => verifierFor(v).verify(`${v.body} `, headers(v)))).toBe("no_matching_signature");
  });

  it("does not let a secret from another source verify", () => {
    expect(reasonOf(() => verifierFor(v, { secrets: [V2.secret] }).verify(v.body, headers(v)))).toBe(
      "no_matching_signature",
    );
  });
});

describe("must pass", () => {
  const v = V1;
  it("finds the valid entry among bogus v1 and v2 entries", () => {
    const signature = `v1,${"A".repeat(43)}= v2,${v.signature.slice(3)} ${v.signature} v1,bm90IGEgc2lnbmF0dXJl v1a,xyz`;
    expect(reasonOf(() => verifierFor(v).verify(v.body, headers(v, { signature })))).toBe("passed");
  });

  it("accepts the webhook-* header brand", () => {
    const result = verifierFor(v).verify(v.body, {
      "webhook-id": v.id,
      "webhook-timestamp": String(v.timestamp),
      "webhook-signature": v.signature,
    });
    expect(result).toEqual({ id: v.id, timestamp: v.timestamp, brand: "webhook" });
  });

  it("accepts the secret without its whsec_ prefix", () => {
    const bare = createVerifier({ secrets: [v.secret.slice(6)], now: at(v.timestamp) });
    expect(reasonOf(() => bare.verify(v.body, headers(v)))).toBe("passed");
  });

  it("reads mixed-case header names and Fetch Headers", () => {
    const mixed = { "Svix-Id": v.id, "SVIX-TIMESTAMP": String(v.timestamp), "svix-Signature": v.signature };
    expect(reasonOf(() => verifierFor(v).verify(v.body, mixed))).toBe("passed");
    expect(reasonOf(() => verifierFor(v).verify(v.body, new Headers(headers(v))))).toBe("passed");
  });
});

describe("rotation", () => {
  it("accepts a message signed with either of two configured secrets", () => {
    const verifier = createVerifier({ secrets: [V2.secret, V1.secret], now: at(V1.timestamp) });
    expect(reasonOf(() => verifier.verify(V1.body, headers(V1)))).toBe("passed");
  });

  it("accepts a header carrying old and new signatures during a rotation", () => {
    const now = 1_700_000_000;
    const body = '{"eventType":"loyalty.addPoints"}';
    const oldSig = signWebhook(V1.secret, "msg_rot", now, body);
    const newSig = signWebhook(V2.secret, "msg_rot", now, body);
    const signature = `${oldSig} ${newSig}`;
    for (const secrets of [[V1.secret], [V2.secret], [V1.secret, V2.secret]]) {
      const verifier = createVerifier({ secrets, now: at(now) });
      expect(
        verifier.verify(body, {
          "svix-id": "msg_rot",
          "svix-timestamp": String(now),
          "svix-signature": signature,
        }).id,
      ).toBe("msg_rot");
    }
  });
});

describe("bodies that are not JSON", () => {
  const now = 1_700_000_000;
  for (const [name, body] of [
    ["an empty body", ""],
    ["plain text", "not json at all"],
    ["binary bytes", Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x7b])],
  ] as const) {
    it(`verifies a valid signature over ${name}`, () => {
      const signature = signWebhook(V1.secret, "msg_raw", now, body);
      const verifier = createVerifier({ secrets: [V1.secret], now: at(now) });
      expect(
        verifier.verify(body, {
          "svix-id": "msg_raw",
          "svix-timestamp": String(now),
          "svix-signature": signature,
        }).id,
      ).toBe("msg_raw");
    });
  }
});

describe("secrets", () => {
  it.each([
    ["empty", ""],
    ["just the prefix", "whsec_"],
    ["16 bytes", `whsec_${Buffer.alloc(16, 7).toString("base64")}`],
    ["23 bytes", `whsec_${Buffer.alloc(23, 7).toString("base64")}`],
    ["not base64", "whsec_this is not base64 at all!!!!!!!!"],
  ])("refuses a secret that is %s when the verifier is created", (_, secret) => {
    expect(() => createVerifier({ secrets: [secret] })).toThrow(InvalidSecretError);
  });

  it("names the position of the bad secret, never its value", () => {
    const bad = `whsec_${Buffer.alloc(8, 1).toString("base64")}`;
    try {
      createVerifier({ secrets: [V1.secret, bad] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidSecretError);
      expect((error as InvalidSecretError).index).toBe(1);
      expect((error as Error).message).toContain("#2");
      expect((error as Error).message).not.toContain(bad.slice(6));
    }
  });

  it("refuses an empty list", () => {
    expect(() => createVerifier({ secrets: [] })).toThrow(InvalidSecretError);
  });

  it("accepts a 24-byte secret", () => {
    expect(() =>
      createVerifier({ secrets: [`whsec_${Buffer.alloc(24, 3).toString("base64")}`] }),
    ).not.toThrow();
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
