/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts: for calls that
 * take no signal of their own (an SDK call), so that an aborted attempt never waits on them. The
 * abandoned promise runs on: its rejection is swallowed, and `onAbandoned` receives its value should
 * it fulfil later (e.g. to discard a response body). Without a signal, `promise` itself.
 */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbandoned?: (value: T) => void,
): Promise<T> {
  if (!signal) return promise;
  const abandon = () => {
    promise.then(
      (value) => onAbandoned?.(value),
      () => undefined,
    );
  };
  if (signal.aborted) {
    abandon();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      abandon();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
