import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { closer, listenLocal } from "./local-server.ts";

/**
 * A generic idempotent target for delivery tests: `POST /apply {items:[{key, value}]}` sets
 * `state[key] = value` for every item (applying twice changes nothing), with fault injection
 * (failures, 429 + Retry-After, latency) and a log of every request for timing assertions.
 */

export interface FakeTargetRequest {
  /** When the request arrived and when it was answered (ms since epoch). */
  at: number;
  answeredAt: number;
  status: number;
  keys: string[];
}

export interface Fault {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface FakeTarget {
  url: string;
  state: Map<string, unknown>;
  requests: FakeTargetRequest[];
  /** Applied item count (duplicates included): at-least-once shows as applied > state.size. */
  applied: number;
  latencyMs: number;
  /** The next `count` requests fail with `fault` (nothing applied). */
  failNext(count: number, fault?: Fault): void;
  /** Every request fails with `fault` until called with undefined. */
  failAlways(fault: Fault | undefined): void;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
}

export async function startFakeTarget(options: { latencyMs?: number } = {}): Promise<FakeTarget> {
  const queued: Fault[] = [];
  let always: Fault | undefined;
  const target: FakeTarget = {
    url: "",
    state: new Map(),
    requests: [],
    applied: 0,
    latencyMs: options.latencyMs ?? 0,
    failNext(count, fault = { status: 503 }) {
      for (let i = 0; i < count; i++) queued.push(fault);
    },
    failAlways(fault) {
      always = fault;
    },
    close: async () => {},
  };

  const answer = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };

  const server = createServer(async (req, res) => {
    const at = Date.now();
    if (req.method !== "POST" || req.url !== "/apply") return answer(res, 404, { error: "not found" });
    let keys: string[] = [];
    let status = 200;
    try {
      const body = (await readJson(req)) as { items?: { key: string; value: unknown }[] };
      const items = Array.isArray(body?.items) ? body.items : [];
      keys = items.map((i) => i.key);
      if (target.latencyMs > 0) await new Promise((r) => setTimeout(r, target.latencyMs));
      const fault = queued.shift() ?? always;
      if (fault) {
        status = fault.status;
        return answer(res, fault.status, fault.body ?? { error: "injected fault" }, fault.headers);
      }
      for (const item of items) {
        target.state.set(item.key, item.value);
        target.applied += 1;
      }
      answer(res, 200, { results: items.map((i) => ({ key: i.key, ok: true })) });
    } catch {
      status = 400;
      answer(res, 400, { error: "bad json" });
    } finally {
      target.requests.push({ at, answeredAt: Date.now(), status, keys });
    }
  });
  target.url = await listenLocal(server);
  target.close = closer(server);
  return target;
}
