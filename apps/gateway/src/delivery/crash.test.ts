import { randomUUID } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type FakeTarget, sampleEvent, sendWebhook, startFakeTarget } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChildGateway,
  freePort,
  killChildren,
  spawnGateway,
  TEST_SECRET,
  tempDir,
  waitFor,
  writeChildConfig,
} from "../test-support/harness.ts";

/**
 * Crash safety of the delivery side: an ingest-only child (`start --role ingest`) and a worker-only
 * child (`start --role worker`) on one SQLite file, delivering to a fake target in this process.
 * The worker is SIGKILLed with batches in flight and restarted, or stopped with SIGTERM; in the end
 * every delivery is finished and the target's state is exactly what the events say.
 */

const TEST_CONNECTORS = fileURLToPath(import.meta.resolve("@engage-bridge/testkit/test-connectors"));

type Role = "ingest" | "worker";

interface Child extends ChildGateway {
  role: Role;
}

const children = new Set<Child>();
const targets = new Set<FakeTarget>();
const dirs: { remove: () => void }[] = [];

afterEach(async () => {
  await killChildren(children);
  await Promise.all([...targets].map((t) => t.close()));
  targets.clear();
  for (const dir of dirs.splice(0)) dir.remove();
});

async function fakeTarget(latencyMs: number): Promise<FakeTarget> {
  const target = await startFakeTarget({ latencyMs });
  targets.add(target);
  return target;
}

async function spawnRole(configFile: string, port: number, role: Role): Promise<Child> {
  const gw = { ...(await spawnGateway(configFile, port, {}, ["--role", role])), role };
  children.add(gw);
  return gw;
}

async function kill9(gw: Child): Promise<void> {
  gw.child.kill("SIGKILL");
  expect(await gw.exited).toBe("SIGKILL");
  children.delete(gw);
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

interface Env {
  db: string;
  webhookUrl: string;
  /** A worker holds its leases this long (connector-worker.ts: attemptTimeout·2 + 10 s). */
  leaseMs: number;
  start: (role: Role) => Promise<Child>;
}

async function setup(target: FakeTarget, attemptTimeoutSeconds: number): Promise<Env> {
  const dir = tempDir("engage-delivery-crash-");
  dirs.push(dir);
  const { configFile, db } = writeChildConfig(dir.path, {
    plugins: [TEST_CONNECTORS],
    connectors: { testTarget: { baseUrl: target.url } },
    delivery: { pollIntervalMs: 20, retryBaseSeconds: 0.05, retryMaxSeconds: 0.5, attemptTimeoutSeconds },
  });
  const ports: Record<Role, number> = { ingest: await freePort(), worker: await freePort() };
  return {
    db,
    webhookUrl: `http://127.0.0.1:${ports.ingest}/webhooks/engage`,
    leaseMs: attemptTimeoutSeconds * 2_000 + 10_000,
    start: (role) => spawnRole(configFile, ports[role], role),
  };
}

// --- the store, read straight from the SQLite file ---

function query<T>(db: string, sql: string, ...params: (string | number)[]): T[] {
  const conn = new DatabaseSync(db, { readOnly: true, timeout: 5_000 });
  try {
    return conn.prepare(sql).all(...params) as unknown as T[];
  } finally {
    conn.close();
  }
}

function deliveryStatuses(db: string): Record<string, number> {
  const rows = query<{ status: string; n: number }>(
    db,
    "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status",
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Every one of `expected` deliveries is finished (delivered or skipped; dead counts as unfinished here). */
function allFinished(db: string, expected: number): boolean {
  const s = deliveryStatuses(db);
  return (s.delivered ?? 0) + (s.skipped ?? 0) === expected;
}

/** Milliseconds since `pid`'s worker leased the batch it holds now, or undefined when it holds none. */
function leaseAge(env: Env, pid: number): number | undefined {
  const [row] = query<{ until: number | null }>(
    env.db,
    `SELECT MAX(lease_until) AS until FROM deliveries
     WHERE lease_owner LIKE ? AND status IN ('pending', 'retrying') AND lease_until > ?`,
    `${pid}:%`,
    Date.now(),
  );
  if (row?.until == null) return undefined;
  return Date.now() - (Number(row.until) - env.leaseMs);
}

function leasesHeldBy(db: string, pid: number): number {
  const [row] = query<{ n: number }>(
    db,
    "SELECT COUNT(*) AS n FROM deliveries WHERE lease_owner LIKE ?",
    `${pid}:%`,
  );
  return Number(row?.n ?? 0);
}

interface FinishedDelivery {
  event_id: string;
  type: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

function finishedDeliveries(db: string): FinishedDelivery[] {
  return query<FinishedDelivery>(
    db,
    `SELECT e.event_id, e.type, d.status, d.attempts, d.last_error
     FROM deliveries d JOIN events e ON e.id = d.event_ref WHERE d.connector = 'testTarget'`,
  );
}

// --- events and what the target must end up with ---

const LOYALTY = ["loyalty.addPoints", "point.balance.updated", "reward.voucher.created"] as const;
const PREFERENCE = [
  ["contact.acceptsEmail.changed", "email"],
  ["contact.acceptsSms.changed", "sms"],
  ["contact.acceptsPostal.changed", "postal"],
] as const;

interface Planned {
  msgId: string;
  body: string;
  /** The target's key this event sets, and the value it sets it to. */
  key: string;
  value: unknown;
  preference: boolean;
}

/**
 * `count` events, half loyalty and half preference changes, for `contacts` contacts (preference values
 * random unless `value` says). Every preference
 * event carries a `changedAt` that grows in plan order, so the newest (the last planned) wins per
 * (contact, channel), whatever order the gateway receives or delivers them in.
 */
function planEvents(
  count: number,
  options: { contacts?: number; value?: (index: number) => boolean } = {},
): Planned[] {
  const contacts = options.contacts ?? 20;
  const preferenceValue = options.value ?? (() => Math.random() < 0.5);
  const run = randomUUID().slice(0, 8);
  const base = Date.now() - 3_600_000;
  return Array.from({ length: count }, (_, i) => {
    const contactId = `contact-${run}-${(i * 7) % contacts}`;
    const msgId = `msg_${run}_${i}`;
    const id = randomUUID();
    if (i % 2 === 0) {
      const type = LOYALTY[(i / 2) % LOYALTY.length] ?? "loyalty.addPoints";
      return {
        msgId,
        body: sampleEvent(type, { id, contactId }),
        key: `event:${id}`,
        value: type,
        preference: false,
      };
    }
    const [type, channel] = PREFERENCE[((i - 1) / 2) % PREFERENCE.length] ?? PREFERENCE[0];
    const value = preferenceValue(i);
    const changedAt = new Date(base + i * 1_000).toISOString();
    return {
      msgId,
      body: sampleEvent(type, { id, contactId, payload: { value, changedAt } }),
      key: `${contactId}:${channel}`,
      value,
      preference: true,
    };
  });
}

/** The target's expected state: later planned events overwrite earlier ones of the same key. */
function expectedState(events: readonly Planned[]): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  for (const e of events) state[e.key] = e.value;
  return state;
}

/** Sends every event (Svix-like, a few quick retries) with `concurrency` senders; each must be acknowledged. */
async function sendAll(
  url: string,
  events: readonly Planned[],
  concurrency: number,
  gapMs = 0,
): Promise<void> {
  let next = 0;
  const sender = async () => {
    for (let e = events[next++]; e; e = events[next++]) {
      const result = await sendWebhook({
        url,
        secret: TEST_SECRET,
        body: e.body,
        msgId: e.msgId,
        maxAttempts: 4,
        timeScale: 0.0002,
        timeoutMs: 5_000,
      });
      if (!result.delivered) throw new Error(`${e.msgId} was not acknowledged: ${JSON.stringify(result)}`);
      // Pacing, not waiting for a condition: spreads the sends over the worker's crashes.
      if (gapMs > 0) await sleep(gapMs);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
}

/** How many successful target requests carried each key. */
function appliedTimes(target: FakeTarget): Map<string, number> {
  const times = new Map<string, number>();
  for (const r of target.requests) {
    if (r.status !== 200) continue;
    for (const key of r.keys) times.set(key, (times.get(key) ?? 0) + 1);
  }
  return times;
}

/** Finished, with loyalty events all delivered and only superseded preference changes skipped. */
function expectAllFinished(db: string, events: readonly Planned[]): void {
  const rows = finishedDeliveries(db);
  expect(rows.length).toBe(events.length);
  const unfinished = rows.filter((r) => r.status !== "delivered" && r.status !== "skipped");
  expect(unfinished).toEqual([]);
  const wronglySkipped = rows.filter((r) => r.status === "skipped" && !r.type.startsWith("contact.accepts"));
  expect(wronglySkipped).toEqual([]);
}

describe("delivery crash safety (ingest and worker children, one SQLite file)", () => {
  it("loses nothing and converges exactly when the worker is SIGKILLed mid-batch and restarted", async ({
    annotate,
  }) => {
    const target = await fakeTarget(300);
    // attemptTimeout 1 s → lease 12 s: a killed worker's batch comes back 12 s after it was leased.
    const env = await setup(target, 1);
    await env.start("ingest");
    const events = planEvents(300);
    await sendAll(env.webhookUrl, events.slice(0, 200), 8);

    let worker = await env.start("worker");
    // The rest arrives while the worker crashes and restarts.
    const late = sendAll(env.webhookUrl, events.slice(200), 2, 20);

    const kills: { at: number; pid: number }[] = [];
    for (let k = 0; k < 3; k++) {
      // A batch is leased by this worker and its request has had time to reach the target (300 ms latency).
      await waitFor(
        () => {
          const age = leaseAge(env, worker.pid);
          return age !== undefined && age >= 60;
        },
        15_000,
        `worker ${k + 1} to have a batch in flight`,
      );
      const at = Date.now();
      await kill9(worker);
      kills.push({ at, pid: worker.pid });
      worker = await env.start("worker");
    }
    await late;

    await waitFor(() => allFinished(env.db, events.length), 40_000, "every delivery to finish");
    expectAllFinished(env.db, events);
    expect(deliveryStatuses(env.db)).not.toHaveProperty("dead");
    // The killed workers' leases ran out and were taken over; none is left.
    for (const k of kills) expect(leasesHeldBy(env.db, k.pid)).toBe(0);

    const expected = expectedState(events);
    expect(Object.fromEntries(target.state)).toEqual(expected);
    expect(target.applied).toBeGreaterThanOrEqual(Object.keys(expected).length);

    // Per crash: the request in flight when the worker died (the target still applied it) and how
    // many of its loyalty items (one event per key) were applied again after the lease ran out.
    const times = appliedTimes(target);
    const stranded = new Set<string>();
    const perCrash = kills.map((k) => {
      const inFlight = target.requests.filter((r) => r.at <= k.at && r.answeredAt >= k.at);
      const keys = inFlight.flatMap((r) => r.keys);
      for (const key of keys) stranded.add(key);
      const again = target.requests
        .filter((r) => r.status === 200 && r.at > k.at)
        .flatMap((r) => r.keys)
        .filter((key) => key.startsWith("event:") && keys.includes(key));
      return {
        inFlightRequests: inFlight.length,
        inFlightItems: keys.length,
        reapplied: new Set(again).size,
      };
    });
    const loyaltyDuplicates = [...times].filter(([key, n]) => key.startsWith("event:") && n > 1);
    await annotate(
      `crashes: ${JSON.stringify(perCrash)}; applied ${target.applied} for ${Object.keys(expected).length} keys ` +
        `(${target.requests.length} requests); loyalty items applied more than once: ${loyaltyDuplicates.length}`,
    );

    // At-least-once, and no more than that: an item applied twice was in flight at a crash, or its
    // delivery recorded a retry (an attempt that timed out may still have reached the target).
    const retried = new Set(
      finishedDeliveries(env.db)
        .filter((r) => r.attempts > 1)
        .map((r) => `event:${r.event_id}`),
    );
    expect(loyaltyDuplicates.filter(([key]) => !stranded.has(key) && !retried.has(key))).toEqual([]);
    // The crashes hit batches in flight, and at least one was re-run after its lease ran out.
    expect(perCrash.some((c) => c.inFlightItems > 0)).toBe(true);
    expect(perCrash.reduce((sum, c) => sum + c.reapplied, 0)).toBeGreaterThan(0);
  }, 60_000);

  it("on SIGTERM finishes the batch in flight, gives nothing up and exits 0 within 10 s", async ({
    annotate,
  }) => {
    const target = await fakeTarget(1_500);
    const env = await setup(target, 3);
    await env.start("ingest");
    const events = planEvents(100);
    await sendAll(env.webhookUrl, events, 8);

    const worker = await env.start("worker");
    await waitFor(
      () => {
        const age = leaseAge(env, worker.pid);
        return age !== undefined && age >= 100;
      },
      15_000,
      "a batch in flight",
    );
    const termAt = Date.now();
    expect(worker.child.kill("SIGTERM")).toBe(true);
    const code = await within(worker.exited, 10_000, "still running after 10 s");
    const stoppedMs = Date.now() - termAt;
    expect(code).toBe(0);
    children.delete(worker);
    await annotate(`worker exited ${stoppedMs} ms after SIGTERM`);

    // The batch in flight was answered, recorded, and its leases are gone; no new batch was started.
    const inFlight = target.requests.filter((r) => r.at <= termAt);
    expect(inFlight.length).toBe(1);
    expect(inFlight[0]?.status).toBe(200);
    expect(target.requests.filter((r) => r.at > termAt)).toEqual([]);
    expect(leasesHeldBy(env.db, worker.pid)).toBe(0);
    const recorded = deliveryStatuses(env.db);
    expect((recorded.delivered ?? 0) + (recorded.skipped ?? 0)).toBeGreaterThan(0);

    await env.start("worker");
    await waitFor(() => allFinished(env.db, events.length), 30_000, "every delivery to finish");
    expectAllFinished(env.db, events);
    expect(Object.fromEntries(target.state)).toEqual(expectedState(events));
    // A graceful stop re-runs nothing: every item reached the target once.
    expect([...appliedTimes(target)].filter(([key, n]) => key.startsWith("event:") && n > 1)).toEqual([]);
  }, 60_000);

  it("an ingest-only child never calls the target; a worker started later drains its backlog", async () => {
    const target = await fakeTarget(0);
    const env = await setup(target, 1);
    await env.start("ingest");
    const events = planEvents(80);
    await sendAll(env.webhookUrl, events.slice(0, 60), 8);
    await waitFor(() => deliveryStatuses(env.db).pending === 60, 10_000, "60 pending deliveries");

    // Proving an absence takes time: 25 poll intervals in which a worker would have delivered.
    await sleep(500);
    expect(target.requests).toEqual([]);
    expect(target.applied).toBe(0);
    expect(deliveryStatuses(env.db)).toEqual({ pending: 60 });
    const leased = query<{ n: number }>(
      env.db,
      "SELECT COUNT(*) AS n FROM deliveries WHERE lease_owner IS NOT NULL",
    );
    expect(Number(leased[0]?.n)).toBe(0);

    await env.start("worker");
    await waitFor(() => allFinished(env.db, 60), 15_000, "the backlog to drain");
    expect(target.requests.length).toBeGreaterThan(0);
    // New events reach the worker through the shared store (no in-process wake-up across children).
    await sendAll(env.webhookUrl, events.slice(60), 4);
    await waitFor(() => allFinished(env.db, events.length), 15_000, "the new events to be delivered");
    expectAllFinished(env.db, events);
    expect(Object.fromEntries(target.state)).toEqual(expectedState(events));
  }, 60_000);
  // Without the Engage API the guard skips preference changes older than the last one applied. A
  // killed worker's request can still land on the target after a newer change was delivered: when
  // its deliveries come back (lease expired), the newer applied values must be sent again rather
  // than the old ones just skipped, or the target would keep the older value for good.
  it("converges when a killed worker's request is applied by the target after a newer change", async () => {
    const target = await fakeTarget(2_500);
    const env = await setup(target, 1);
    await env.start("ingest");
    // 5 contacts: most (contact, channel) keys change in both the first and the second batch of 50;
    // the first batch sets false, the second true.
    const events = planEvents(100, { contacts: 5, value: (i) => i >= 50 });
    await sendAll(env.webhookUrl, events, 1);

    let worker = await env.start("worker");
    await waitFor(
      () => {
        const age = leaseAge(env, worker.pid);
        return age !== undefined && age >= 100;
      },
      15_000,
      "the first batch in flight",
    );
    const killAt = Date.now();
    await kill9(worker);
    // The dead worker's request is still being handled (2.5 s); the next ones are answered at once.
    target.latencyMs = 0;
    worker = await env.start("worker");

    await waitFor(() => allFinished(env.db, events.length), 30_000, "every delivery to finish");
    // Preconditions: the first batch was in flight at the kill, and the target applied it after the
    // restarted worker's first batch (the newer changes), which the guard then recorded as applied.
    const stale = target.requests.find((r) => r.at <= killAt && r.answeredAt >= killAt);
    const newer = target.requests.find((r) => r.at > killAt);
    expect(stale?.status).toBe(200);
    expect(newer?.status).toBe(200);
    expect((newer?.answeredAt ?? 0) < (stale?.answeredAt ?? 0)).toBe(true);
    // The repair: after the stale request landed, the newer values were sent once more.
    const repair = target.requests.find((r) => r.at >= (stale?.answeredAt ?? 0) && r.status === 200);
    expect(repair?.keys.length ?? 0).toBeGreaterThan(0);
    expectAllFinished(env.db, events);
    expect(Object.fromEntries(target.state)).toEqual(expectedState(events));
  }, 60_000);
});
