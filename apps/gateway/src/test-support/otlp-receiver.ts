import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync, inflateSync } from "node:zlib";

/**
 * A fake OpenTelemetry collector for tests: the OTLP/HTTP trace endpoint with the JSON encoding.
 *
 * Per the OTLP specification (https://opentelemetry.io/docs/specs/otlp/#otlphttp, and
 * opentelemetry-proto's `opentelemetry/proto/collector/trace/v1/trace_service.proto`):
 * - an `ExportTraceServiceRequest` is POSTed to `/v1/traces` (the default path under the
 *   `OTEL_EXPORTER_OTLP_ENDPOINT` base URL), `Content-Type: application/json` for the JSON encoding
 *   (the protobuf one, `application/x-protobuf`, is answered 415 here: tests set
 *   `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), optionally `Content-Encoding: gzip`;
 * - JSON uses the proto3 JSON mapping, except that trace and span ids are hex strings (not base64) and
 *   enum values are integers; 64-bit integers may come as strings;
 * - success is `200` with an `ExportTraceServiceResponse`, here the empty one, `{}`.
 * Other signals (`/v1/metrics`, `/v1/logs`) are counted in `requests` and answered `{}` too.
 */

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: unknown };

export interface ReceivedLink {
  traceId: string;
  spanId: string;
  attributes: Record<string, AttributeValue>;
}

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  /** OTLP `SpanKind`: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  links: ReceivedLink[];
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  /** The resource's attributes (service.name, …) and the instrumentation scope's name. */
  resource: Record<string, AttributeValue>;
  scope: string;
}

export interface FakeOtlpReceiver {
  /** Base URL, e.g. `http://127.0.0.1:4318`: the value of OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly port: number;
  /** Every span received, in arrival order. */
  readonly spans: ReceivedSpan[];
  /** Every request, whatever its path. */
  readonly requests: { method: string; path: string; contentType: string; status: number }[];
  close(): Promise<void>;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

/** OTLP JSON ids are hex; a base64 id (the generic proto3 mapping) is turned into hex as well. */
function hexId(id: unknown): string {
  if (typeof id !== "string" || id === "") return "";
  if (/^[0-9a-fA-F]+$/.test(id) && (id.length === 16 || id.length === 32)) return id.toLowerCase();
  return Buffer.from(id, "base64").toString("hex");
}

/** An OTLP `AnyValue` as a plain value. */
export function anyValue(value: unknown): AttributeValue {
  if (value === null || typeof value !== "object") return null;
  const v = value as Record<string, unknown>;
  if ("stringValue" in v) return String(v.stringValue);
  if ("boolValue" in v) return Boolean(v.boolValue);
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return Number(v.doubleValue);
  if ("arrayValue" in v)
    return ((v.arrayValue as { values?: unknown[] })?.values ?? []).map((item) => anyValue(item));
  if ("kvlistValue" in v) return attributesOf((v.kvlistValue as { values?: unknown[] })?.values);
  if ("bytesValue" in v) return String(v.bytesValue);
  return null;
}

function attributesOf(list: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of Array.isArray(list) ? list : []) {
    const { key, value } = kv as { key?: unknown; value?: unknown };
    if (typeof key === "string") out[key] = anyValue(value);
  }
  return out;
}

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: unknown };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        name?: string;
        traceId?: string;
        spanId?: string;
        parentSpanId?: string;
        kind?: number;
        attributes?: unknown;
        links?: { traceId?: string; spanId?: string; attributes?: unknown }[];
        status?: { code?: number };
      }[];
    }[];
  }[];
}

function spansOf(request: ExportRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          name: s.name ?? "",
          traceId: hexId(s.traceId),
          spanId: hexId(s.spanId),
          parentSpanId: hexId(s.parentSpanId),
          kind: Number(s.kind ?? 0),
          attributes: attributesOf(s.attributes),
          links: (s.links ?? []).map((l) => ({
            traceId: hexId(l.traceId),
            spanId: hexId(l.spanId),
            attributes: attributesOf(l.attributes),
          })),
          statusCode: Number(s.status?.code ?? 0),
          resource,
          scope: ss.scope?.name ?? "",
        });
      }
    }
  }
  return spans;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const encoding = String(req.headers["content-encoding"] ?? "").toLowerCase();
  if (encoding === "gzip") return gunzipSync(raw);
  if (encoding === "deflate") return inflateSync(raw);
  return raw;
}

export async function startFakeOtlpReceiver(): Promise<FakeOtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: FakeOtlpReceiver["requests"] = [];

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const contentType = String(req.headers["content-type"] ?? "")
      .split(";")[0]
      ?.trim()
      .toLowerCase();
    const record = { method: req.method ?? "", path, contentType: contentType ?? "", status: 0 };
    requests.push(record);
    const reply = (status: number, body: unknown) => {
      record.status = status;
      answer(res, status, body);
    };
    if (req.method !== "POST") return reply(405, { code: 12, message: "POST only" });
    if (!["/v1/traces", "/v1/metrics", "/v1/logs"].includes(path))
      return reply(404, { code: 5, message: "not found" });
    if (record.contentType !== "application/json")
      return reply(415, { code: 3, message: "this fake takes application/json only" });
    readBody(req).then(
      (body) => {
        let parsed: ExportRequest;
        try {
          parsed = JSON.parse(body.toString("utf8")) as ExportRequest;
        } catch {
          return reply(400, { code: 3, message: "body is not JSON" });
        }
        if (path === "/v1/traces") spans.push(...spansOf(parsed));
        reply(200, {});
      },
      () => reply(400, { code: 3, message: "body could not be read" }),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    spans,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
