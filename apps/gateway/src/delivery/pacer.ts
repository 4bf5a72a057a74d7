import { setTimeout as sleep } from "node:timers/promises";
import type { RateLimit } from "@engage-bridge/core";

/**
 * Paces calls of one connector: a token bucket at the declared (or configured) rate that slows down
 * when the target answers 429 — the rate halves (down to a tenth) and every call waits out the
 * target's hint — and recovers gradually as calls succeed again.
 */
export class Pacer {
  private readonly fullRate: number;
  private rate: number;
  private readonly capacity: number;
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private readonly now: () => number;

  constructor(limit: RateLimit | undefined, now: () => number = Date.now) {
    this.now = now;
    this.fullRate = limit ? limit.requests / (limit.perSeconds * 1000) : Number.POSITIVE_INFINITY;
    this.rate = this.fullRate;
    this.capacity = limit ? limit.requests : Number.POSITIVE_INFINITY;
    this.tokens = this.capacity;
    this.last = now();
  }

  /** Current calls per second (Infinity when unlimited). */
  get callsPerSecond(): number {
    return this.rate * 1000;
  }

  /** Milliseconds until a call may start now (0 = go), taking the token when it returns 0. */
  private tryTake(): number {
    const t = this.now();
    if (t < this.pausedUntil) return this.pausedUntil - t;
    if (!Number.isFinite(this.rate)) return 0;
    this.tokens = Math.min(this.capacity, this.tokens + (t - this.last) * this.rate);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / this.rate);
  }

  /** Waits until a call may start. Rejects when `signal` aborts. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.tryTake();
      if (wait === 0) return;
      await sleep(wait, undefined, { signal });
    }
  }

  /** The target said "too many requests": wait out its hint and slow down. */
  penalize(hintMs: number | undefined): void {
    const t = this.now();
    this.pausedUntil = Math.max(this.pausedUntil, t + (hintMs ?? 1000));
    if (Number.isFinite(this.fullRate)) {
      this.rate = Math.max(this.fullRate / 10, this.rate / 2);
      this.tokens = Math.min(this.tokens, 0);
    }
  }

  /** A call went through: creep back toward the declared rate. */
  reward(): void {
    if (this.rate < this.fullRate) this.rate = Math.min(this.fullRate, this.rate * 1.1);
  }
}
