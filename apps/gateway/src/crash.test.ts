import { randomUUID } from "node:crypto";
import { Agent, type ClientRequest, type IncomingMessage, type RequestOptions, request } from "node:http";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import {
  SAMPLE_EVENT_TYPES,
  type SendResult,
  sampleEvent,
  sendWebhook,
  signedHeaders,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChildGateway,
  freePort,
  killChildren,
  spawnGateway,
  TEST_SECRET,
  tempDir,
  writeChildConfig,
} from "./test-support/harness.ts";

/**
 * Crash safety of a real `engage-bridge start` child: SIGKILL at random moments under concurrent
 * load, graceful SIGTERM with requests in flight, and dedup surviving a restart. Every assertion is
 * made on the SQLite file itself, read after the gateway has exited.
 */

const children = new Set<ChildGateway>();
const dirs: { remove: () => void }[] = [];

afterEach(async () => {
  await killChildren(children);
  for (const dir of dirs.splice(0)) dir.remove();
});

interface Setup {
  db: string;
  configFile: string;
  port: number;
  webhookUrl: string;
  start: () => Promise<ChildGateway>;
}

async function setup(): Promise<Setup> {
  const dir = tempDir("engage-crash-");
  dirs.push(dir);
  const { configFile, db } = writeChildConfig(dir.path);
  const port = await freePort();
  return {
    db,
    configFile,
    port,
    webhookUrl: `http://127.0.0.1:${port}/webhooks/engage`,
    async start() {
      const gw = await spawnGateway(configFile, port);
      children.add(gw);
      return gw;
    },
  };
}

async function kill9(gw: ChildGateway): Promise<void> {
  gw.child.kill("SIGKILL");
  expect(await gw.exited).toBe("SIGKILL");
  children.delete(gw);
}

interface StoredRow {
  svix_id: string;
  n: number;
  body: Uint8Array;
}

/** Rows per svix_id of source `engage`, read straight from the database file. */
function readStored(db: string): Map<string, { count: number; body: string }> {
  const conn = new DatabaseSync(db);
  try {
    const rows = conn
      .prepare(
        "SELECT svix_id, COUNT(*) AS n, MIN(body) AS body FROM events WHERE source = 'engage' GROUP BY svix_id",
      )
      .all() as unknown as StoredRow[];
    return new Map(
      rows.map((r) => [r.svix_id, { count: Number(r.n), body: Buffer.from(r.body).toString() }]),
    );
  } finally {
    conn.close();
  }
}

function totalRows(db: string): number {
  const conn = new DatabaseSync(db);
  try {
    return Number((conn.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n);
  } finally {
    conn.close();
  }
}

/** The value of `promise`, or `fallback` if it takes longer than `ms`. */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const eventType = (i: number) => SAMPLE_EVENT_TYPES[i % SAMPLE_EVENT_TYPES.length] ?? "loyalty.addPoints";
const newId = (label: string) => `msg_${label}_${randomUUID().replaceAll("-", "")}`;

/** One Svix-like attempt over fetch (keep-alive), no retry: status 0 means a connection error. */
function sendOnce(url: string, msgId: string, body: string): Promise<SendResult> {
  return sendWebhook({ url, secret: TEST_SECRET, body, msgId, maxAttempts: 1, timeoutMs: 5_000 });
}

function requestOptions(url: string, msgId: string, body: string, agent: Agent | false): RequestOptions {
  const { hostname, port, pathname } = new URL(url);
  return {
    host: hostname,
    port,
    path: pathname,
    method: "POST",
    agent,
    headers: {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      ...(agent === false ? { connection: "close" } : {}),
      ...signedHeaders(TEST_SECRET, msgId, body),
    },
  };
}

/** A signed POST on a new connection of its own: status 0 means a connection error. */
function postFresh(url: string, msgId: string, body: string): Promise<{ msgId: string; status: number }> {
  return new Promise((resolve) => {
    const req = request(requestOptions(url, msgId, body, false), (res) => {
      res.resume();
      res.on("end", () => resolve({ msgId, status: res.statusCode ?? 0 }));
      res.on("error", () => resolve({ msgId, status: 0 }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ msgId, status: 0 }));
    req.end(body);
  });
}

/** Posts fresh connections until one is refused; returns every attempt (the last one refused). */
async function untilRefused(url: string): Promise<{ msgId: string; status: number }[]> {
  const attempts: { msgId: string; status: number }[] = [];
  for (;;) {
    const result = await postFresh(url, newId("late"), sampleEvent(eventType(attempts.length)));
    attempts.push(result);
    if (result.status === 0) return attempts;
    expect(result.status).toBe(204);
    expect(attempts.length).toBeLessThan(1_000);
  }
}

/** A signed request with only half its body written (and flushed); `finish` sends the rest. */
async function halfSent(
  url: string,
  options: { agent: Agent | false },
): Promise<{ msgId: string; finish: () => Promise<number> }> {
  const msgId = newId("slow");
  const body = sampleEvent("loyalty.addPoints");
  const req: ClientRequest = request(requestOptions(url, msgId, body, options.agent));
  const response = new Promise<number>((resolve, reject) => {
    req.on("response", (res: IncomingMessage) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  // Settled later by `finish`; until then a crash of the gateway must not be an unhandled rejection.
  response.catch(() => undefined);
  const half = Math.floor(body.length / 2);
  await new Promise<void>((resolve, reject) =>
    req.write(body.slice(0, half), (error) => (error ? reject(error) : resolve())),
  );
  return {
    msgId,
    finish() {
      req.end(body.slice(half));
      return response;
    },
  };
}

describe("crash safety (real child process, real SQLite file)", () => {
  it("stores every acknowledged event exactly once across repeated SIGKILLs under concurrent load", async () => {
    const env = await setup();
    let gw = await env.start();

    const SENDERS = 8;
    const PER_SENDER = 64;
    const sent = new Map<string, string>();
    const acknowledged = new Set<string>();
    const httpStatuses = new Set<number>();
    let failedAttempts = 0;
    let sendersDone = false;
    let killing = true;

    // Each Svix message is redelivered on the compressed schedule (0, 1 ms, 60 ms, 360 ms) and, should
    // that run out while the gateway restarts, again from the start, like a patient Svix.
    const deliver = async (msgId: string, body: string) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const result = await sendWebhook({
          url: env.webhookUrl,
          secret: TEST_SECRET,
          body,
          msgId,
          timeScale: 0.0002,
          maxAttempts: 4,
          timeoutMs: 2_000,
        });
        for (const attempt of result.attempts) {
          if (attempt.status !== 0) httpStatuses.add(attempt.status);
          if (attempt.status < 200 || attempt.status >= 300) failedAttempts++;
        }
        if (result.delivered) {
          acknowledged.add(msgId);
          return;
        }
        if (Date.now() > deadline)
          throw new Error(`${msgId} was never acknowledged: ${JSON.stringify(result)}`);
      }
    };

    const sender = async (index: number) => {
      for (let i = 0; i < PER_SENDER; i++) {
        const msgId = newId(`crash_${index}_${i}`);
        const body = sampleEvent(eventType(index + i));
        sent.set(msgId, body);
        await deliver(msgId, body);
        // Unpaced, the senders would be done before the first crash: spread them over the crashes.
        if (killing) await sleep(20 + Math.random() * 80);
      }
    };
    const senders = Promise.all(Array.from({ length: SENDERS }, (_, i) => sender(i))).finally(() => {
      sendersDone = true;
    });

    // Kill the gateway at random moments while the senders run, and restart it on the same port and db.
    const kills = 3 + Math.floor(Math.random() * 3);
    let killsUnderLoad = 0;
    for (let k = 0; k < kills; k++) {
      await sleep(100 + Math.random() * 500);
      if (!sendersDone) killsUnderLoad++;
      await kill9(gw);
      gw = await env.start();
    }
    killing = false;
    await senders;

    // A final crash and restart: the file must open and answer as before.
    await kill9(gw);
    gw = await env.start();
    gw.child.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
    children.delete(gw);

    expect(killsUnderLoad).toBe(kills);
    // The crashes were seen by the senders (refused or cut connections), and were retried.
    expect(failedAttempts).toBeGreaterThan(0);
    // Every answer that came back was a 204: a crash never shows up as an error status.
    expect([...httpStatuses]).toEqual([204]);
    // Every sender eventually got every event through.
    expect(sent.size).toBe(SENDERS * PER_SENDER);
    expect(acknowledged.size).toBe(sent.size);

    const stored = readStored(env.db);
    const duplicated = [...stored].filter(([, row]) => row.count !== 1).map(([id]) => id);
    expect(duplicated).toEqual([]);
    expect(totalRows(env.db)).toBe(stored.size);
    const missing = [...acknowledged].filter((id) => !stored.has(id));
    expect(missing).toEqual([]);
    // Nothing that was not sent, and each body intact.
    expect([...stored.keys()].filter((id) => !sent.has(id))).toEqual([]);
    const corrupted = [...stored].filter(([id, row]) => row.body !== sent.get(id)).map(([id]) => id);
    expect(corrupted).toEqual([]);
  }, 120_000);

  it("on SIGTERM finishes in-flight requests, refuses new ones and exits 0 within 10 s", async () => {
    const env = await setup();
    const gw = await env.start();

    // A request whose body is only half sent: in flight for as long as the test decides.
    const slow = await halfSent(env.webhookUrl, { agent: false });
    // Once a later request on another connection is answered, the gateway has read the slow headers.
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);

    const burst = Array.from({ length: 50 }, (_, i) =>
      sendOnce(env.webhookUrl, newId(`burst_${i}`), sampleEvent(eventType(i))),
    );
    // SIGTERM as soon as the first of the burst is answered, while the others are in flight.
    await Promise.race(burst);
    expect(gw.child.kill("SIGTERM")).toBe(true);
    const exitCode = within(gw.exited, 10_000, "still running after 10 s");

    // New connections are refused once the gateway stops listening (the first few may still race in).
    const late = await untilRefused(env.webhookUrl);
    const afterShutdown = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        postFresh(env.webhookUrl, newId(`after_${i}`), sampleEvent(eventType(i))),
      ),
    );
    expect(afterShutdown.map((r) => r.status)).toEqual([0, 0, 0, 0, 0]);

    // The request that was in flight when the shutdown began is still served, and stored.
    expect(await slow.finish()).toBe(204);

    expect(await exitCode).toBe(0);
    children.delete(gw);

    const results = await Promise.all(burst);
    for (const r of [...results, ...late]) expect([0, 204]).toContain(r.status);
    expect(results.filter((r) => r.status === 204).length).toBeGreaterThan(0);
    const acknowledged = [
      slow.msgId,
      ...[...results, ...late].filter((r) => r.status === 204).map((r) => r.msgId),
    ];

    const stored = readStored(env.db);
    expect(acknowledged.filter((id) => stored.get(id)?.count !== 1)).toEqual([]);
    expect(afterShutdown.filter((r) => stored.has(r.msgId))).toEqual([]);
  }, 60_000);

  // A keep-alive connection busy when SIGTERM came must not go on carrying new requests after its
  // response (Node would serve them until keepAliveTimeout): its answer says `Connection: close`.
  it("refuses a new request on a kept-alive connection that was busy when SIGTERM came", async () => {
    const env = await setup();
    const gw = await env.start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const slow = await halfSent(env.webhookUrl, { agent });
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      gw.child.kill("SIGTERM");
      await untilRefused(env.webhookUrl);
      expect(await slow.finish()).toBe(204);
      // The next message on the same (reused) connection arrives after the shutdown began.
      const status = await halfSent(env.webhookUrl, { agent })
        .then((next) => next.finish())
        .catch(() => 0);
      expect(status).toBe(0);
    } finally {
      agent.destroy();
    }
  }, 60_000);

  it("still deduplicates a redelivered message after a SIGKILL and restart", async () => {
    const env = await setup();
    let gw = await env.start();
    const msgId = newId("dedup");
    const body = sampleEvent("contact.acceptsEmail.changed");

    expect((await sendOnce(env.webhookUrl, msgId, body)).status).toBe(204);
    await kill9(gw);
    gw = await env.start();
    expect((await sendOnce(env.webhookUrl, msgId, body)).status).toBe(204);
    // A new message is still stored after the restart, so the 204 above was dedup, not a dead store.
    const other = newId("dedup_other");
    expect((await sendOnce(env.webhookUrl, other, sampleEvent("loyalty.addPoints"))).status).toBe(204);
    await kill9(gw);

    const stored = readStored(env.db);
    expect(stored.get(msgId)?.count).toBe(1);
    expect(stored.get(other)?.count).toBe(1);
    expect(totalRows(env.db)).toBe(2);
  }, 60_000);
});
