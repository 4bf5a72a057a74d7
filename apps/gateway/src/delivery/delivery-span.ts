import type { DeliveryResult } from "@engage-bridge/core";
import {
  type Context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { LeasedDelivery } from "../store/store.ts";
import { spanContextOf, tracer } from "../tracing.ts";

/**
 * Tracing of deliveries (a no-op unless tracing.ts started the SDK): one span per `deliver` call,
 * i.e. per attempt of a batch, named `engage-bridge.deliver <instance>`. The connector runs in its
 * context, so the HTTP calls it makes (instrumented http/https and fetch) are its children.
 *
 * Every span links to the ingest span of each event in the batch (the `traceparent` stored with the
 * event). A batch of exactly one event is, in addition, a child of that ingest span: the whole
 * journey of an event (ingest, verify, commit, every delivery attempt, the target calls) is then one
 * trace, as the messaging conventions do for a message processed on its own; retries show as more
 * children of the same ingest span. A batch of several events cannot have them all as parent: it
 * starts a trace of its own, and its links lead to each event's trace.
 *
 * Attributes: instance and connector type, source, batch size, attempt, event ids and types, and on
 * the way out the count of each outcome. Never a contact, an address, a reason text or a payload.
 */

/** Event ids are listed on the span up to this many items (links name each one anyway). */
const MAX_LISTED_IDS = 100;

export interface DeliverySpan {
  span: Span;
  /** The context the connector's `deliver` runs in (the span active). */
  context: Context;
}

export function startDeliverySpan(
  instance: string,
  connectorType: string,
  leased: readonly LeasedDelivery[],
): DeliverySpan {
  const links: Link[] = [];
  for (const l of leased) {
    const ingest = spanContextOf(l.event.traceparent);
    if (ingest) links.push({ context: ingest, attributes: { "engage_bridge.event.id": l.event.eventId } });
  }
  const only = leased.length === 1 ? links[0]?.context : undefined;
  const parent = only ? trace.setSpanContext(ROOT_CONTEXT, only) : ROOT_CONTEXT;
  const span = tracer().startSpan(
    `engage-bridge.deliver ${instance}`,
    {
      kind: SpanKind.INTERNAL,
      links,
      attributes: {
        "engage_bridge.connector": instance,
        "engage_bridge.connector.type": connectorType,
        "engage_bridge.source": leased[0]?.event.source,
        "engage_bridge.batch.size": leased.length,
        // Items of a batch may be at different attempts: the highest (1 = first).
        "engage_bridge.attempt": Math.max(0, ...leased.map((l) => l.attempts)) + 1,
        "engage_bridge.event.ids":
          leased.length <= MAX_LISTED_IDS ? leased.map((l) => l.event.eventId) : undefined,
        "engage_bridge.event.types": [...new Set(leased.map((l) => l.event.type))],
      },
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

export interface DeliveryEnd {
  /** One result per item; undefined when the call was abandoned (shutdown). */
  results: readonly DeliveryResult[] | undefined;
  /** What `deliver` threw, if it did (only its class is recorded). */
  error?: unknown;
  timedOut?: boolean;
  throttled?: boolean;
}

export function endDeliverySpan(span: Span, end: DeliveryEnd): void {
  if (span.isRecording()) {
    if (end.results === undefined) {
      span.setAttribute("engage_bridge.aborted", true);
    } else {
      const counts = { delivered: 0, skipped: 0, retry: 0, dead: 0 };
      for (const r of end.results) counts[r.status]++;
      for (const [status, n] of Object.entries(counts))
        span.setAttribute(`engage_bridge.outcome.${status}`, n);
      if (end.throttled) span.setAttribute("engage_bridge.throttled", true);
      const failed = counts.retry + counts.dead;
      if (end.error !== undefined || end.timedOut) {
        span.setAttribute(
          "error.type",
          end.timedOut ? "timeout" : end.error instanceof Error ? end.error.constructor.name : "unknown",
        );
      }
      if (failed > 0) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: `${failed} of ${end.results.length} not delivered`,
        });
      }
    }
  }
  span.end();
}
