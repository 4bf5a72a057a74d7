import { maxInWindow } from "@engage-bridge/testkit";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Pacer, type PacerSlot } from "./pacer.ts";

/** Settles pending promise callbacks (fake timers do not run them by themselves). */
const flush = () => vi.advanceTimersByTimeAsync(0);

function track(promise: Promise<PacerSlot>) {
  const state: { slot: PacerSlot | undefined; error: unknown } = { slot: undefined, error: undefined };
  promise.then(
    (slot) => {
      state.slot = slot;
    },
    (error: unknown) => {
      state.error = error;
    },
  );
  return state;
}

describe("Pacer (fake clock)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("grants `requests` slots, then one more only a window after a slot is released", async () => {
    const pacer = new Pacer({ requests: 3, perSeconds: 1 });
    const first = [await pacer.acquire(), await pacer.acquire(), await pacer.acquire()];
    const fourth = track(pacer.acquire());
    await vi.advanceTimersByTimeAsync(5_000);
    // All three are still in flight: their requests may not have reached the target yet.
    expect(fourth.slot).toBeUndefined();
    first[0]?.release(); // at t = 5000
    await vi.advanceTimersByTimeAsync(999);
    expect(fourth.slot).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(fourth.slot).toBeDefined();
    expect(Date.now()).toBe(6_000);
    expect(pacer.used).toBe(3);
  });

  it("gives a cancelled slot back at once", async () => {
    const pacer = new Pacer({ requests: 2, perSeconds: 10 });
    const a = await pacer.acquire();
    await pacer.acquire();
    const third = track(pacer.acquire());
    await flush();
    expect(third.slot).toBeUndefined();
    a.cancel();
    a.release(); // no effect once closed
    await flush();
    expect(third.slot).toBeDefined();
    expect(pacer.used).toBe(2);
  });

  it("after a 429 waits out the hint, halves the allowance, and recovers with successes", async () => {
    const pacer = new Pacer({ requests: 10, perSeconds: 1 });
    expect(pacer.callsPerSecond).toBe(10);
    pacer.penalize(2_000);
    expect(pacer.callsPerSecond).toBe(5);
    const next = track(pacer.acquire());
    await vi.advanceTimersByTimeAsync(1_999);
    expect(next.slot).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(next.slot).toBeDefined();
    // Only 5 per window while slowed down.
    for (let i = 0; i < 4; i++) (await pacer.acquire()).release();
    const sixth = track(pacer.acquire());
    await flush();
    expect(sixth.slot).toBeUndefined();
    for (let i = 0; i < 10; i++) pacer.penalize(0);
    expect(pacer.callsPerSecond).toBe(1);
    for (let i = 0; i < 100; i++) pacer.reward();
    expect(pacer.callsPerSecond).toBe(10);
  });

  it("rejects a waiting acquire when its signal aborts", async () => {
    const pacer = new Pacer({ requests: 1, perSeconds: 1 });
    await pacer.acquire();
    const controller = new AbortController();
    const waiting = track(pacer.acquire(controller.signal));
    controller.abort(new Error("stopping"));
    await flush();
    expect(waiting.error).toEqual(new Error("stopping"));
  });

  it("never waits without a limit", async () => {
    const pacer = new Pacer(undefined);
    for (let i = 0; i < 1_000; i++) await pacer.acquire();
    expect(pacer.callsPerSecond).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("Pacer (real clock)", () => {
  it("keeps every window at the target within the limit, whatever the calls' durations", async () => {
    const limit = { requests: 5, perSeconds: 0.1 };
    const pacer = new Pacer(limit);
    const arrivals: number[] = [];
    const worker = async (calls: number) => {
      for (let i = 0; i < calls; i++) {
        const slot = await pacer.acquire();
        const duration = Math.random() * 25;
        // The request reaches the target at some moment during the call.
        await new Promise((r) => setTimeout(r, Math.random() * duration));
        arrivals.push(Date.now());
        await new Promise((r) => setTimeout(r, duration / 2));
        slot.release();
      }
    };
    await Promise.all([worker(12), worker(12), worker(11)]);
    expect(arrivals).toHaveLength(35);
    expect(maxInWindow(arrivals, limit.perSeconds * 1000)).toBeLessThanOrEqual(limit.requests);
  });
});
