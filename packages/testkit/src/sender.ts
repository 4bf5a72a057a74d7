import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Webhook } from "svix";

/**
 * Sends webhooks the way Svix does: signs every attempt afresh with its own timestamp, counts only a
 * 2xx within the timeout as delivered (3xx is a failure), and retries on Svix's schedule. Tests pass
 * a `timeScale` to compress the schedule (0.001 turns 5 minutes into 300 ms).
 */

/** Delay before each attempt (Svix docs): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const SVIX_RETRY_SCHEDULE_MS: readonly number[] = [
  0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];
export const SVIX_TIMEOUT_MS = 15_000;

export type HeaderBrand = "svix" | "webhook";

/** Headers for one attempt, signed with `svix`'s own signer. */
export function signedHeaders(
  secret: string,
  msgId: string,
  body: string,
  options: { timestamp?: number; brand?: HeaderBrand } = {},
): Record<string, string> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = new Webhook(secret).sign(msgId, new Date(timestamp * 1000), body);
  const brand = options.brand ?? "svix";
  return {
    [`${brand}-id`]: msgId,
    [`${brand}-timestamp`]: String(timestamp),
    [`${brand}-signature`]: signature,
  };
}

export interface SendOptions {
  url: string;
  secret: string;
  body: string;
  /** The Svix message id; the same on every attempt. Random when absent. */
  msgId?: string;
  brand?: HeaderBrand;
  /** Extra headers (e.g. a shared token configured on the endpoint). */
  headers?: Record<string, string>;
  /** Multiplies every delay of the schedule; 1 is real time. */
  timeScale?: number;
  /** Attempts before giving up; the schedule's length (8) when absent. */
  maxAttempts?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface AttemptRecord {
  at: number;
  /** HTTP status, or 0 when the request failed (connection refused, reset, timeout). */
  status: number;
  error?: string;
}

export interface SendResult {
  msgId: string;
  delivered: boolean;
  attempts: AttemptRecord[];
  /** Status of the last attempt. */
  status: number;
}

export async function sendWebhook(options: SendOptions): Promise<SendResult> {
  const msgId = options.msgId ?? `msg_${randomUUID().replaceAll("-", "")}`;
  const scale = options.timeScale ?? 1;
  const maxAttempts = Math.min(
    options.maxAttempts ?? SVIX_RETRY_SCHEDULE_MS.length,
    SVIX_RETRY_SCHEDULE_MS.length,
  );
  const attempts: AttemptRecord[] = [];
  for (let i = 0; i < maxAttempts; i++) {
    const delay = (SVIX_RETRY_SCHEDULE_MS[i] ?? 0) * scale;
    if (delay > 0) await sleep(delay, undefined, { signal: options.signal });
    const at = Date.now();
    try {
      const response = await fetch(options.url, {
        method: "POST",
        redirect: "manual",
        headers: {
          "content-type": "application/json",
          "user-agent": "Svix-Webhooks/1.0 (engage-bridge testkit)",
          ...options.headers,
          ...signedHeaders(options.secret, msgId, options.body, { brand: options.brand }),
        },
        body: options.body,
        signal: AbortSignal.any([
          AbortSignal.timeout(options.timeoutMs ?? SVIX_TIMEOUT_MS),
          ...(options.signal ? [options.signal] : []),
        ]),
      });
      await response.arrayBuffer().catch(() => undefined);
      attempts.push({ at, status: response.status });
      if (response.status >= 200 && response.status < 300) {
        return { msgId, delivered: true, attempts, status: response.status };
      }
    } catch (error) {
      if (options.signal?.aborted) throw error;
      attempts.push({ at, status: 0, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { msgId, delivered: false, attempts, status: attempts.at(-1)?.status ?? 0 };
}
