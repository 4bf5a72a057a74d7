import type { RateLimit } from "@engage-bridge/core";

/** One paced request: held while it may still be on the wire. */
export interface PacerSlot {
  /** The call that used the slot ended: it keeps counting for one more window. */
  release(): void;
  /** The slot was not used (nothing was sent): it stops counting at once. */
  cancel(): void;
}

const NO_SLOT: PacerSlot = Object.freeze({ release() {}, cancel() {} });

/**
 * Paces the requests of one connector so that no window of `perSeconds` ever holds more than
 * `requests` of them: the rolling window that rate-limited targets enforce (a token bucket lets
 * twice that through one window: a full bucket, then a bucket's worth of refills). A slot counts
 * from when it is taken until one window after it is released, because its request may reach the
 * target at any moment in between; so the limit holds at the target whatever a call's duration.
 *
 * When the target answers 429 every call waits out the target's hint and the allowance halves
 * (down to a tenth); it recovers gradually as calls succeed.
 */
export class Pacer {
  private readonly full: number;
  private readonly windowMs: number;
  private allowance: number;
  private inFlight = 0;
  /** When released slots were released, oldest first; pruned once out of the window. */
  private readonly released: number[] = [];
  private pausedUntil = 0;
  private changed = Promise.withResolvers<void>();
  private readonly now: () => number;

  constructor(limit: RateLimit | undefined, now: () => number = Date.now) {
    this.now = now;
    this.full = limit ? limit.requests : Number.POSITIVE_INFINITY;
    this.windowMs = limit ? limit.perSeconds * 1000 : 0;
    this.allowance = this.full;
  }

  /** Current pace in requests per second (Infinity when unlimited). */
  get callsPerSecond(): number {
    return Number.isFinite(this.allowance) ? this.allowance / (this.windowMs / 1000) : this.allowance;
  }

  /** Slots counting now: in flight, or released within the last window. */
  get used(): number {
    this.prune(this.now());
    return this.inFlight + this.released.length;
  }

  private prune(t: number): void {
    while (this.released.length > 0 && (this.released[0] ?? 0) <= t - this.windowMs) this.released.shift();
  }

  /** Milliseconds to wait (Infinity: until a slot is released), or 0 with the slot taken. */
  private tryTake(): number {
    const t = this.now();
    if (t < this.pausedUntil) return this.pausedUntil - t;
    if (!Number.isFinite(this.full)) return 0;
    this.prune(t);
    if (this.inFlight + this.released.length < Math.max(1, Math.floor(this.allowance))) {
      this.inFlight += 1;
      return 0;
    }
    const oldest = this.released[0];
    return oldest === undefined ? Number.POSITIVE_INFINITY : Math.max(1, oldest + this.windowMs - t);
  }

  private notify(): void {
    const changed = this.changed;
    this.changed = Promise.withResolvers<void>();
    changed.resolve();
  }

  private slot(): PacerSlot {
    if (!Number.isFinite(this.full)) return NO_SLOT;
    let open = true;
    const close = (counts: boolean) => {
      if (!open) return;
      open = false;
      this.inFlight -= 1;
      if (counts) {
        const t = this.now();
        // Keep the list ordered even if the clock stepped back.
        let i = this.released.length;
        while (i > 0 && (this.released[i - 1] ?? 0) > t) i--;
        this.released.splice(i, 0, t);
      }
      this.notify();
    };
    return { release: () => close(true), cancel: () => close(false) };
  }

  /** Waits `ms` (Infinity: indefinitely), or less when a slot is freed. Rejects when `signal` aborts. */
  private async wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = Number.isFinite(ms) ? setTimeout(resolve, ms) : undefined;
    const onAbort = () => reject(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    this.changed.promise.then(resolve);
    try {
      await promise;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Waits until a request may start and takes a slot for it. Rejects when `signal` aborts. */
  async acquire(signal?: AbortSignal): Promise<PacerSlot> {
    for (;;) {
      const wait = this.tryTake();
      if (wait === 0) return this.slot();
      await this.wait(wait, signal);
    }
  }

  /** The target said "too many requests": wait out its hint and slow down. */
  penalize(hintMs: number | undefined): void {
    const t = this.now();
    this.pausedUntil = Math.max(this.pausedUntil, t + (hintMs ?? 1000));
    if (Number.isFinite(this.full)) this.allowance = Math.max(this.full / 10, this.allowance / 2);
  }

  /** A call went through: creep back toward the declared rate. */
  reward(): void {
    if (this.allowance < this.full) this.allowance = Math.min(this.full, this.allowance * 1.1);
  }
}
