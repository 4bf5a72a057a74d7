import { describe, expect, it } from "vitest";
import { burstCapacity, TokenBucket } from "./token-bucket.ts";

describe("TokenBucket", () => {
  it("holds 10 % of the limit, at least one token", () => {
    expect(burstCapacity(40)).toBe(4);
    expect(burstCapacity(5)).toBe(1);
    expect(new TokenBucket(40, 1).capacity).toBe(4);
  });

  it("lets the burst through at once, then paces callers in order", async () => {
    const bucket = new TokenBucket(20, 1); // 50 ms per token, burst of 2
    const start = performance.now();
    const order: number[] = [];
    const times: number[] = [];
    const takes = Array.from({ length: 6 }, (_, i) =>
      bucket.take().then(() => {
        order.push(i);
        times.push(performance.now() - start);
      }),
    );
    // The burst needs no timer: it is through before the event loop's next turn, the rest is not
    // (an ordering, not a wall-clock bound, which a busy machine would break).
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([0, 1]);
    await Promise.all(takes);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(times[5]).toBeGreaterThanOrEqual(190);
  });

  it("never allows more than `requests` takes in one window, burst included", async () => {
    const bucket = new TokenBucket(10, 0.2, 5); // 10 per 200 ms, bursts of 5
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 30 }, () => bucket.take().then(() => times.push(performance.now()))),
    );
    for (let i = 10; i < times.length; i++) {
      expect((times[i] ?? 0) - (times[i - 10] ?? 0)).toBeGreaterThanOrEqual(200);
    }
  });

  it("drops an aborted caller from the queue", async () => {
    const bucket = new TokenBucket(10, 1, 1);
    await bucket.take();
    const controller = new AbortController();
    const waiting = bucket.take(controller.signal);
    expect(bucket.waiting).toBe(1);
    controller.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
    expect(bucket.waiting).toBe(0);
  });

  it("refuses a limit that is not positive", () => {
    expect(() => new TokenBucket(0, 1)).toThrow(TypeError);
    expect(() => new TokenBucket(10, 0)).toThrow(TypeError);
  });
});
