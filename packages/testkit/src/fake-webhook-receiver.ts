import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { Webhook } from "svix";
import { closer, listenLocal } from "./local-server.ts";

/**
 * A local stand-in for a receiver of Standard Webhooks (an ERP's or a Lambda's endpoint that the
 * webhook connector forwards to), for tests and sandbox mode. It follows the Standard Webhooks
 * specification, https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 * (site: https://www.standardwebhooks.com/), as a receiver:
 *
 * - "Webhook headers": `webhook-id`, `webhook-timestamp` (unix seconds), `webhook-signature`
 *   (space-separated `v1,<base64>` entries) — verified with the official `svix` library's
 *   `Webhook.verify` ("Verifying signatures": constant-time comparison, timestamp tolerance of
 *   5 minutes), which is what receivers are told to use. A request that does not verify is answered
 *   `401` `{"error":"invalid signature"}`, as a real receiver would; one that does, `204`.
 * - "Delivery success and failure": the sender counts only a 2xx as delivered; `failNext(status, …)`
 *   plays the other answers the spec names (3xx, 410 Gone, 429 with `Retry-After`, 502/503/504, …).
 * - The receiver serves one path (`path`, default `/webhook`): other paths answer 404, other methods
 *   405 [guess: what a typical framework route does].
 *
 * Every request is logged in `received` (also the refused ones, with `verified` and the `status`
 * answered); `accepted()` lists those answered 2xx. Answers can be delayed (`latencyMs`).
 */

export interface ReceivedWebhook {
  /** `webhook-id` as received (`undefined` when absent). */
  id: string | undefined;
  /** `webhook-timestamp` as a number (`undefined` when absent or not a number). */
  timestamp: number | undefined;
  /** Every request header, names lower-cased (repeated headers joined with `, `). */
  headers: Record<string, string>;
  /** The body parsed as JSON; the raw text when it is not JSON. */
  body: unknown;
  /** The body exactly as received. */
  raw: string;
  /** Whether `svix`'s `Webhook.verify` accepted the request with the receiver's secret. */
  verified: boolean;
  /** The status answered. */
  status: number;
  /** `Date.now()` when the request arrived. */
  at: number;
}

export interface FakeWebhookFault {
  /** Answer headers, e.g. `{ "retry-after": "2" }`. */
  headers?: Record<string, string>;
  /** Answer body: JSON-encoded, or sent as is when a string; default `{"error":"fault <status>"}`. */
  body?: unknown;
  /** How many of the next requests get this answer; default 1. */
  times?: number;
  /** Only requests with this `webhook-id` take the fault (e.g. one event's); others pass. */
  id?: string;
}

export interface FakeWebhookReceiverOptions {
  /** The signing secret (`whsec_…`) the receiver verifies with; a fresh random one when absent. */
  secret?: string;
  /** The path it serves; default `/webhook`. */
  path?: string;
  /** Delay before every answer, in milliseconds. */
  latencyMs?: number;
}

export interface FakeWebhookReceiver {
  /** Where to send webhooks, e.g. `http://127.0.0.1:43123/webhook`: the connector's `url`. */
  readonly url: string;
  /** The secret it verifies with: the connector's `secret`. */
  readonly secret: string;
  /** Every request to the path, in arrival order. */
  readonly received: ReceivedWebhook[];
  /** The requests answered 2xx (verified ones, unless a fault answered), in arrival order. */
  accepted(): ReceivedWebhook[];
  /** Delay before every answer, in milliseconds; change it at any time. */
  latencyMs: number;
  /**
   * The next `fault.times` (default 1) requests (with `webhook-id` `fault.id`, when given) are
   * answered `status` whatever they carry (the signature is still checked and logged). Queued after
   * faults already pending.
   */
  failNext(status: number, fault?: FakeWebhookFault): void;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface QueuedFault extends Answer {
  id: string | undefined;
}

/** A secret as Standard Webhooks serializes one: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startFakeWebhookReceiver(
  options: FakeWebhookReceiverOptions = {},
): Promise<FakeWebhookReceiver> {
  const secret = options.secret ?? generateWebhookSecret();
  const path = options.path ?? "/webhook";
  // The official verifier, as a receiver uses it (it throws on a bad secret: fail at start).
  const verifier = new Webhook(secret);
  const faults: QueuedFault[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const receiver: FakeWebhookReceiver = {
    url: "",
    secret,
    received: [],
    accepted: () => receiver.received.filter((r) => r.status >= 200 && r.status < 300),
    latencyMs: options.latencyMs ?? 0,
    failNext(status, fault = {}) {
      const times = fault.times ?? 1;
      for (let i = 0; i < times; i++) {
        faults.push({
          status,
          body: fault.body === undefined ? { error: `fault ${status}` } : fault.body,
          headers: fault.headers,
          id: fault.id,
        });
      }
    },
    close: async () => {},
  };

  function verify(raw: string, headers: Record<string, string>): boolean {
    try {
      verifier.verify(raw, headers);
      return true;
    } catch {
      return false;
    }
  }

  async function answer(req: IncomingMessage): Promise<Answer> {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const raw = await readText(req);
    if (url.pathname !== path) return { status: 404, body: { error: "not found" } };
    if (req.method !== "POST")
      return { status: 405, body: { error: "method not allowed" }, headers: { allow: "POST" } };
    const headers = flatten(req.headers);
    const stamp = Number(headers["webhook-timestamp"]);
    const record: ReceivedWebhook = {
      id: headers["webhook-id"],
      timestamp: headers["webhook-timestamp"] !== undefined && Number.isFinite(stamp) ? stamp : undefined,
      headers,
      body: parsed(raw),
      raw,
      verified: verify(raw, headers),
      status: 0,
      at: Date.now(),
    };
    receiver.received.push(record);
    const index = faults.findIndex((f) => f.id === undefined || f.id === record.id);
    const fault = index >= 0 ? faults.splice(index, 1)[0] : undefined;
    const result: Answer =
      fault ?? (record.verified ? { status: 204 } : { status: 401, body: { error: "invalid signature" } });
    record.status = result.status;
    return result;
  }

  const server = createServer((req, res: ServerResponse) => {
    const send = (result: Answer) => {
      const headers = { ...result.headers };
      if (result.body === undefined) {
        res.writeHead(result.status, headers).end();
      } else if (typeof result.body === "string") {
        res.writeHead(result.status, { "content-type": "text/plain; charset=utf-8", ...headers });
        res.end(result.body);
      } else {
        res.writeHead(result.status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(result.body));
      }
    };
    const respond = (result: Answer) => {
      if (receiver.latencyMs <= 0) return send(result);
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(result);
      }, receiver.latencyMs);
      timers.add(timer);
    };
    answer(req).then(respond, () => {
      if (!res.headersSent) send({ status: 500, body: { error: "internal error" } });
    });
  });
  (receiver as { url: string }).url = `${await listenLocal(server)}${path}`;
  receiver.close = closer(server, timers);
  return receiver;
}
