import { performance } from "node:perf_hooks";

interface Waiter {
  resolve: (taken: number) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** Tokens a bucket may hold: 10 % of the limit, at least 1 (40 per second → bursts of 4). */
export function burstCapacity(requests: number): number {
  return Math.max(1, Math.floor(requests / 10));
}

/**
 * Requests bunch up on the way (a cold connection delays the first ones of a burst more than the
 * next), so the server may count more per window than the client sent: the window is kept 5 % long.
 */
export const WINDOW_GUARD = 1.05;

/**
 * A token bucket that queues callers (first come, first served) instead of rejecting them. It
 * refills `requests` tokens every `perSeconds` and holds at most `capacity` (the largest burst).
 * A token bucket alone would allow `requests + capacity` takes in one window, so it also remembers
 * the last `requests` takes: no window of `perSeconds` (plus {@link WINDOW_GUARD}) ever sees more
 * than `requests`.
 */
export class TokenBucket {
  readonly capacity: number;
  readonly #intervalMs: number;
  #tokens: number;
  #last: number;
  readonly #queue: Waiter[] = [];
  readonly #windowMs: number;
  /** Times of the last takes, oldest at `#next` once the ring is full; take n is at (n - 1) % size. */
  readonly #ring: Float64Array;
  #next = 0;
  #taken = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(requests: number, perSeconds: number, capacity = burstCapacity(requests)) {
    if (!(requests > 0 && perSeconds > 0 && Number.isFinite(requests) && Number.isFinite(perSeconds))) {
      throw new TypeError("rateLimit needs positive requests and perSeconds");
    }
    this.capacity = capacity;
    this.#intervalMs = (perSeconds * 1000) / requests;
    this.#tokens = capacity;
    this.#last = performance.now();
    this.#windowMs = perSeconds * 1000 * WINDOW_GUARD;
    this.#ring = new Float64Array(Math.max(1, Math.floor(requests)));
  }

  /** Resolves when the caller may make one request; rejects when `signal` aborts first. */
  async take(signal?: AbortSignal): Promise<void> {
    const taken = await this.#acquire(signal);
    // Stamp the take again now that the caller is about to run: its request leaves after whatever
    // synchronous work delayed this continuation, and the window must count from then.
    if (this.#taken - taken <= this.#ring.length) {
      const slot = (taken - 1) % this.#ring.length;
      this.#ring[slot] = Math.max(this.#ring[slot] ?? 0, performance.now());
    }
  }

  /** Resolves with the take's sequence number (1-based) once it is allowed. */
  #acquire(signal: AbortSignal | undefined): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#refill();
    if (this.#queue.length === 0 && this.#waitMs() === 0) return Promise.resolve(this.#consume());
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.#queue.indexOf(waiter);
          if (index >= 0) this.#queue.splice(index, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.#queue.push(waiter);
      this.#schedule();
    });
  }

  /** Callers waiting for a token. */
  get waiting(): number {
    return this.#queue.length;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.capacity, this.#tokens + (now - this.#last) / this.#intervalMs);
    this.#last = now;
  }

  /** Milliseconds until a take is allowed (after `#refill`); 0 when it is allowed now. */
  #waitMs(): number {
    const forToken = this.#tokens >= 1 ? 0 : (1 - this.#tokens) * this.#intervalMs;
    const oldest = this.#ring[this.#next] ?? 0;
    const forWindow = this.#taken < this.#ring.length ? 0 : oldest + this.#windowMs - this.#last;
    return Math.max(0, forToken, forWindow);
  }

  /** Uses a token and records the take; returns its sequence number. */
  #consume(): number {
    this.#tokens -= 1;
    this.#ring[this.#next] = this.#last;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#taken++;
    return this.#taken;
  }

  #schedule(): void {
    if (this.#timer || this.#queue.length === 0) return;
    const wait = Math.max(1, Math.ceil(this.#waitMs()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain();
    }, wait);
  }

  #drain(): void {
    this.#refill();
    while (this.#waitMs() === 0) {
      const waiter = this.#queue.shift();
      if (!waiter) break;
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.#consume());
    }
    this.#schedule();
  }
}
