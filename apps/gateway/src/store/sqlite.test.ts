import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../test-support/harness.ts";
import { SqliteStore } from "./sqlite.ts";
import type { NewEvent } from "./store.ts";

const dirs: ReturnType<typeof tempDir>[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

async function open() {
  const dir = tempDir("engage-sqlite-");
  dirs.push(dir);
  const store = new SqliteStore(join(dir.path, "s.db"));
  await store.migrate();
  return { store, path: join(dir.path, "s.db") };
}

const event = (svixId: string, extra: Partial<NewEvent> = {}): NewEvent => ({
  source: "engage",
  svixId,
  eventId: `e-${svixId}`,
  type: "contact.acceptsEmail.changed",
  status: "accepted",
  contactId: "c-1",
  receivedAt: new Date(),
  body: Buffer.from(`{"id":"${svixId}"}`),
  connectors: ["hubspot", "sendgrid"],
  ...extra,
});

describe("SqliteStore", () => {
  it("group-commits concurrent inserts: fewer transactions than events, every event stored once", async () => {
    const { store } = await open();
    const outcomes = await Promise.all(
      Array.from({ length: 300 }, (_, i) => store.insertEvent(event(`m${i}`))),
    );
    expect(outcomes.every((o) => o === "stored")).toBe(true);
    expect(store.counters.events).toBe(300);
    expect(store.counters.commits).toBeLessThan(300);
    const stats = await store.stats();
    expect(stats.events).toEqual({ "contact.acceptsEmail.changed": 300 });
    expect(stats.deliveries).toEqual({ hubspot: { pending: 300 }, sendgrid: { pending: 300 } });
    expect(stats.queueDepth).toBe(600);
    await store.close();
  });

  it("deduplicates on (source, svix id), also inside one group, and keeps sources apart", async () => {
    const { store } = await open();
    const outcomes = await Promise.all([
      store.insertEvent(event("dup")),
      store.insertEvent(event("dup")),
      store.insertEvent(event("dup", { source: "other" })),
    ]);
    expect(outcomes).toEqual(["stored", "duplicate", "stored"]);
    expect(await store.insertEvent(event("dup"))).toBe("duplicate");
    expect((await store.stats()).queueDepth).toBe(4);
    await store.close();
  });

  it("commits what is queued when closed, and refuses afterwards", async () => {
    const { store, path } = await open();
    const pending = [store.insertEvent(event("a")), store.insertEvent(event("b"))];
    await store.close();
    expect(await Promise.all(pending)).toEqual(["stored", "stored"]);
    await expect(store.insertEvent(event("c"))).rejects.toThrow(/closed/);
    await expect(store.ping()).rejects.toThrow();
    const reopened = new SqliteStore(path);
    await reopened.migrate();
    expect(await reopened.listEvents({ limit: 0 })).toHaveLength(2);
    await reopened.close();
  });

  it("migrates idempotently and filters listings", async () => {
    const { store } = await open();
    await store.migrate();
    await store.insertEvent(event("x", { status: "ignored", type: "contact.created", connectors: [] }));
    await store.insertEvent(event("y"));
    expect((await store.listEvents({ status: "ignored", limit: 0 })).map((e) => e.svixId)).toEqual(["x"]);
    expect(
      (await store.listEvents({ type: "contact.acceptsEmail.changed", limit: 0 })).map((e) => e.svixId),
    ).toEqual(["y"]);
    expect(await store.listEvents({ limit: 1 })).toHaveLength(1);
    const stats = await store.stats(new Date(Date.now() + 90_000));
    expect(stats.oldestPendingSeconds).toBeGreaterThanOrEqual(89);
    await store.close();
  });
});

describe("SqliteStore deliveries", () => {
  const lease = (store: SqliteStore, owner = "w1", now = new Date()) =>
    store.leaseDue("hubspot", 10, owner, 60_000, now);

  it("leases due work once, gives it back when the lease expires, and fences late results", async () => {
    const { store } = await open();
    await store.insertEvent(event("l1", { connectors: ["hubspot"] }));
    const first = await lease(store, "w1");
    expect(first).toHaveLength(1);
    expect(first[0]?.event).toMatchObject({
      svixId: "l1",
      type: "contact.acceptsEmail.changed",
      contactId: "c-1",
    });
    expect(await lease(store, "w2")).toHaveLength(0);
    // w1 crashed: after the lease runs out, w2 gets the work.
    const later = new Date(Date.now() + 61_000);
    const second = await lease(store, "w2", later);
    expect(second.map((l) => l.deliveryId)).toEqual(first.map((l) => l.deliveryId));
    const id = second[0]?.deliveryId ?? "";
    const done = {
      deliveryId: id,
      status: "delivered" as const,
      attempt: { startedAt: new Date(), durationMs: 5, outcome: "delivered" as const },
    };
    expect(await store.complete("w1", [done])).toBe(0);
    expect(await store.complete("w2", [done])).toBe(1);
    expect(await store.listDeliveries({ limit: 0 })).toMatchObject([
      { status: "delivered", attempts: 1, lastError: null },
    ]);
    await store.close();
  });

  it("schedules retries, releases leases on shutdown, replays finished work", async () => {
    const { store } = await open();
    await store.insertEvent(event("r1", { connectors: ["hubspot"] }));
    const [leased] = await lease(store);
    const next = new Date(Date.now() + 30_000);
    await store.complete("w1", [
      {
        deliveryId: leased?.deliveryId ?? "",
        status: "retrying",
        error: "503",
        nextAttemptAt: next,
        attempt: { startedAt: new Date(), durationMs: 1, outcome: "retry", error: "503" },
      },
    ]);
    expect(await lease(store)).toHaveLength(0);
    const [again] = await lease(store, "w1", new Date(next.getTime() + 1));
    expect(again?.attempts).toBe(1);
    expect(await store.releaseLeases("w1")).toBe(1);
    expect(await lease(store, "w3", new Date(next.getTime() + 2))).toHaveLength(1);
    await store.complete("w3", [{ deliveryId: again?.deliveryId ?? "", status: "dead", error: "gave up" }]);
    expect(await store.replay({ eventId: "e-r1" })).toBe(1);
    expect(await store.listDeliveries({ limit: 0 })).toMatchObject([{ status: "pending", attempts: 0 }]);
    await store.close();
  });

  it("purges only finished events older than the cutoff", async () => {
    const { store } = await open();
    const old = new Date(Date.now() - 40 * 86_400_000);
    await store.insertEvent(event("old-done", { receivedAt: old, connectors: [] }));
    await store.insertEvent(event("old-open", { receivedAt: old, connectors: ["hubspot"] }));
    await store.insertEvent(event("new-done", { connectors: [] }));
    expect(await store.purge(new Date(Date.now() - 30 * 86_400_000))).toBe(1);
    expect((await store.listEvents({ limit: 0 })).map((e) => e.svixId).sort()).toEqual([
      "new-done",
      "old-open",
    ]);
    await store.close();
  });

  it("forgets a contact: no row mentions it afterwards, other contacts stay", async () => {
    const { store, path } = await open();
    const secret = "contact-to-forget";
    await store.insertEvent(event("f1", { contactId: secret, connectors: ["hubspot"] }));
    await store.insertEvent(
      event("f2", {
        contactId: null as never,
        status: "ignored",
        body: Buffer.from(`{"payload":{"contactId":"${secret}"}}`),
        connectors: [],
      }),
    );
    await store.insertEvent(
      event("f3", {
        contactId: `${secret}-other`,
        body: Buffer.from(`{"contactId":"${secret}-other"}`),
        connectors: ["hubspot"],
      }),
    );
    const [leased] = await lease(store);
    await store.complete("w1", [
      {
        deliveryId: leased?.deliveryId ?? "",
        status: "delivered",
        attempt: { startedAt: new Date(), durationMs: 1, outcome: "delivered" },
        consent: { contactId: secret, channel: "email", orderKey: 1 },
      },
    ]);
    expect((await store.appliedConsent("hubspot", secret, "email"))?.orderKey).toBe(1);
    expect(await store.forgetContact(secret)).toBe(2);
    await store.close();
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path, { readOnly: true });
    for (const table of ["events", "deliveries", "attempts", "consent_state"]) {
      const rows = db.prepare(`SELECT * FROM ${table}`).all();
      const mentioning = rows.filter((r) =>
        JSON.stringify(r, (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString() : v)).includes(
          `${secret}"`,
        ),
      );
      expect(mentioning, table).toEqual([]);
    }
    expect((db.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n).toBe(1);
    db.close();
  });
});
