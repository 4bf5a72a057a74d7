import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidSecretError, WebhookVerificationError } from "../errors.ts";
import { createVerifier, signWebhook } from "../verify.ts";
import { createWebVerifier, signWebhookAsync, type WebVerifierOptions } from "./verify.ts";

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
type Over = Partial<{ id: string; timestamp: string; signature: string }>;

const at = (seconds: number) => () => seconds * 1000;
const headers = (v: Vector, over: Over = {}) => ({
  "svix-id": over.id ?? v.id,
  "svix-timestamp": over.timestamp ?? String(v.timestamp),
  "svix-signature": over.signature ?? v.signature,
});
const verifierFor = (v: Vector, extra: Partial<WebVerifierOptions> = {}) =>
  createWebVerifier({ secrets: [v.secret], now: at(v.timestamp), ...extra });

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason;
    throw error;
  }
  return "passed";
}

describe("official vectors", () => {
  for (const v of [V1, V2]) {
    it(`verifies ${v.id} from a string, a Uint8Array and an ArrayBuffer`, async () => {
      const bytes = new TextEncoder().encode(v.body);
      const expected = { id: v.id, timestamp: v.timestamp, brand: "svix" };
      await expect(verifierFor(v).verify(v.body, headers(v))).resolves.toEqual(expected);
      await expect(verifierFor(v).verify(bytes, headers(v))).resolves.toEqual(expected);
      await expect(verifierFor(v).verify(bytes.slice().buffer, headers(v))).resolves.toEqual(expected);
    });

    it(`refuses a body that is neither text nor bytes, as the Node verifier does`, async () => {
      const notABody = new DataView(new ArrayBuffer(4)) as unknown as Uint8Array;
      await expect(verifierFor(v).verify(notABody, headers(v))).rejects.toThrow(TypeError);
      expect(() =>
        createVerifier({ secrets: [v.secret], now: at(v.timestamp) }).verify(notABody, headers(v)),
      ).toThrow(TypeError);
    });

    it(`verifies ${v.id} from a view into a larger buffer`, async () => {
      const bytes = new TextEncoder().encode(`xx${v.body}yy`);
      await expect(verifierFor(v).verify(bytes.subarray(2, bytes.length - 2), headers(v))).resolves.toEqual({
        id: v.id,
        timestamp: v.timestamp,
        brand: "svix",
      });
    });

    it(`signs ${v.id} exactly like the vector`, async () => {
      await expect(signWebhookAsync(v.secret, v.id, v.timestamp, v.body)).resolves.toBe(v.signature);
    });
  }
});

describe("must fail", () => {
  const v = V1;
  const sig = v.signature.slice(3);
  const oneOff = sig[0] === "A" ? `B${sig.slice(1)}` : `A${sig.slice(1)}`;
  const cases: [string, Over, string][] = [
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
    it(`rejects ${name}`, async () => {
      expect(await reasonOf(verifierFor(v).verify(v.body, headers(v, over)))).toBe(reason);
    });
  }

  it("rejects timestamps 301 s old or 301 s ahead, accepts 300 s both ways", async () => {
    const verifier = (offset: number) =>
      createWebVerifier({ secrets: [v.secret], now: at(v.timestamp + offset) });
    expect(await reasonOf(verifier(301).verify(v.body, headers(v)))).toBe("timestamp_too_old");
    expect(await reasonOf(verifier(-301).verify(v.body, headers(v)))).toBe("timestamp_too_new");
    expect(await reasonOf(verifier(300).verify(v.body, headers(v)))).toBe("passed");
    expect(await reasonOf(verifier(-300).verify(v.body, headers(v)))).toBe("passed");
  });

  it("honours a configured tolerance", async () => {
    const wide = createWebVerifier({
      secrets: [v.secret],
      toleranceSeconds: 600,
      now: at(v.timestamp + 599),
    });
    expect(await reasonOf(wide.verify(v.body, headers(v)))).toBe("passed");
    const narrow = createWebVerifier({
      secrets: [v.secret],
      toleranceSeconds: 10,
      now: at(v.timestamp + 11),
    });
    expect(await reasonOf(narrow.verify(v.body, headers(v)))).toBe("timestamp_too_old");
  });

  it("rejects missing headers with a reason", async () => {
    const { "svix-id": _, ...noId } = headers(v);
    expect(await reasonOf(verifierFor(v).verify(v.body, noId))).toBe("missing_headers");
    expect(await reasonOf(verifierFor(v).verify(v.body, {}))).toBe("missing_headers");
  });

  it("rejects a body changed by one byte, and a secret from another source", async () => {
    expect(await reasonOf(verifierFor(v).verify(`${v.body} `, headers(v)))).toBe("no_matching_signature");
    expect(await reasonOf(verifierFor(v, { secrets: [V2.secret] }).verify(v.body, headers(v)))).toBe(
      "no_matching_signature",
    );
  });

  it("fails by rejecting the promise, never by throwing synchronously", () => {
    const result = verifierFor(v).verify(v.body, {});
    expect(result).toBeInstanceOf(Promise);
    return expect(result).rejects.toThrow(WebhookVerificationError);
  });
});

describe("non-canonical base64 signatures", () => {
  const v = V1;
  const sig = v.signature.slice(3);
  // 32 bytes = 43 characters + "=": the last character carries 2 padding bits, which must be zero.
  const last = sig.at(-2) ?? "";
  const setBits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".indexOf(last) | 1;
  const variant = `${sig.slice(0, -2)}${"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[setBits]}=`;

  it("the variant decodes to the same bytes (so only the text differs)", () => {
    expect(variant).not.toBe(sig);
    expect(Buffer.from(variant, "base64")).toEqual(Buffer.from(sig, "base64"));
  });

  it.each([
    ["padding bits set", variant],
    ["no padding", sig.slice(0, -1)],
  ])("rejects the same bytes written with %s", async (_, text) => {
    expect(await reasonOf(verifierFor(v).verify(v.body, headers(v, { signature: `v1,${text}` })))).toBe(
      "no_matching_signature",
    );
  });

  it("still finds the canonical entry after a non-canonical one", async () => {
    const signature = `v1,${variant} ${v.signature}`;
    expect(await reasonOf(verifierFor(v).verify(v.body, headers(v, { signature })))).toBe("passed");
  });
});

describe("must pass", () => {
  const v = V1;
  it("finds the valid entry among bogus v1 and v2 entries", async () => {
    const signature = `v1,${"A".repeat(43)}= v2,${v.signature.slice(3)} ${v.signature} v1,bm90IGEgc2lnbmF0dXJl v1a,xyz`;
    expect(await reasonOf(verifierFor(v).verify(v.body, headers(v, { signature })))).toBe("passed");
  });

  it("accepts the webhook-* header brand", async () => {
    const result = await verifierFor(v).verify(v.body, {
      "webhook-id": v.id,
      "webhook-timestamp": String(v.timestamp),
      "webhook-signature": v.signature,
    });
    expect(result).toEqual({ id: v.id, timestamp: v.timestamp, brand: "webhook" });
  });

  it("accepts the secret without its whsec_ prefix", async () => {
    const bare = createWebVerifier({ secrets: [v.secret.slice(6)], now: at(v.timestamp) });
    expect(await reasonOf(bare.verify(v.body, headers(v)))).toBe("passed");
  });

  it("reads mixed-case header names, array values and Fetch Headers", async () => {
    const mixed = { "Svix-Id": v.id, "SVIX-TIMESTAMP": String(v.timestamp), "svix-Signature": v.signature };
    expect(await reasonOf(verifierFor(v).verify(v.body, mixed))).toBe("passed");
    const split = { ...headers(v), "svix-signature": ["v1,bm90IGEgc2lnbmF0dXJl", v.signature] };
    expect(await reasonOf(verifierFor(v).verify(v.body, split))).toBe("passed");
    expect(await reasonOf(verifierFor(v).verify(v.body, new Headers(headers(v))))).toBe("passed");
  });

  it("signs the timestamp header as written: leading zeros are allowed and part of the content", async () => {
    const now = 1_700_000_000;
    for (const text of ["01700000000", "001700000000"]) {
      const signature = await signWebhookAsync(v.secret, "msg_zero", text, v.body);
      const key = Buffer.from(v.secret.slice(6), "base64");
      const expected = createHmac("sha256", key).update(`msg_zero.${text}.${v.body}`).digest("base64");
      expect(signature).toBe(`v1,${expected}`);
      const verifier = createWebVerifier({ secrets: [v.secret], now: at(now) });
      const ok = { "svix-id": "msg_zero", "svix-timestamp": text, "svix-signature": signature };
      await expect(verifier.verify(v.body, ok)).resolves.toEqual({
        id: "msg_zero",
        timestamp: now,
        brand: "svix",
      });
      // The same number written without its zeros is other signed content.
      expect(await reasonOf(verifier.verify(v.body, { ...ok, "svix-timestamp": String(now) }))).toBe(
        "no_matching_signature",
      );
    }
  });
});

describe("verifyRequest", () => {
  const v = V2;
  const request = (over: Over = {}, body: string = v.body) =>
    new Request("https://example.test/webhooks/engage", { method: "POST", headers: headers(v, over), body });

  it("verifies a Fetch Request and returns its raw body", async () => {
    const { webhook, body } = await verifierFor(v).verifyRequest(request());
    expect(webhook).toEqual({ id: v.id, timestamp: v.timestamp, brand: "svix" });
    expect(body).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(body)).toBe(v.body);
  });

  it("reads the body once", async () => {
    const req = request();
    await verifierFor(v).verifyRequest(req);
    expect(req.bodyUsed).toBe(true);
  });

  it("rejects a tampered body and a stale request with the same reasons as verify", async () => {
    expect(await reasonOf(verifierFor(v).verifyRequest(request({}, `${v.body} `)))).toBe(
      "no_matching_signature",
    );
    const late = createWebVerifier({ secrets: [v.secret], now: at(v.timestamp + 301) });
    expect(await reasonOf(late.verifyRequest(request()))).toBe("timestamp_too_old");
  });

  it("does not read the body of a request whose headers already fail", async () => {
    const req = request({ timestamp: "hello" });
    expect(await reasonOf(verifierFor(v).verifyRequest(req))).toBe("malformed_timestamp");
    expect(req.bodyUsed).toBe(false);
  });
});

describe("rotation", () => {
  it("accepts a message signed with either of two configured secrets", async () => {
    const verifier = createWebVerifier({ secrets: [V2.secret, V1.secret], now: at(V1.timestamp) });
    expect(await reasonOf(verifier.verify(V1.body, headers(V1)))).toBe("passed");
  });

  it("accepts a header carrying old and new signatures during a rotation", async () => {
    const now = 1_700_000_000;
    const body = '{"eventType":"loyalty.addPoints"}';
    const signature = `${await signWebhookAsync(V1.secret, "msg_rot", now, body)} ${await signWebhookAsync(V2.secret, "msg_rot", now, body)}`;
    for (const secrets of [[V1.secret], [V2.secret], [V1.secret, V2.secret]]) {
      const verifier = createWebVerifier({ secrets, now: at(now) });
      const result = await verifier.verify(body, {
        "svix-id": "msg_rot",
        "svix-timestamp": String(now),
        "svix-signature": signature,
      });
      expect(result.id).toBe("msg_rot");
    }
  });
});

describe("secrets", () => {
  it.each([
    ["empty", ""],
    ["just the prefix", "whsec_"],
    ["16 bytes", `whsec_${Buffer.alloc(16, 7).toString("base64")}`],
    ["23 bytes", `whsec_${Buffer.alloc(23, 7).toString("base64")}`],
    ["not base64", "whsec_this is not base64 at all!!!!!!!!"],
    ["URL-safe base64", `whsec_${Buffer.alloc(30, 0xfb).toString("base64url")}`],
  ])("refuses a secret that is %s when the verifier is created, like the Node verifier", (_, secret) => {
    expect(() => createWebVerifier({ secrets: [secret] })).toThrow(InvalidSecretError);
    expect(() => createVerifier({ secrets: [secret] })).toThrow(/signing secret #1/);
  });

  it("names the position of the bad secret, never its value", () => {
    const bad = `whsec_${Buffer.alloc(8, 1).toString("base64")}`;
    try {
      createWebVerifier({ secrets: [V1.secret, bad] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidSecretError);
      expect((error as InvalidSecretError).name).toBe("InvalidSecretError");
      expect((error as InvalidSecretError).index).toBe(1);
      expect((error as Error).message).toContain("#2");
      expect((error as Error).message).not.toContain(bad.slice(6));
    }
  });

  it("refuses an empty list and a bad tolerance", () => {
    expect(() => createWebVerifier({ secrets: [] })).toThrow(InvalidSecretError);
    expect(() => createWebVerifier({ secrets: [V1.secret], toleranceSeconds: -1 })).toThrow(RangeError);
    expect(() => createWebVerifier({ secrets: [V1.secret], toleranceSeconds: 1.5 })).toThrow(RangeError);
    const nullTolerance = { secrets: [V1.secret], toleranceSeconds: null as unknown as number };
    expect(() => createWebVerifier(nullTolerance)).toThrow(RangeError);
    expect(() => createVerifier(nullTolerance)).toThrow(RangeError);
  });

  it("accepts a 24-byte secret, and unpadded base64 as the Node verifier does", async () => {
    const unpadded = `whsec_${Buffer.alloc(25, 3).toString("base64").replace(/=+$/, "")}`;
    for (const secret of [`whsec_${Buffer.alloc(24, 3).toString("base64")}`, unpadded]) {
      const body = "x";
      const signature = signWebhook(secret, "msg_s", 1_700_000_000, body);
      const verifier = createWebVerifier({ secrets: [secret], now: at(1_700_000_000) });
      const result = verifier.verify(body, {
        "svix-id": "msg_s",
        "svix-timestamp": "1700000000",
        "svix-signature": signature,
      });
      await expect(result).resolves.toMatchObject({ id: "msg_s" });
    }
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
        const webError = await verifierFor(v, { now: at(v.timestamp + 5) })
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
