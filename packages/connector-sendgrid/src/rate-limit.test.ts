import { describe, expect, it } from "vitest";
import { DEFAULT_WAIT_MS, MAX_HINT_MS, readRateLimit, resetDelayMs, waitAfter } from "./rate-limit.ts";

const NOW = 1_800_000_000_000; // 2027-01-15, in ms

describe("X-RateLimit-Reset", () => {
  it("reads a value above 1e9 as a Unix time in seconds", () => {
    expect(resetDelayMs("1800000005", NOW)).toBe(5_000);
    expect(resetDelayMs(" 1800000000 ", NOW)).toBe(0);
  });

  it("reads a smaller value as seconds from now", () => {
    expect(resetDelayMs("5", NOW)).toBe(5_000);
    expect(resetDelayMs("0", NOW)).toBe(0);
    expect(resetDelayMs("1.5", NOW)).toBe(1_500);
    expect(resetDelayMs("1000000000", NOW)).toBe(MAX_HINT_MS); // exactly 1e9 is not above it
  });

  it("never answers a negative or absurd wait, and ignores junk", () => {
    expect(resetDelayMs("1700000000", NOW)).toBe(0); // a reset in the past
    expect(resetDelayMs("999999999", NOW)).toBe(MAX_HINT_MS);
    expect(resetDelayMs(undefined, NOW)).toBeUndefined();
    expect(resetDelayMs("soon", NOW)).toBeUndefined();
    expect(resetDelayMs("-3", NOW)).toBeUndefined();
  });
});

describe("waitAfter", () => {
  const headers = (remaining: string, reset: string) => ({
    "X-RateLimit-Limit": "600",
    "X-RateLimit-Remaining": remaining,
    "X-RateLimit-Reset": reset,
  });

  it("is 0 while requests remain", () => {
    expect(waitAfter(201, headers("10", "1800000030"), NOW)).toBe(0);
    expect(waitAfter(204, {}, NOW)).toBe(0);
  });

  it("waits for the reset when none remain, in both readings", () => {
    expect(waitAfter(204, headers("0", "1800000030"), NOW)).toBe(30_000);
    expect(waitAfter(204, headers("0", "30"), NOW)).toBe(30_000);
    expect(waitAfter(204, headers("0", "0"), NOW)).toBe(DEFAULT_WAIT_MS);
    expect(waitAfter(204, { "x-ratelimit-remaining": "0" }, NOW)).toBe(DEFAULT_WAIT_MS);
  });

  it("waits for the reset after a 429, or Retry-After, or a default", () => {
    expect(waitAfter(429, headers("0", "1800000007"), NOW)).toBe(7_000);
    expect(waitAfter(429, headers("0", "7"), NOW)).toBe(7_000);
    expect(waitAfter(429, { "retry-after": "4" }, NOW)).toBe(4_000);
    expect(waitAfter(429, { "retry-after": new Date(NOW + 3_000).toUTCString() }, NOW)).toBe(3_000);
    expect(waitAfter(429, { "retry-after": "later" }, NOW)).toBe(DEFAULT_WAIT_MS);
    expect(waitAfter(429, {}, NOW)).toBe(DEFAULT_WAIT_MS);
  });

  it("after a 429 with both, waits for the later of the reset and Retry-After", () => {
    // A reset rounded to whole epoch seconds can fall a little before what Retry-After asks.
    expect(waitAfter(429, { ...headers("0", "1800000006.5"), "Retry-After": "7" }, NOW)).toBe(7_000);
    expect(waitAfter(429, { ...headers("0", "1800000009"), "Retry-After": "7" }, NOW)).toBe(9_000);
    expect(waitAfter(429, { ...headers("0", "1700000000"), "Retry-After": "0" }, NOW)).toBe(DEFAULT_WAIT_MS);
    expect(waitAfter(429, { "Retry-After": "999999" }, NOW)).toBe(MAX_HINT_MS);
  });

  it("reads headers case-insensitively, from plain objects, from Headers and from AxiosHeaders-like objects", () => {
    expect(readRateLimit({ "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "3" }, NOW)).toEqual({
      remaining: 2,
      resetInMs: 3_000,
    });
    expect(
      readRateLimit(new Headers({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "9" }), NOW),
    ).toEqual({ remaining: 0, resetInMs: 9_000 });
    const axiosLike = { get: (name: string) => (name === "x-ratelimit-remaining" ? 4 : undefined) };
    expect(readRateLimit(axiosLike, NOW)).toEqual({ remaining: 4, resetInMs: undefined });
    expect(readRateLimit({ "x-ratelimit-remaining": ["1", "2"] }, NOW).remaining).toBe(1);
    expect(readRateLimit(undefined, NOW)).toEqual({ remaining: undefined, resetInMs: undefined });
  });
});
