import { RetryableError } from "@engage-bridge/core";

const tails = new Map<string, Promise<void>>();

/**
 * Runs `fn` when every earlier holder of `key` has finished: one writer per spreadsheet in this
 * process, whichever connector instance or delivery slot asks. Waiting ends early (with a
 * retryable error) when `signal` aborts.
 */
export async function withLock<T>(key: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  const { promise: done, resolve: release } = Promise.withResolvers<void>();
  const tail = previous.then(() => done);
  tails.set(key, tail);
  try {
    if (signal.aborted) throw new RetryableError("aborted while waiting for the spreadsheet's writer");
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new RetryableError("aborted while waiting for the spreadsheet's writer"));
      signal.addEventListener("abort", onAbort, { once: true });
      previous.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
    return await fn();
  } finally {
    release();
    if (tails.get(key) === tail) tails.delete(key);
  }
}

/** Whether someone holds or waits for `key` (tests). */
export function isLocked(key: string): boolean {
  return tails.has(key);
}
