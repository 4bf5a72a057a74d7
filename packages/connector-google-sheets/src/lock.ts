import { RetryableError } from "@engage-bridge/core";

/**
 * One writer per spreadsheet in this process: `run` starts `fn` when every earlier holder has
 * finished, whichever connector instance or delivery slot asks. Waiting ends early (with a
 * retryable error) when `signal` aborts.
 */
export class WriterLock {
  /** Settles when the last holder or waiter so far has finished. */
  private tail: Promise<void> = Promise.resolve();

  async run<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    const { promise: done, resolve: release } = Promise.withResolvers<void>();
    this.tail = previous.then(() => done);
    try {
      if (signal.aborted) throw new RetryableError("aborted while waiting for the spreadsheet's writer");
      await new Promise<void>((resolve, reject) => {
        const onAbort = () =>
          reject(new RetryableError("aborted while waiting for the spreadsheet's writer"));
        signal.addEventListener("abort", onAbort, { once: true });
        previous.then(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
      });
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * The process's writer locks, one per spreadsheet (`key`: its API root and id). Module-level on
 * purpose, and keyed by the spreadsheet rather than by a connector instance's config: two instances
 * (two gateway configs) that write to the same spreadsheet must wait for each other, and neither
 * can see the other's state. `init` looks the lock up once and keeps it in the instance's state.
 * One small entry per spreadsheet ever configured, kept for the life of the process.
 */
const locks = new Map<string, WriterLock>();

/** The writer lock of the spreadsheet `key`, the same object for every instance that asks. */
export function writerLock(key: string): WriterLock {
  let lock = locks.get(key);
  if (!lock) {
    lock = new WriterLock();
    locks.set(key, lock);
  }
  return lock;
}
