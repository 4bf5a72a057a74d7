import { readFileSync } from "node:fs";
import type { IncomingMessage, RequestOptions } from "node:http";
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type Attributes,
  type Span,
  type SpanContext,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/**
 * OpenTelemetry tracing (issue #14), off unless an OTLP endpoint is configured.
 *
 * - `startTracing()` starts the NodeSDK when `OTEL_EXPORTER_OTLP_ENDPOINT` or
 *   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set and `OTEL_SDK_DISABLED` is not `true`. The SDK, its
 *   exporters and the instrumentations are loaded only then (a synchronous `require`, see below):
 *   with tracing off, the gateway pays for `@opentelemetry/api` and its no-op tracer only.
 * - Everything else (exporter, protocol `http/protobuf` — the default — or `http/json` or `grpc`,
 *   headers, timeouts, batching `OTEL_BSP_*`, sampling `OTEL_TRACES_SAMPLER`, propagators, resource
 *   attributes) comes from the standard `OTEL_*` variables, read by the SDK itself.
 * - Instrumented: `node:http`/`https` (incoming requests, except health, readiness and metrics, and
 *   the outgoing calls of the SendGrid SDK's axios and other http clients) and undici, i.e. `fetch`
 *   (the webhook forwarder, the HubSpot SDK, the Engage API client, gaxios).
 *
 * Why `require` and not `import`: the http instrumentation patches `http`/`https` when CommonJS code
 * requires them (require-in-the-middle). The connector SDKs are CommonJS and require `http` when they
 * load, so the SDK must be started before they load: `cli.ts` imports `./start-preload.ts` first,
 * and its module body starts tracing synchronously, before any later import of cli.ts is evaluated.
 * An `await import()` there would not hold the later imports back. ESM-only libraries would need the
 * `--import` loader hook of @opentelemetry/instrumentation (opentelemetry-js doc/esm-support.md);
 * nothing we trace is one (undici is traced through diagnostics_channel, whatever loads it).
 *
 * No personal data or secrets in span attributes: URL paths of HTTP spans are reduced to segments that
 * are lowercase words, API versions or dates (ids, emails and spreadsheet ranges become `REDACTED`),
 * query values are redacted, client addresses and user agents of incoming requests are left out, and
 * no headers or bodies are captured. Our own spans carry event ids, svix ids, event types, source and
 * connector names, status codes, reason codes and counts.
 */

/** Instrumentation scope of the gateway's own spans. */
export const TRACER_NAME = "engage-bridge";

let ownTracer: Tracer | undefined;

/**
 * The tracer of the gateway's own spans: a no-op unless the SDK started. Obtained on first use, not
 * when this module loads: the SDK registers its provider through its own (CommonJS) copy of the API,
 * and a tracer taken from this (ES module) copy's proxy before that would stay a no-op.
 */
export const tracer = (): Tracer => {
  ownTracer ??= trace.getTracer(TRACER_NAME);
  return ownTracer;
};

/** Incoming requests never traced: probes and scrapes, many per minute and nothing to follow. */
const UNTRACED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/** Bound on flushing spans at shutdown; the process must still exit within 10 s of SIGTERM. */
export const TRACING_FLUSH_MS = 2_000;

export interface Tracing {
  /** Flushes the spans still buffered and stops exporting, within `timeoutMs` (never rejects). */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Whether the environment asks for tracing: an OTLP endpoint set, and the SDK not disabled. */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return Boolean(endpoint) && env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== "true";
}

let started: Tracing | undefined;

/** The running tracing, when `startTracing` started it. */
export const activeTracing = (): Tracing | undefined => started;

/**
 * Starts the OpenTelemetry NodeSDK when {@link tracingWanted}; `undefined` (and nothing loaded) when
 * not. Synchronous on purpose (see the module comment). Idempotent.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): Tracing | undefined {
  if (started || !tracingWanted(env)) return started;
  const require = createRequire(import.meta.url);
  const { NodeSDK, resources } =
    require("@opentelemetry/sdk-node") as typeof import("@opentelemetry/sdk-node");
  const { HttpInstrumentation } =
    require("@opentelemetry/instrumentation-http") as typeof import("@opentelemetry/instrumentation-http");
  const { UndiciInstrumentation } =
    require("@opentelemetry/instrumentation-undici") as typeof import("@opentelemetry/instrumentation-undici");
  const version = (
    JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
  ).version;

  const sdk = new NodeSDK({
    // Defaults under the detected resource: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
    resource: resources
      .defaultResource()
      .merge(
        resources.resourceFromAttributes({ "service.name": "engage-bridge", "service.version": version }),
      ),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? "").split("?")[0] ?? ""),
        startIncomingSpanHook: incomingAttributes,
        startOutgoingSpanHook: outgoingAttributes,
      }),
      new UndiciInstrumentation({
        startSpanHook: (request) => urlAttributes(request.origin, request.path),
      }),
    ],
    // Traces only: metrics are Prometheus' (`/metrics`), logs are pino's.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  ownTracer = undefined;
  started = {
    async shutdown(timeoutMs = TRACING_FLUSH_MS) {
      await Promise.race([
        sdk.shutdown().catch(() => undefined),
        sleep(Math.max(0, timeoutMs), undefined, { ref: false }),
      ]);
    },
  };
  return started;
}

// --- What HTTP spans may say --------------------------------------------------------------------

/** Path segments kept as they are: lowercase words (`contacts`, `app.js`), API versions, dates. */
const KEEP_SEGMENT = /^(?:[a-z][a-z_.-]{0,63}|v\d{1,3}(?:alpha\d*|beta\d*)?|\d{4}-\d{2}(?:-\d{2})?)$/;
const QUERY_KEY = /^[A-Za-z0-9_.[\]-]{1,64}$/;
export const REDACTED = "REDACTED";

/**
 * A URL path with every segment that could carry data (an id, an email, a range) replaced by
 * `REDACTED`; an `:action` suffix (Google's `…:append`) is kept.
 */
export function scrubPath(path: string): string {
  return path
    .split("/")
    .map((segment) => {
      if (segment === "" || KEEP_SEGMENT.test(segment)) return segment;
      const colon = segment.lastIndexOf(":");
      const action = colon > 0 ? segment.slice(colon + 1) : "";
      return action && KEEP_SEGMENT.test(action) ? `${REDACTED}:${action}` : REDACTED;
    })
    .join("/");
}

/** A query string (with or without `?`) with every value redacted; `""` for none. */
export function scrubQuery(search: string): string {
  const query = search.startsWith("?") ? search.slice(1) : search;
  if (query === "") return "";
  const keys = query.split("&").map((pair) => {
    const key = pair.split("=")[0] ?? "";
    return `${QUERY_KEY.test(key) ? key : REDACTED}=${REDACTED}`;
  });
  return `?${keys.join("&")}`;
}

/** `url.full`, `url.path` and `url.query` of an outgoing request, scrubbed (no userinfo). */
export function urlAttributes(origin: string, pathAndQuery: string): Attributes {
  let url: URL;
  try {
    url = new URL(pathAndQuery, origin);
  } catch {
    return { "url.full": REDACTED, "url.path": REDACTED, "url.query": undefined };
  }
  const path = scrubPath(url.pathname);
  const query = scrubQuery(url.search);
  return {
    "url.full": `${url.origin}${path}${query}`,
    "url.path": path,
    "url.query": query ? query.slice(1) : undefined,
  };
}

function outgoingAttributes(options: RequestOptions): Attributes {
  const protocol = options.protocol ?? "http:";
  const host = options.hostname ?? options.host?.replace(/:\d+$/, "") ?? "localhost";
  const port = options.port ? `:${options.port}` : "";
  const origin = `${protocol}//${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}${port}`;
  const { "url.full": full } = urlAttributes(origin, options.path ?? "/");
  return { "url.full": full };
}

function incomingAttributes(request: IncomingMessage): Attributes {
  const [path = "/", query = ""] = (request.url ?? "/").split("?", 2);
  return {
    "url.path": scrubPath(path),
    "url.query": query ? scrubQuery(query).slice(1) : undefined,
    // Who called is not ours to keep (an operator's address and browser, for the dashboard).
    "client.address": undefined,
    "network.peer.address": undefined,
    "network.peer.port": undefined,
    "user_agent.original": undefined,
  };
}

// --- W3C traceparent -----------------------------------------------------------------------------

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The W3C `traceparent` of a span (`00-<trace id>-<span id>-<flags>`), or undefined when it has none. */
export function traceparentOf(span: Span): string | undefined {
  const ctx = span.spanContext();
  if (!trace.isSpanContextValid(ctx)) return undefined;
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The (remote) span context a stored `traceparent` names, or undefined when it is absent or malformed. */
export function spanContextOf(traceparent: string | null | undefined): SpanContext | undefined {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!match) return undefined;
  const ctx: SpanContext = {
    traceId: match[1] ?? "",
    spanId: match[2] ?? "",
    traceFlags: Number.parseInt(match[3] ?? "0", 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return trace.isSpanContextValid(ctx) ? ctx : undefined;
}
