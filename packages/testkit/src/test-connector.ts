import {
  currentPreference,
  type DeliveryResult,
  dead,
  defineConnector,
  delivered,
  httpVerdict,
  isPreferenceEvent,
  KNOWN_EVENT_TYPES,
  type KnownEventType,
  type RateLimit,
  throwForVerdict,
} from "@engage-bridge/core";
import { z } from "zod";

/**
 * A connector for engine tests, delivering to {@link startFakeTarget}: a preference becomes
 * `state["<contactId>:<channel>"] = <value>` (the current value when the Engage API is configured),
 * any other event `state["event:<id>"] = <type>`. It maps answers with core's shared vocabulary
 * (`httpVerdict`): 429 → rate-limited retry after `Retry-After`, 5xx → retry, 401/403/410 → dead and
 * unhealthy, other 4xx → dead.
 */
export function createTestConnector(
  name = "testTarget",
  options: {
    handles?: readonly KnownEventType[];
    maxBatchSize?: number;
    rateLimit?: RateLimit;
    concurrency?: number;
    /** Declare the target convergent (one current value per contact and channel); default true. */
    convergentConsent?: boolean;
  } = {},
) {
  return defineConnector({
    name,
    configSchema: z.strictObject({ baseUrl: z.url() }),
    handles: options.handles ?? KNOWN_EVENT_TYPES,
    maxBatchSize: options.maxBatchSize ?? 50,
    concurrency: options.concurrency ?? 1,
    convergentConsent: options.convergentConsent ?? true,
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    async deliver(items, ctx) {
      const results: DeliveryResult[] = [];
      const body: { key: string; value: unknown }[] = [];
      for (const item of items) {
        const event = item.event;
        if (isPreferenceEvent(event)) {
          const { value } = await currentPreference({ ...item, event }, ctx);
          if (value === undefined) {
            results.push(dead("no preference value"));
            continue;
          }
          body.push({ key: `${event.contactId}:${event.channel}`, value });
        } else {
          body.push({ key: `event:${event.id}`, value: event.type });
        }
        results.push(delivered());
      }
      if (body.length === 0) return results;
      const response = await fetch(`${ctx.config.baseUrl}/apply`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ items: body }),
        signal: ctx.signal,
      });
      await response.arrayBuffer();
      // The shared vocabulary: 429 → rate-limited retry after Retry-After, 5xx → retry,
      // 401/403/410 → dead and unhealthy, other 4xx → dead.
      throwForVerdict(
        httpVerdict(response.status, response.headers),
        `target answered ${response.status}`,
        ctx.health,
      );
      return results;
    },
  });
}
