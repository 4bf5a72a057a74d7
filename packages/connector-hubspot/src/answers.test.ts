import { describe, expect, it } from "vitest";
import { DAILY_RETRY_MS, failureOf, LOCKED_RETRY_MS, ROLLING_RETRY_MS } from "./answers.ts";
import type { HubSpotAnswer } from "./api.ts";

/**
 * HubSpot's own rules for its answers, on answers the fake cannot send (a `Retry-After` header,
 * 423, 477); how every other status is read is core's `httpVerdict`, tested there.
 */
function answer(status: number, headers: Record<string, string> = {}, body?: unknown): HubSpotAnswer {
  return { status, headers: new Headers(headers), body, correlationId: undefined };
}

const rolling = {
  status: "error",
  message: "You have reached your ten_secondly_rolling limit.",
  policyName: "TEN_SECONDLY_ROLLING",
};
const interval = { "x-hubspot-ratelimit-interval-milliseconds": "2500" };

describe("failureOf", () => {
  it("reads nothing into a 2xx", () => {
    expect(failureOf(answer(200))).toBeUndefined();
    expect(failureOf(answer(207))).toBeUndefined();
  });

  it("429 TEN_SECONDLY_ROLLING: Retry-After (seconds or a date) first, else the interval header, else 10 s", () => {
    expect(failureOf(answer(429, { "retry-after": "7", ...interval }, rolling))).toMatchObject({
      kind: "rate-limited",
      daily: false,
      delayMs: 7_000,
      reason: "HubSpot answered 429 TEN_SECONDLY_ROLLING: You have reached your ten_secondly_rolling limit.",
    });
    const now = Date.now();
    const date = new Date(now + 30_000).toUTCString();
    const dated = failureOf(answer(429, { "retry-after": date }, rolling));
    expect(dated).toMatchObject({ kind: "rate-limited" });
    expect((dated as { delayMs: number }).delayMs).toBeGreaterThan(25_000);
    expect(failureOf(answer(429, interval, rolling))).toMatchObject({ delayMs: 2_500 });
    expect(failureOf(answer(429, { "retry-after": "soon" }, rolling))).toMatchObject({
      delayMs: ROLLING_RETRY_MS,
    });
  });

  it("429 DAILY: an hour, whatever the headers say", () => {
    const daily = { ...rolling, policyName: "DAILY", message: "You have reached your daily limit." };
    expect(failureOf(answer(429, { "retry-after": "5", ...interval }, daily))).toMatchObject({
      kind: "rate-limited",
      daily: true,
      delayMs: DAILY_RETRY_MS,
    });
  });

  it("423 Locked: retried no sooner than the 2 s HubSpot's locks last; 477 Migration in Progress: after Retry-After", () => {
    expect(failureOf(answer(423))).toMatchObject({ kind: "transient", delayMs: LOCKED_RETRY_MS });
    expect(failureOf(answer(423, { "retry-after": "5" }))).toMatchObject({ delayMs: 5_000 });
    expect(failureOf(answer(477, { "retry-after": "120" }))).toMatchObject({
      kind: "transient",
      delayMs: 120_000,
    });
    expect(failureOf(answer(477))).toEqual({ kind: "transient", reason: "HubSpot answered 477" });
  });

  it("5xx: transient, with Retry-After's delay when there is one", () => {
    expect(failureOf(answer(503, { "retry-after": "3" }))).toMatchObject({
      kind: "transient",
      delayMs: 3_000,
    });
    expect(failureOf(answer(502))).toEqual({ kind: "transient", reason: "HubSpot answered 502" });
  });

  it("404 is the caller's to read; 401, 403 and 410 are unhealthy; other 4xx invalid", () => {
    expect(failureOf(answer(404))).toMatchObject({ kind: "not-found" });
    for (const status of [401, 403, 410])
      expect(failureOf(answer(status))).toMatchObject({ kind: "unhealthy", status });
    const body = { status: "error", category: "VALIDATION_ERROR", message: "a@example.com is invalid" };
    expect(failureOf(answer(422, {}, body))).toEqual({
      kind: "invalid",
      reason: "HubSpot answered 422 VALIDATION_ERROR: <email> is invalid",
      body,
    });
    // A conflict (concurrent write) may pass: retried, as since the first version.
    const conflict = { status: "error", category: "CONFLICT", message: "a@example.com conflicts" };
    expect(failureOf(answer(409, {}, conflict))).toEqual({
      kind: "transient",
      reason: "HubSpot answered 409 CONFLICT: <email> conflicts",
    });
  });
});
