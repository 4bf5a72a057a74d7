import type { RateLimit } from "@engage-bridge/core";

/** A token bucket: `requests` tokens refilled evenly over `perSeconds`, bursts up to `requests`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly capacity: number;
  private readonly perMs: number;
  private readonly now: () => number;

  constructor(limit: RateLimit, now: () => number = Date.now) {
    this.capacity = limit.requests;
    this.perMs = limit.requests / (limit.perSeconds * 1000);
    this.tokens = limit.requests;
    this.now = now;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (t - this.last) * this.perMs);
    this.last = t;
  }

  /** Takes a token; returns 0 when granted, else the milliseconds until one is available. */
  take(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / this.perMs);
  }
}
