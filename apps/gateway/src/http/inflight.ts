/**
 * Bounds the bytes that request bodies hold in memory across every connection. Each request
 * reserves what it may read (its declared length, or the body limit when it declares none) before
 * the body is read, and gives it back when its answer is done; a request that does not fit is
 * refused with 503 instead of growing the heap until the process dies.
 */
export class InflightBudget {
  private used = 0;
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes reserved now (metrics and tests). */
  get inUse(): number {
    return this.used;
  }

  /** Reserves `bytes`; returns a release function, or undefined when they do not fit. */
  reserve(bytes: number): (() => void) | undefined {
    if (this.used + bytes > this.limit) return undefined;
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
    };
  }
}
