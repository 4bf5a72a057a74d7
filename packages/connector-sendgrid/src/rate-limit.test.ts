import { describe, expect, it } from "vitest";
import {
  DEFAULT_WAIT_MS,
  headerValue,
  MAX_HINT_MS,
  readRateLimit,
  resetDelayMs,
  retryAfterMs,
  waitAfter,
} from "./rate-limit.ts";

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

  it("Retry-After as seconds or HTTP date", () => {
    expect(retryAfterMs("2", NOW)).toBe(2_000);
    expect(retryAfterMs(new Date(NOW + 3_000).toUTCString(), NOW)).toBe(3_000);
    expect(retryAfterMs("later", NOW)).toBeUndefined();
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
    expect(waitAfter(429, {}, NOW)).toBe(DEFAULT_WAIT_MS);
  });

  it("reads headers case-insensitively, from plain objects and from Headers-like objects", () => {
    expect(headerValue({ "x-ratelimit-remaining": "3" }, "X-RateLimit-Remaining")).toBe("3");
    expect(headerValue(new Headers({ "X-RateLimit-Reset": "9" }), "x-ratelimit-reset")).toBe("9");
    expect(headerValue({ "x-a": ["1", "2"] }, "x-a")).toBe("1");
    expect(headerValue(undefined, "x-a")).toBeUndefined();
    expect(readRateLimit({ "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "3" }, NOW)).toEqual({
      remaining: 2,
      resetInMs: 3_000,
    });
  });
});
