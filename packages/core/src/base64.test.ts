import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64, isCanonicalBase64 } from "./base64.ts";

const STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("");
const ANY = [...STANDARD, "-", "_"];
// Texts the Node entry lets through to Buffer: its alphabet, at most two "=" at the end, not 4n+1 long.
const base64Text = (chars: string[]) =>
  fc
    .tuple(fc.array(fc.constantFrom(...chars), { maxLength: 80 }), fc.integer({ min: 0, max: 2 }))
    .map(([body, pad]) => body.join("") + "=".repeat(pad))
    .filter((text) => text.length % 4 !== 1);

describe("base64 codec", () => {
  it("encodes exactly like Buffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(encodeBase64(bytes)).toBe(Buffer.from(bytes).toString("base64"));
      }),
    );
  });

  it("decodes what Buffer decodes to the same bytes (standard and URL-safe alphabets, lax padding)", () => {
    for (const [chars, alphabet] of [
      [STANDARD, "standard"],
      [ANY, "any"],
    ] as const) {
      fc.assert(
        fc.property(base64Text([...chars]), (text) => {
          expect(decodeBase64(text, alphabet)).toEqual(new Uint8Array(Buffer.from(text, "base64")));
        }),
        { numRuns: 500 },
      );
    }
  });

  it("round-trips", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(decodeBase64(encodeBase64(bytes))).toEqual(bytes);
      }),
    );
  });

  it.each([
    ["another character", "AB!D"],
    ["a URL-safe character in the standard alphabet", "AB-D"],
    ["= in the middle", "AB=DABCD"],
    ["three =", "A==="],
    ["4n+1 characters", "ABCDE"],
    ["whitespace", "AB CD"],
    ["a non-ASCII character", "ABCé"],
  ])("refuses %s", (_, text) => {
    expect(decodeBase64(text, "standard")).toBeUndefined();
  });

  it("calls canonical exactly the texts that re-encode to themselves", () => {
    const canonicalByDefinition = (text: string) => {
      const bytes = decodeBase64(text, "standard");
      return bytes !== undefined && encodeBase64(bytes) === text;
    };
    // Any lengths, padding, URL-safe and stray characters: most are not canonical.
    const anyText = fc
      .tuple(
        fc.array(fc.constantFrom(...ANY, "=", " ", "!"), { maxLength: 48 }),
        fc.integer({ min: 0, max: 3 }),
      )
      .map(([body, pad]) => body.join("") + "=".repeat(pad));
    fc.assert(
      fc.property(anyText, (text) => {
        expect(isCanonicalBase64(text)).toBe(canonicalByDefinition(text));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(isCanonicalBase64(encodeBase64(bytes))).toBe(true);
      }),
    );
  });

  it.each([
    ["non-zero padding bits before one =", "AAB="],
    ["non-zero padding bits before two =", "AB=="],
    ["missing padding", "AAA"],
    ["extra padding", "AAAA===="],
  ])("does not call canonical %s", (_, text) => {
    expect(isCanonicalBase64(text)).toBe(false);
  });

  it("accepts URL-safe characters only when asked", () => {
    expect(decodeBase64("-_-_", "any")).toEqual(new Uint8Array([0xfb, 0xff, 0xbf]));
    expect(decodeBase64("-_-_", "standard")).toBeUndefined();
  });
});
