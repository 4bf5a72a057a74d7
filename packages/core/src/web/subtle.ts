/** The Web Crypto API of the runtime (`globalThis.crypto.subtle`); a clear error where it is missing. */
export function subtle(): typeof globalThis.crypto.subtle {
  const api = globalThis.crypto?.subtle;
  if (!api) {
    throw new Error("@engage-bridge/core/web needs the Web Crypto API (globalThis.crypto.subtle)");
  }
  return api;
}
