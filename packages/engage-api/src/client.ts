import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type ContactLookup, type EngageContact, type RateLimit, raceAbort } from "@engage-bridge/core";
import { LRUCache } from "lru-cache";
import { EngageApiError } from "./errors.ts";
import { mapContact } from "./map.ts";
import { TokenBucket } from "./token-bucket.ts";
import { VERSION } from "./version.ts";

/** Engage asks for less than 50 requests per second and API key. */
export const DEFAULT_RATE_LIMIT: Readonly<RateLimit> = Object.freeze({ requests: 40, perSeconds: 1 });
/** Engage's advice: retry late, after 10 s, 30 s, 60 s and 300 s. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = Object.freeze([10_000, 30_000, 60_000, 300_000]);
export const DEFAULT_CACHE_TTL_MS = 30_000;
export const DEFAULT_CACHE_MAX = 10_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
/** A "not found" answer is cached at most this long (a contact may be created any moment). */
export const NOT_FOUND_TTL_MS = 5_000;

export interface EngageClientOptions {
  /** E.g. `https://<tenant>.voyado.com` (staging: `https://<tenant>.staging.voyado.com`). */
  baseUrl: string;
  apiKey: string;
  /** Engage requires one; `engage-bridge/<version>` when absent. */
  userAgent?: string;
  /** Shared by all calls of this client; callers queue for a slot. 40 per second when absent. */
  rateLimit?: RateLimit;
  /** How long a found contact is served from memory; 0 turns the cache off. 30 s when absent. */
  cacheTtlMs?: number;
  /** Contacts kept in memory at most (least recently used go first); 0 turns the cache off. */
  cacheMax?: number;
  /** Waits before each retry of a 429, 5xx, network error or timeout; `Retry-After` can lengthen them. */
  retry?: { delaysMs: readonly number[] };
  /** Per HTTP request, including reading the answer. 10 s when absent. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface GetContactOptions {
  /** Abandons this call (the shared request goes on while other callers wait for it). */
  signal?: AbortSignal;
  /**
   * Answers fetched before this time are not used, neither from the cache nor from a request
   * already in flight: pass the time an event was received so that a preference change is never
   * answered by what Engage said before it.
   */
  freshAfter?: Date;
}

export interface EngageClientStats {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** Calls answered from the cache. */
  cacheHits: number;
  /** Calls that joined a request already in flight for the same contact. */
  coalesced: number;
  /** HTTP requests that were retries. */
  retries: number;
}

export interface EngageClient {
  /**
   * The contact, `undefined` when Engage does not know it (404), or throws {@link EngageApiError}
   * when the lookup failed (after the retries, for failures that may pass).
   */
  getContact(contactId: string, options?: GetContactOptions): Promise<EngageContact | undefined>;
  /** `getContact` as a plain function, to hand to connectors as their `lookupContact`. */
  readonly lookup: ContactLookup;
  /** A snapshot of the counters. */
  readonly stats: Readonly<EngageClientStats>;
  /** Drops a contact from the cache (e.g. when its data must be erased). */
  forget(contactId: string): void;
}

interface Answer {
  contact: EngageContact | undefined;
  /** `Date.now()` when the request that produced it was sent. */
  fetchedAt: number;
}

interface Flight {
  readonly createdAt: number;
  readonly controller: AbortController;
  readonly promise: Promise<Answer>;
  waiters: number;
  settled: boolean;
}

type Attempt =
  | { ok: true; contact: EngageContact | undefined }
  | { ok: false; status: number; retryable: boolean; retryAfterMs?: number; detail: string };

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
const HEADER_TEXT = /^[\x20-\x7e]+$/;

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function nonNegative(value: number | undefined, fallback: number, what: string): number {
  const n = value ?? fallback;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) {
    throw new TypeError(`${what} must be a non-negative number`);
  }
  return n;
}

function networkDetail(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  const code = cause?.code ?? (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^[A-Z][A-Z0-9_]*$/.test(code)
    ? `network error ${code}`
    : "network error";
}

function copy(contact: EngageContact | undefined): EngageContact | undefined {
  return contact === undefined ? undefined : structuredClone(contact);
}

/** Sleeps `ms` or more by the monotonic clock (a timer alone may fire a millisecond early). */
async function sleepAtLeast(ms: number, signal: AbortSignal): Promise<void> {
  const until = performance.now() + ms;
  for (let left = ms; left > 0; left = until - performance.now()) {
    try {
      await sleep(Math.ceil(left), undefined, { signal });
    } catch (error) {
      throw signal.aborted ? signal.reason : error;
    }
  }
}

export function createEngageClient(options: EngageClientOptions): EngageClient {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new TypeError("baseUrl must be an absolute http(s) URL");
  }
  if (!/^https?:$/.test(base.protocol) || base.search !== "" || base.hash !== "") {
    throw new TypeError("baseUrl must be an http(s) URL without query or fragment");
  }
  const baseUrl = base.href.replace(/\/+$/, "");
  if (typeof options.apiKey !== "string" || !VISIBLE_ASCII.test(options.apiKey)) {
    throw new TypeError("apiKey must be a non-empty string of visible ASCII characters");
  }
  const userAgent = options.userAgent ?? `engage-bridge/${VERSION}`;
  if (typeof userAgent !== "string" || !HEADER_TEXT.test(userAgent)) {
    throw new TypeError("userAgent must be a non-empty string of printable ASCII characters");
  }
  const rate = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  const bucket = new TokenBucket(rate.requests, rate.perSeconds);
  const delays = [...(options.retry?.delaysMs ?? DEFAULT_RETRY_DELAYS_MS)].map((d) =>
    nonNegative(d, 0, "retry.delaysMs entries"),
  );
  const timeoutMs = nonNegative(options.timeoutMs, DEFAULT_TIMEOUT_MS, "timeoutMs");
  if (timeoutMs === 0) throw new TypeError("timeoutMs must be positive");
  const cacheTtlMs = Math.ceil(nonNegative(options.cacheTtlMs, DEFAULT_CACHE_TTL_MS, "cacheTtlMs"));
  const cacheMax = Math.floor(nonNegative(options.cacheMax, DEFAULT_CACHE_MAX, "cacheMax"));
  const fetchImpl = options.fetch ?? globalThis.fetch;

  const headers: Record<string, string> = {
    apikey: options.apiKey,
    "User-Agent": userAgent,
    "Content-Type": "application/json",
    Accept: "application/json",
  };
  const cache =
    cacheTtlMs > 0 && cacheMax > 0
      ? new LRUCache<string, Answer>({ max: cacheMax, ttl: cacheTtlMs })
      : undefined;
  const inflight = new Map<string, Flight>();
  const stats: EngageClientStats = { requests: 0, cacheHits: 0, coalesced: 0, retries: 0 };

  function fail(status: number, retryable: boolean, detail: string, retryAfterMs?: number): Attempt {
    return retryAfterMs === undefined
      ? { ok: false, status, retryable, detail }
      : { ok: false, status, retryable, detail, retryAfterMs };
  }

  async function attemptOnce(url: string, contactId: string, signal: AbortSignal): Promise<Attempt> {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetchImpl(url, {
        method: "GET",
        headers,
        // Never follow a redirect: the apikey header would go along to wherever it points.
        redirect: "manual",
        signal: AbortSignal.any([signal, timeout]),
      });
      const { status } = response;
      if (status === 200) {
        let body: unknown;
        try {
          body = JSON.parse(await response.text());
        } catch (error) {
          if (error instanceof SyntaxError) return fail(200, true, "status 200, invalid JSON");
          throw error;
        }
        if (body === null || typeof body !== "object" || Array.isArray(body)) {
          return fail(200, true, "status 200, unexpected answer");
        }
        return { ok: true, contact: mapContact(contactId, body) };
      }
      // Read the (small) error body so that the connection can be reused; never show it: Engage's
      // messages may repeat the contact id.
      await response.arrayBuffer().catch(() => undefined);
      if (status === 404) return { ok: true, contact: undefined };
      if (status === 408 || status === 429 || status >= 500) {
        return fail(status, true, `status ${status}`, parseRetryAfter(response.headers.get("retry-after")));
      }
      if (status === 401 || status === 403) return fail(status, false, `status ${status}, API key rejected`);
      return fail(status, false, `status ${status}`);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (timeout.aborted) return fail(0, true, `timeout after ${timeoutMs} ms`);
      return fail(0, true, networkDetail(error));
    }
  }

  async function fetchContact(contactId: string, signal: AbortSignal): Promise<Answer> {
    const url = `${baseUrl}/api/v3/contacts/${encodeURIComponent(contactId)}`;
    for (let attempt = 1; ; attempt++) {
      await bucket.take(signal);
      if (attempt > 1) stats.retries++;
      stats.requests++;
      const fetchedAt = Date.now();
      const result = await attemptOnce(url, contactId, signal);
      if (result.ok) return { contact: result.contact, fetchedAt };
      const delay = delays[attempt - 1];
      if (!result.retryable || delay === undefined) {
        const details = { status: result.status, retryable: result.retryable, attempts: attempt };
        throw new EngageApiError(
          `contact lookup failed (${result.detail})`,
          result.retryAfterMs === undefined ? details : { ...details, retryAfterMs: result.retryAfterMs },
        );
      }
      await sleepAtLeast(Math.max(delay, result.retryAfterMs ?? 0), signal);
    }
  }

  function drop(contactId: string, flight: Flight): void {
    if (inflight.get(contactId) === flight) inflight.delete(contactId);
  }

  function remember(contactId: string, answer: Answer): void {
    if (!cache) return;
    const existing = cache.peek(contactId);
    if (existing && existing.fetchedAt > answer.fetchedAt) return;
    const ttl = answer.contact ? cacheTtlMs : Math.min(cacheTtlMs, NOT_FOUND_TTL_MS);
    cache.set(contactId, answer, { ttl });
  }

  function startFlight(contactId: string): Flight {
    const controller = new AbortController();
    const flight: Flight = {
      createdAt: Date.now(),
      controller,
      promise: fetchContact(contactId, controller.signal),
      waiters: 0,
      settled: false,
    };
    inflight.set(contactId, flight);
    // Registered before any caller awaits the flight, so the cache is filled before they resume.
    flight.promise.then(
      (answer) => {
        flight.settled = true;
        drop(contactId, flight);
        remember(contactId, answer);
      },
      () => {
        flight.settled = true;
        drop(contactId, flight);
      },
    );
    return flight;
  }

  async function join(
    flight: Flight,
    contactId: string,
    signal: AbortSignal | undefined,
  ): Promise<EngageContact | undefined> {
    flight.waiters++;
    try {
      const answer = await raceAbort(flight.promise, signal);
      return copy(answer.contact);
    } finally {
      flight.waiters--;
      // Every caller gave up: stop the request (and its retries) instead of finishing it for nobody.
      if (flight.waiters === 0 && !flight.settled) {
        drop(contactId, flight);
        flight.controller.abort(signal?.reason);
      }
    }
  }

  async function getContact(
    contactId: string,
    callOptions: GetContactOptions = {},
  ): Promise<EngageContact | undefined> {
    if (typeof contactId !== "string" || contactId.trim() === "") {
      throw new TypeError("contactId must be a non-empty string");
    }
    const { signal, freshAfter } = callOptions;
    signal?.throwIfAborted();
    // An invalid date compares false with everything: nothing older is used.
    const notBefore = freshAfter === undefined ? Number.NEGATIVE_INFINITY : freshAfter.getTime();
    const cached = cache?.get(contactId);
    if (cached && cached.fetchedAt >= notBefore) {
      stats.cacheHits++;
      return copy(cached.contact);
    }
    const current = inflight.get(contactId);
    if (current && current.createdAt >= notBefore) {
      stats.coalesced++;
      return join(current, contactId, signal);
    }
    return join(startFlight(contactId), contactId, signal);
  }

  return {
    getContact,
    lookup: (contactId: string, lookupOptions?: GetContactOptions) => getContact(contactId, lookupOptions),
    get stats() {
      return { ...stats };
    },
    forget(contactId: string) {
      cache?.delete(contactId);
    },
  };
}
