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
