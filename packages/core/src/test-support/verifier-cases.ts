import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { InvalidSecretError, WebhookVerificationError } from "../errors.ts";
import type { HeadersLike, VerifiedWebhook, VerifierOptions, WebhookBody } from "../signature-rules.ts";
import { createVerifier, signWebhook } from "../verify.ts";
import { createWebVerifier, signWebhookAsync } from "../web/verify.ts";

/**
 * The cases both verifiers must pass, since they are built on the same rules (signature-rules.ts):
 * the Node one (`createVerifier`, synchronous) and the Web Crypto one (`createWebVerifier`, async).
 * Each test file registers them for its verifier with {@link describeVerifierCases}; cases only one
 * verifier has stay in that verifier's test file.
 */

/** A verifier seen through a promise-returning interface, whichever entry it comes from. */
export interface VerifierUnderTest {
  verify(body: WebhookBody, headers: HeadersLike): Promise<VerifiedWebhook>;
  verifyRequest(request: Request): Promise<{ webhook: VerifiedWebhook; body: Uint8Array }>;
}

export interface VerifierAdapter {
  readonly name: "node" | "web";
  /** Creates the verifier; a bad option throws here, synchronously, for both entries. */
  create(options: VerifierOptions): VerifierUnderTest;
  sign(secret: string, id: string, timestamp: number, body: WebhookBody): Promise<string>;
}

/**
 * A synchronous call as a promise: its value resolves it, its throw rejects it. A thenable result
 * rejects with an error no test expects, so the Node API is also checked to be synchronous.
 */
function settled<T>(call: () => T): Promise<T> {
  let value: T;
  try {
    value = call();
  } catch (error) {
    return Promise.reject(error);
  }
  if (typeof (value as { then?: unknown } | null)?.then === "function") {
    return Promise.reject(new Error("the Node entry returned a promise; it must be synchronous"));
  }
  return Promise.resolve(value);
}

export const nodeVerifier: VerifierAdapter = {
  name: "node",
  create(options) {
    const verifier = createVerifier(options);
    return {
      verify: (body, headers) => settled(() => verifier.verify(body, headers)),
      verifyRequest: (request) => verifier.verifyRequest(request),
    };
  },
  sign: (secret, id, timestamp, body) => settled(() => signWebhook(secret, id, timestamp, body)),
};

/** Passed through as is: a synchronous throw from the web entry fails the test that made the call. */
export const webVerifier: VerifierAdapter = {
  name: "web",
  create: (options) => createWebVerifier(options),
  sign: (secret, id, timestamp, body) => signWebhookAsync(secret, id, timestamp, body),
};

// The official vectors every Svix library tests (shared/reference/engage-webhooks.md).
export const V1 = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
export const V2 = {
  secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
  id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
  timestamp: 1649367553,
  body: '{"email":"test@example.com","username":"test_user"}',
  signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
};
export type Vector = typeof V1;
export type Over = Partial<{ id: string; timestamp: string; signature: string }>;

export const at = (seconds: number) => () => seconds * 1000;
export const headers = (v: Vector, over: Over = {}) => ({
  "svix-id": over.id ?? v.id,
  "svix-timestamp": over.timestamp ?? String(v.timestamp),
  "svix-signature": over.signature ?? v.signature,
});

/** svix-* headers for a message signed here. */
const svixHeaders = (id: string, timestamp: number | string, signature: string) => ({
  "svix-id": id,
  "svix-timestamp": String(timestamp),
  "svix-signature": signature,
});

/** The failure reason of a verification, or "passed". */
export async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason;
    throw error;
  }
  return "passed";
}

/** The signature of `${id}.${timestampText}.${body}`, computed directly with node:crypto. */
export function hmacSignature(secret: string, id: string, timestampText: string, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampText}.${body}`).digest("base64")}`;
}

const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function describeVerifierCases(adapter: VerifierAdapter): void {
  const create = (options: VerifierOptions) => adapter.create(options);
  const verifierFor = (v: Vector, extra: Partial<VerifierOptions> = {}) =>
    create({ secrets: [v.secret], now: at(v.timestamp), ...extra });

  describe("official vectors", () => {
    for (const v of [V1, V2]) {
      it(`verifies ${v.id} from a string, a Uint8Array and an ArrayBuffer`, async () => {
        const bytes = new TextEncoder().encode(v.body);
        const expected = { id: v.id, timestamp: v.timestamp, brand: "svix" };
        await expect(verifierFor(v).verify(v.body, headers(v))).resolves.toEqual(expected);
        await expect(verifierFor(v).verify(bytes, headers(v))).resolves.toEqual(expected);
        await expect(verifierFor(v).verify(bytes.slice().buffer, headers(v))).resolves.toEqual(expected);
      });

      it(`verifies ${v.id} from a Buffer body`, async () => {
        await expect(verifierFor(v).verify(Buffer.from(v.body), headers(v))).resolves.toEqual({
          id: v.id,
          timestamp: v.timestamp,
          brand: "svix",
        });
      });

      it("refuses a body that is neither text nor bytes", async () => {
        const notABody = new DataView(new ArrayBuffer(4)) as unknown as Uint8Array;
        await expect(verifierFor(v).verify(notABody, headers(v))).rejects.toThrow(TypeError);
      });

      it(`verifies ${v.id} from a view into a larger buffer`, async () => {
        const bytes = new TextEncoder().encode(`xx${v.body}yy`);
        await expect(verifierFor(v).verify(bytes.subarray(2, bytes.length - 2), headers(v))).resolves.toEqual(
          {
            id: v.id,
            timestamp: v.timestamp,
            brand: "svix",
          },
        );
      });

      it(`signs ${v.id} exactly like the vector`, async () => {
        await expect(adapter.sign(v.secret, v.id, v.timestamp, v.body)).resolves.toBe(v.signature);
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
      const verifier = (offset: number) => create({ secrets: [v.secret], now: at(v.timestamp + offset) });
      expect(await reasonOf(verifier(301).verify(v.body, headers(v)))).toBe("timestamp_too_old");
      expect(await reasonOf(verifier(-301).verify(v.body, headers(v)))).toBe("timestamp_too_new");
      expect(await reasonOf(verifier(300).verify(v.body, headers(v)))).toBe("passed");
      expect(await reasonOf(verifier(-300).verify(v.body, headers(v)))).toBe("passed");
    });

    it("checks the timestamp before the signature, so a stale replay fails as stale", async () => {
      const late = create({ secrets: [v.secret], now: at(v.timestamp + 3600) });
      expect(await reasonOf(late.verify(v.body, headers(v)))).toBe("timestamp_too_old");
    });

    it("honours a configured tolerance", async () => {
      const wide = create({ secrets: [v.secret], toleranceSeconds: 600, now: at(v.timestamp + 599) });
      expect(await reasonOf(wide.verify(v.body, headers(v)))).toBe("passed");
      const narrow = create({ secrets: [v.secret], toleranceSeconds: 10, now: at(v.timestamp + 11) });
      expect(await reasonOf(narrow.verify(v.body, headers(v)))).toBe("timestamp_too_old");
    });

    it("rejects missing headers with a reason", async () => {
      const { "svix-id": _, ...noId } = headers(v);
      expect(await reasonOf(verifierFor(v).verify(v.body, noId))).toBe("missing_headers");
      expect(await reasonOf(verifierFor(v).verify(v.body, {}))).toBe("missing_headers");
    });

    it("rejects a body changed by one byte", async () => {
      expect(await reasonOf(verifierFor(v).verify(`${v.body} `, headers(v)))).toBe("no_matching_signature");
    });

    it("does not let a secret from another source verify", async () => {
      expect(await reasonOf(verifierFor(v, { secrets: [V2.secret] }).verify(v.body, headers(v)))).toBe(
        "no_matching_signature",
      );
    });
  });

  describe("non-canonical base64 signatures", () => {
    const v = V1;
    const sig = v.signature.slice(3);
    // 32 bytes = 43 characters + "=": the last character carries 2 padding bits, which must be zero.
    const last = sig.at(-2) ?? "";
    const setBits = BASE64_ALPHABET.indexOf(last) | 1;
    const variant = `${sig.slice(0, -2)}${BASE64_ALPHABET[setBits]}=`;

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
      const bare = create({ secrets: [v.secret.slice(6)], now: at(v.timestamp) });
      expect(await reasonOf(bare.verify(v.body, headers(v)))).toBe("passed");
    });

    it("reads mixed-case header names, array values and Fetch Headers", async () => {
      const mixed = { "Svix-Id": v.id, "SVIX-TIMESTAMP": String(v.timestamp), "svix-Signature": v.signature };
      expect(await reasonOf(verifierFor(v).verify(v.body, mixed))).toBe("passed");
      const split = { ...headers(v), "svix-signature": ["v1,bm90IGEgc2lnbmF0dXJl", v.signature] };
      expect(await reasonOf(verifierFor(v).verify(v.body, split))).toBe("passed");
      expect(await reasonOf(verifierFor(v).verify(v.body, new Headers(headers(v))))).toBe("passed");
    });

    it("verifies the timestamp header as written: leading zeros are allowed and part of the content", async () => {
      const now = 1_700_000_000;
      for (const text of ["01700000000", "001700000000"]) {
        const signature = hmacSignature(v.secret, "msg_zero", text, v.body);
        const verifier = create({ secrets: [v.secret], now: at(now) });
        const ok = svixHeaders("msg_zero", text, signature);
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
      new Request("https://example.test/webhooks/engage", {
        method: "POST",
        headers: headers(v, over),
        body,
      });

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
      const late = create({ secrets: [v.secret], now: at(v.timestamp + 301) });
      expect(await reasonOf(late.verifyRequest(request()))).toBe("timestamp_too_old");
    });
  });

  describe("rotation", () => {
    it("accepts a message signed with either of two configured secrets", async () => {
      const verifier = create({ secrets: [V2.secret, V1.secret], now: at(V1.timestamp) });
      expect(await reasonOf(verifier.verify(V1.body, headers(V1)))).toBe("passed");
    });

    it("accepts a header carrying old and new signatures during a rotation", async () => {
      const now = 1_700_000_000;
      const body = '{"eventType":"loyalty.addPoints"}';
      const oldSig = await adapter.sign(V1.secret, "msg_rot", now, body);
      const newSig = await adapter.sign(V2.secret, "msg_rot", now, body);
      const signature = `${oldSig} ${newSig}`;
      for (const secrets of [[V1.secret], [V2.secret], [V1.secret, V2.secret]]) {
        const verifier = create({ secrets, now: at(now) });
        const result = await verifier.verify(body, svixHeaders("msg_rot", now, signature));
        expect(result.id).toBe("msg_rot");
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
      it(`verifies a valid signature over ${name}`, async () => {
        const signature = await adapter.sign(V1.secret, "msg_raw", now, body);
        const verifier = create({ secrets: [V1.secret], now: at(now) });
        const result = await verifier.verify(body, svixHeaders("msg_raw", now, signature));
        expect(result.id).toBe("msg_raw");
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
      ["URL-safe base64", `whsec_${Buffer.alloc(30, 0xfb).toString("base64url")}`],
    ])("refuses a secret that is %s when the verifier is created", (_, secret) => {
      expect(() => create({ secrets: [secret] })).toThrow(InvalidSecretError);
      expect(() => create({ secrets: [secret] })).toThrow(/signing secret #1/);
    });

    it("names the position of the bad secret, never its value", () => {
      const bad = `whsec_${Buffer.alloc(8, 1).toString("base64")}`;
      try {
        create({ secrets: [V1.secret, bad] });
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
      expect(() => create({ secrets: [] })).toThrow(InvalidSecretError);
      expect(() => create({ secrets: [V1.secret], toleranceSeconds: -1 })).toThrow(RangeError);
      expect(() => create({ secrets: [V1.secret], toleranceSeconds: 1.5 })).toThrow(RangeError);
      expect(() => create({ secrets: [V1.secret], toleranceSeconds: null as unknown as number })).toThrow(
        RangeError,
      );
    });

    it("accepts a 24-byte secret, and unpadded base64", async () => {
      const unpadded = `whsec_${Buffer.alloc(25, 3).toString("base64").replace(/=+$/, "")}`;
      for (const secret of [`whsec_${Buffer.alloc(24, 3).toString("base64")}`, unpadded]) {
        const body = "x";
        const signature = await adapter.sign(secret, "msg_s", 1_700_000_000, body);
        expect(signature).toBe(hmacSignature(secret, "msg_s", "1700000000", body));
        const verifier = create({ secrets: [secret], now: at(1_700_000_000) });
        const result = verifier.verify(body, svixHeaders("msg_s", "1700000000", signature));
        await expect(result).resolves.toMatchObject({ id: "msg_s" });
      }
    });
  });
}
