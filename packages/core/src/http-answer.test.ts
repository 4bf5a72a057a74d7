import { describe, expect, it } from "vitest";
import { PermanentError, RetryableError, settleBatch } from "./connector.ts";
import { headerOf, httpVerdict, maskEmails, retryAfterMs, throwForVerdict } from "./http-answer.ts";

const NOW = Date.parse("2026-11-29T12:00:00Z");

describe("httpVerdict", () => {
  it.each([
    [200, {}, { kind: "ok" }],
    [204, {}, { kind: "ok" }],
    [429, { "Retry-After": "7" }, { kind: "rate-limited", delayMs: 7000 }],
    [429, {}, { kind: "rate-limited", delayMs: 1000 }],
    [503, { "retry-after": "Sun, 29 Nov 2026 12:00:30 GMT" }, { kind: "retry", delayMs: 30_000 }],
    [500, {}, { kind: "retry", delayMs: undefined }],
    [408, {}, { kind: "retry", delayMs: undefined }],
    [425, {}, { kind: "retry", delayMs: undefined }],
    [401, {}, { kind: "unhealthy" }],
    [403, {}, { kind: "unhealthy" }],
    [410, {}, { kind: "unhealthy" }],
    [400, {}, { kind: "dead" }],
    [404, {}, { kind: "dead" }],
    [422, {}, { kind: "dead" }],
  ])("%i %j → %j", (status, headers, verdict) => {
    expect(httpVerdict(status, headers, { now: NOW })).toEqual({ ...verdict, status });
  });

  it("reads headers from fetch Headers, axios-like getters and plain objects, case-insensitively", () => {
    expect(httpVerdict(429, new Headers({ "retry-after": "2" }))).toMatchObject({
      kind: "rate-limited",
      delayMs: 2000,
    });
    const axiosLike = { get: (name: string) => (name === "retry-after" ? 3 : undefined) };
    expect(headerOf(axiosLike, "retry-after")).toBe("3");
    expect(headerOf({ "RETRY-AFTER": ["4", "5"] }, "retry-after")).toBe("4");
    expect(headerOf(undefined, "retry-after")).toBeUndefined();
  });

  it("caps waits from headers and ignores what it cannot read", () => {
    expect(retryAfterMs("999999", NOW)).toBe(3_600_000);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:00 GMT", NOW)).toBe(0);
    expect(retryAfterMs("soon", NOW)).toBeUndefined();
    expect(httpVerdict(429, { "retry-after": "-1" }, { defaultRateLimitMs: 5000 })).toMatchObject({
      kind: "rate-limited",
      delayMs: 5000,
    });
  });
});

describe("throwForVerdict", () => {
  it("throws the error the gateway acts on, and reports unhealthy for 401/403/410", () => {
    const reasons: string[] = [];
    const health = { unhealthy: (r: string) => reasons.push(r) };
    expect(() => throwForVerdict({ kind: "ok" }, "fine", health)).not.toThrow();
    try {
      throwForVerdict({ kind: "rate-limited", delayMs: 2000 }, "429", health);
    } catch (error) {
      expect(error).toBeInstanceOf(RetryableError);
      expect(error).toMatchObject({ delayMs: 2000, rateLimited: true });
    }
    expect(() => throwForVerdict({ kind: "retry", delayMs: undefined }, "503")).toThrow(RetryableError);
    expect(() => throwForVerdict({ kind: "dead" }, "400", health)).toThrow(PermanentError);
    expect(reasons).toEqual([]);
    expect(() => throwForVerdict({ kind: "unhealthy" }, "410 Gone", health)).toThrow(PermanentError);
    expect(reasons).toEqual(["410 Gone"]);
  });

  it("carries the judged status into the error, and settleBatch into every item's result", () => {
    const thrown = (status: number) => {
      try {
        throwForVerdict(httpVerdict(status, {}), `status ${status}`);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(thrown(503)).toMatchObject({ targetStatus: 503 });
    expect(thrown(400)).toMatchObject({ targetStatus: 400 });
    expect(settleBatch(2, { error: thrown(503) })).toEqual([
      { status: "retry", reason: "status 503", targetStatus: 503 },
      { status: "retry", reason: "status 503", targetStatus: 503 },
    ]);
    expect(settleBatch(1, { error: thrown(422) })).toEqual([
      { status: "dead", reason: "status 422", targetStatus: 422 },
    ]);
    // What plugins return is checked: a status outside 100..599 or a malformed consent is dropped.
    expect(
      settleBatch(3, {
        results: [
          { status: "delivered", targetStatus: 200, consent: { value: false, from: "engage-api" } },
          { status: "delivered", targetStatus: 9000, consent: { value: "no", from: "x" } } as never,
          { status: "dead", reason: "gone", targetStatus: 410 },
        ],
      }),
    ).toEqual([
      { status: "delivered", targetStatus: 200, consent: { value: false, from: "engage-api" } },
      { status: "delivered" },
      { status: "dead", reason: "gone", targetStatus: 410 },
    ]);
  });
});

describe("maskEmails", () => {
  it("masks every address a target quotes, keeps the rest", () => {
    expect(maskEmails('Contact "anna.l+news@example.se" is invalid; see bob@ex.com.')).toBe(
      'Contact "<email>" is invalid; see <email>',
    );
    expect(maskEmails("no address here")).toBe("no address here");
  });
});
