import { describe, expect, it } from "vitest";
import type { NewEvent, Store } from "../store/store.ts";

/**
 * The behaviour every Store implementation shares, as one suite: `storeContract("SqliteStore", …)`
 * and `storeContract("PostgresStore", …)` run the same tests against each.
 */

export interface ContractStore {
  /** A new, migrated, empty store. */
  store: Store & { readonly counters: { commits: number; events: number } };
  /** Opens the same database again (a restart), migrated. */
  reopen(): Promise<Store>;
  /** Every row of a table, read directly (also after the store is closed). */
  rows(table: string): Promise<Record<string, unknown>[]>;
  /** Runs a statement directly on the database, beside the store (what another version would write). */
  exec(sql: string): Promise<void>;
}

export const event = (svixId: string, extra: Partial<NewEvent> = {}): NewEvent => ({
  source: "engage",
  svixId,
  eventId: `e-${svixId}`,
  type: "contact.acceptsEmail.changed",
  status: "accepted",
  contactId: "c-1",
  receivedAt: new Date(),
  body: Buffer.from(`{"id":"${svixId}"}`),
  connectors: ["targetA", "targetB"],
  ...extra,
});

export function storeContract(name: string, open: () => Promise<ContractStore>): void {
  describe(name, () => {
    it("refuses to open a store that a newer version has migrated (a rollback after an upgrade)", async () => {
      const opened = await open();
      await opened.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)");
      await expect(opened.reopen()).rejects.toThrow(
        /the store's schema is at version 9999, newer than this engage-bridge knows \(\d+\)/,
      );
    });

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
      expect(stats.deliveries).toEqual({ targetA: { pending: 300 }, targetB: { pending: 300 } });
      expect(stats.queueDepth).toBe(600);
      await store.close();
    });

    it("keeps every body of a group byte for byte: empty, binary, not UTF-8, of different sizes", async () => {
      const { store } = await open();
      const bodies = [
        Buffer.alloc(0),
        Buffer.from([0x00, 0xff, 0xfe, 0x5c, 0x22, 0x7b, 0x00]),
        Buffer.from('{"id":"ä","x":"\\u0000"}'),
        Buffer.alloc(70_000, 0x41),
        Buffer.from([0xc3]),
      ];
      const outcomes = await Promise.all(
        bodies.map((body, i) => store.insertEvent(event(`b${i}`, { body }))),
      );
      expect(outcomes).toEqual(bodies.map(() => "stored"));
      expect(store.counters.commits).toBeLessThan(bodies.length);
      for (const [i, body] of bodies.entries()) {
        const stored = await store.storedBody("engage", `b${i}`);
        expect(Buffer.from(stored ?? [0x01]).equals(body), `body ${i}`).toBe(true);
      }
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

    it("fails only the bad event of a group: its neighbours are stored", async () => {
      const { store } = await open();
      const outcomes = await Promise.allSettled([
        store.insertEvent(event("good-1")),
        // One delivery per connector: a connector named twice breaks the (event, connector) key.
        store.insertEvent(event("bad", { connectors: ["targetA", "targetA"] })),
        store.insertEvent(event("good-2")),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((await store.listEvents({ limit: 0 })).map((e) => e.svixId).sort()).toEqual([
        "good-1",
        "good-2",
      ]);
      expect((await store.stats()).queueDepth).toBe(4);
      await store.close();
    });

    it("commits what is queued when closed, and refuses afterwards", async () => {
      const { store, reopen } = await open();
      const pending = [store.insertEvent(event("a")), store.insertEvent(event("b"))];
      await store.close();
      expect(await Promise.all(pending)).toEqual(["stored", "stored"]);
      await expect(store.insertEvent(event("c"))).rejects.toThrow(/closed/);
      await expect(store.ping()).rejects.toThrow();
      const reopened = await reopen();
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
      expect(stats.pendingByConnector.targetA?.depth).toBe(1);
      expect(stats.pendingByConnector.targetB?.oldestSeconds).toBeGreaterThanOrEqual(89);
      await store.close();
    });
  });

  describe(`${name} deliveries`, () => {
    const lease = (store: Store, owner = "w1", now = new Date()) =>
      store.leaseDue("targetA", 10, owner, 60_000, now);

    it("leases due work once, gives it back when the lease expires, and fences late results", async () => {
      const { store } = await open();
      await store.insertEvent(event("l1", { connectors: ["targetA"] }));
      const first = await lease(store, "w1");
      expect(first).toHaveLength(1);
      expect(first[0]?.event).toMatchObject({
        svixId: "l1",
        type: "contact.acceptsEmail.changed",
        contactId: "c-1",
      });
      expect(first[0]?.maybeSentBefore).toBe(false);
      expect(Buffer.from(first[0]?.event.body ?? []).toString()).toBe('{"id":"l1"}');
      expect(await lease(store, "w2")).toHaveLength(0);
      // w1 crashed: after the lease runs out, w2 gets the work.
      const later = new Date(Date.now() + 61_000);
      const second = await lease(store, "w2", later);
      expect(second.map((l) => l.deliveryId)).toEqual(first.map((l) => l.deliveryId));
      // The first lease ran out without an attempt recorded: it may have reached the target.
      expect(second[0]?.maybeSentBefore).toBe(true);
      const id = second[0]?.deliveryId ?? "";
      const done = {
        deliveryId: id,
        status: "delivered" as const,
        attempt: { startedAt: new Date(), durationMs: 5, outcome: "delivered" as const },
      };
      expect(await store.complete("w1", [done])).toBe(0);
      // Unknown ids change nothing and do not fail the other updates.
      const unknown = ["", "no-such-id", "99999999999999999999"].map((deliveryId) => ({
        ...done,
        deliveryId,
      }));
      expect(await store.complete("w2", [...unknown, done])).toBe(1);
      expect(await store.listDeliveries({ limit: 0 })).toMatchObject([
        { status: "delivered", attempts: 1, lastError: null },
      ]);
      await store.close();
    });

    it("schedules retries, releases leases on shutdown, replays finished work", async () => {
      const { store } = await open();
      await store.insertEvent(event("r1", { connectors: ["targetA"] }));
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
      expect(again?.maybeSentBefore).toBe(true);
      expect(await store.releaseLeases("w1")).toBe(1);
      expect(await lease(store, "w3", new Date(next.getTime() + 2))).toHaveLength(1);
      await store.complete("w3", [{ deliveryId: again?.deliveryId ?? "", status: "dead", error: "gave up" }]);
      expect(await store.listDeliveries({ status: "dead", limit: 0 })).toMatchObject([
        { eventId: "e-r1", status: "dead", attempts: 1, lastError: "gave up", nextAttemptAt: null },
      ]);
      expect(await store.replay({ eventId: "e-r1" })).toBe(1);
      expect(await store.listDeliveries({ limit: 0 })).toMatchObject([{ status: "pending", attempts: 0 }]);
      await store.close();
    });

    it("throttled attempts do not count; the attempt history is kept", async () => {
      const { store, rows } = await open();
      await store.insertEvent(event("t1", { connectors: ["targetA"] }));
      const [leased] = await lease(store);
      const startedAt = new Date();
      await store.complete("w1", [
        {
          deliveryId: leased?.deliveryId ?? "",
          status: "retrying",
          error: "429",
          nextAttemptAt: new Date(),
          attempt: { startedAt, durationMs: 2.4, outcome: "retry", error: "429" },
          countsAsAttempt: false,
        },
      ]);
      expect(await store.listDeliveries({ connector: "targetA", limit: 0 })).toMatchObject([
        { status: "retrying", attempts: 0, lastError: "429" },
      ]);
      await store.close();
      const history = await rows("attempts");
      expect(history.map((r) => [Number(r.attempt), Number(r.duration_ms), r.outcome, r.error])).toEqual([
        [0, 2, "retry", "429"],
      ]);
    });

    it("finds events by id, svix id or contact, by filters and time range, a page at a time", async () => {
      const { store } = await open();
      const t0 = Date.parse("2026-11-01T10:00:00Z");
      const at = (minutes: number) => new Date(t0 + minutes * 60_000);
      // Two events in the same millisecond: the cursor must tell them apart.
      await store.insertEvent(event("f1", { contactId: "42", receivedAt: at(0), connectors: ["targetA"] }));
      await store.insertEvent(
        event("f2", { contactId: "42", receivedAt: at(0), connectors: ["targetA", "targetB"] }),
      );
      await store.insertEvent(event("f3", { contactId: "43", receivedAt: at(5), type: "loyalty.addPoints" }));
      await store.insertEvent(
        event("f4", { contactId: "42", receivedAt: at(9), source: "shop", connectors: [] }),
      );
      await store.insertEvent(
        event("f5", { contactId: null as never, receivedAt: at(10), status: "ignored" }),
      );
      const ids = async (q: Parameters<Store["findEvents"]>[0]) =>
        (await store.findEvents(q)).items.map((e) => e.svixId);

      expect(await ids({ limit: 0 })).toEqual(["f5", "f4", "f3", "f2", "f1"]);
      expect(await ids({ id: "e-f3", limit: 10 })).toEqual(["f3"]);
      expect(await ids({ id: "f3", limit: 10 })).toEqual(["f3"]);
      // Exact: a contact id that only starts the same finds nothing; a number finds its text.
      expect(await ids({ contactId: "4", limit: 10 })).toEqual([]);
      expect(await ids({ contactId: " 42 ", limit: 10 })).toEqual(["f4", "f2", "f1"]);
      expect(await ids({ contactId: "42", source: "engage", limit: 10 })).toEqual(["f2", "f1"]);
      expect(await ids({ type: "loyalty.addPoints", limit: 10 })).toEqual(["f3"]);
      expect(await ids({ status: "ignored", limit: 10 })).toEqual(["f5"]);
      expect(await ids({ connector: "targetB", limit: 10 })).toEqual(["f5", "f3", "f2"]);
      expect(await ids({ since: at(5), until: at(10), limit: 10 })).toEqual(["f4", "f3"]);

      // Paged newest first; the last page says so.
      const first = await store.findEvents({ limit: 2 });
      expect(first.items.map((e) => e.svixId)).toEqual(["f5", "f4"]);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await store.findEvents({ limit: 2, cursor: first.nextCursor ?? "" });
      expect(second.items.map((e) => e.svixId)).toEqual(["f3", "f2"]);
      const third = await store.findEvents({ limit: 2, cursor: second.nextCursor ?? "" });
      expect(third).toEqual({ items: [expect.objectContaining({ svixId: "f1" })], nextCursor: null });
      // A cursor with a filter keeps the filter.
      const page = await store.findEvents({ contactId: "42", limit: 1, cursor: first.nextCursor ?? "" });
      expect(page.items.map((e) => e.svixId)).toEqual(["f2"]);
      await expect(store.findEvents({ limit: 2, cursor: "not-a-cursor" })).rejects.toThrow(RangeError);

      // Filtering by a delivery's status.
      const [leased] = await lease(store, "w1", at(20));
      await store.complete("w1", [{ deliveryId: leased?.deliveryId ?? "", status: "dead", error: "gone" }]);
      expect(await ids({ deliveryStatus: "dead", limit: 10 })).toEqual([leased?.event.svixId]);
      await store.close();
    });

    it("shows one event with every delivery and attempt, its trace id, status code and consent decision", async () => {
      const { store } = await open();
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      await store.insertEvent(
        event("d1", { tenant: "acme-se", traceparent, connectors: ["targetA", "targetB"] }),
      );
      expect(await store.eventDetail("nope")).toBeUndefined();
      const leased = [...(await lease(store)), ...(await store.leaseDue("targetB", 10, "w1", 60_000))];
      const a = leased.find((l) => l.connector === "targetA");
      const b = leased.find((l) => l.connector === "targetB");
      expect(a?.event.traceparent).toBe(traceparent);
      const started = new Date("2026-11-01T10:00:00.000Z");
      const next = new Date(Date.now() + 60_000);
      await store.complete("w1", [
        {
          deliveryId: a?.deliveryId ?? "",
          status: "delivered",
          attempt: {
            startedAt: started,
            durationMs: 12,
            outcome: "delivered",
            targetStatus: 200,
            consent: { value: false, from: "engage-api" },
          },
        },
        {
          deliveryId: b?.deliveryId ?? "",
          status: "retrying",
          error: "503 from target",
          nextAttemptAt: next,
          attempt: {
            startedAt: started,
            durationMs: 30,
            outcome: "retry",
            error: "503 from target",
            targetStatus: 503,
          },
        },
      ]);
      const detail = await store.eventDetail("e-d1");
      expect(await store.eventDetail("d1")).toEqual(detail);
      expect(detail?.event).toMatchObject({
        id: "e-d1",
        svixId: "d1",
        source: "engage",
        contactId: "c-1",
        tenant: "acme-se",
        traceId: "0af7651916cd43dd8448eb211c80319c",
      });
      expect(Buffer.from(detail?.body ?? []).toString()).toBe('{"id":"d1"}');
      expect(detail?.deliveries).toEqual([
        {
          connector: "targetA",
          status: "delivered",
          attempts: [
            {
              attempt: 1,
              at: started.toISOString(),
              durationMs: 12,
              outcome: "delivered",
              error: null,
              targetStatus: 200,
              consent: { value: false, from: "engage-api" },
            },
          ],
          nextAttemptAt: null,
          lastError: null,
          updatedAt: expect.any(String),
        },
        {
          connector: "targetB",
          status: "retrying",
          attempts: [
            {
              attempt: 1,
              at: started.toISOString(),
              durationMs: 30,
              outcome: "retry",
              error: "503 from target",
              targetStatus: 503,
              consent: null,
            },
          ],
          nextAttemptAt: next.toISOString(),
          lastError: "503 from target",
          updatedAt: expect.any(String),
        },
      ]);
      await store.close();
    });

    it("counts events and attempts per time bucket, zero-filled, per connector and outcome", async () => {
      const { store } = await open();
      const t0 = Date.parse("2026-11-01T10:00:00Z");
      const at = (minutes: number, seconds = 0) => new Date(t0 + minutes * 60_000 + seconds * 1000);
      await store.insertEvent(event("a1", { receivedAt: at(0, 5), connectors: ["targetA"] }));
      await store.insertEvent(event("a2", { receivedAt: at(0, 50), connectors: ["targetA"] }));
      await store.insertEvent(event("a3", { receivedAt: at(2, 1), connectors: ["targetA"] }));
      const leased = await lease(store, "w1", at(3));
      await store.complete(
        "w1",
        leased.map((l, i) => ({
          deliveryId: l.deliveryId,
          status: i === 0 ? "dead" : "delivered",
          attempt: { startedAt: at(3, i), durationMs: 1, outcome: i === 0 ? "dead" : "delivered" },
        })),
      );
      const activity = await store.activity({ from: at(0), to: at(4), bucketMs: 60_000 });
      expect(activity.events).toEqual([
        { t: at(0).toISOString(), n: 2 },
        { t: at(1).toISOString(), n: 0 },
        { t: at(2).toISOString(), n: 1 },
        { t: at(3).toISOString(), n: 0 },
      ]);
      expect(activity.deliveries.targetA?.map((b) => [b.delivered, b.dead])).toEqual([
        [0, 0],
        [0, 0],
        [0, 0],
        [2, 1],
      ]);
      await store.close();
    });

    it("replays by connector, status and time range, and counts first with a dry run", async () => {
      const { store } = await open();
      const t0 = Date.parse("2026-11-01T10:00:00Z");
      for (const [i, minutes] of [0, 10, 20].entries())
        await store.insertEvent(event(`b${i}`, { receivedAt: new Date(t0 + minutes * 60_000) }));
      const later = new Date(t0 + 3_600_000);
      const leased = [
        ...(await lease(store, "w1", later)),
        ...(await store.leaseDue("targetB", 10, "w1", 60_000, later)),
      ];
      await store.complete(
        "w1",
        leased.map((l) => ({ deliveryId: l.deliveryId, status: "dead" as const, error: "x" })),
      );
      const range = { since: new Date(t0 + 5 * 60_000), until: new Date(t0 + 30 * 60_000) };
      expect(await store.replay({ status: "dead", connector: "targetA", ...range, dryRun: true })).toBe(2);
      expect(await store.listDeliveries({ status: "dead", limit: 0 })).toHaveLength(6);
      expect(await store.replay({ status: "dead", connector: "targetA", ...range })).toBe(2);
      expect(await store.listDeliveries({ status: "pending", limit: 0 })).toMatchObject([
        { connector: "targetA" },
        { connector: "targetA" },
      ]);
      expect(await store.replay({ status: "dead", dryRun: true })).toBe(4);
      await store.close();
    });

    it("keeps the consent with the greatest order key and the event that carried it", async () => {
      const { store } = await open();
      await store.insertEvent(event("k1", { connectors: ["targetA"] }));
      await store.insertEvent(event("k2", { connectors: ["targetA"] }));
      const leased = await lease(store);
      expect(leased.map((l) => l.event.svixId)).toEqual(["k1", "k2"]);
      const id = (svixId: string) => leased.find((l) => l.event.svixId === svixId)?.deliveryId ?? "";
      // k2 carries the newer preference (order key 20) and is completed first; k1 (10) lands late.
      await store.complete("w1", [
        {
          deliveryId: id("k2"),
          status: "delivered",
          consent: { contactId: "c-1", channel: "email", orderKey: 20 },
        },
      ]);
      await store.complete("w1", [
        {
          deliveryId: id("k1"),
          status: "delivered",
          consent: { contactId: "c-1", channel: "email", orderKey: 10 },
        },
      ]);
      const applied = await store.appliedConsent("targetA", "c-1", "email");
      expect(applied?.orderKey).toBe(20);
      expect(applied?.event?.svixId).toBe("k2");
      expect(Buffer.from(applied?.event?.body ?? []).toString()).toBe('{"id":"k2"}');
      expect(await store.appliedConsent("targetA", "c-1", "sms")).toBeUndefined();
      expect(await store.appliedConsent("targetB", "c-1", "email")).toBeUndefined();
      // The applied event purged: the order key still counts, the event reads as absent.
      expect(await store.purge(new Date(Date.now() + 1000))).toBe(2);
      expect(await store.appliedConsent("targetA", "c-1", "email")).toEqual({
        orderKey: 20,
        event: undefined,
      });
      await store.close();
    });

    it("purges only finished events older than the cutoff", async () => {
      const { store } = await open();
      const old = new Date(Date.now() - 40 * 86_400_000);
      await store.insertEvent(event("old-done", { receivedAt: old, connectors: [] }));
      await store.insertEvent(event("old-open", { receivedAt: old, connectors: ["targetA"] }));
      await store.insertEvent(event("new-done", { connectors: [] }));
      expect(await store.purge(new Date(Date.now() - 30 * 86_400_000))).toBe(1);
      expect((await store.listEvents({ limit: 0 })).map((e) => e.svixId).sort()).toEqual([
        "new-done",
        "old-open",
      ]);
      await store.close();
    });

    it("forgets exactly the contact an event names, as text or number, whatever the event's status", async () => {
      const { store, rows } = await open();
      const body = (json: unknown) => Buffer.from(JSON.stringify(json));
      // Contact A (1001): stored with its id, and rows stored before every status kept one (legacy),
      // whose body names A with a numeric id, in an unknown type, or in the envelope of an
      // undecryptable event.
      await store.insertEvent(event("a1", { contactId: "1001", connectors: ["targetA"] }));
      const legacy = { contactId: null as never, connectors: [] };
      await store.insertEvent(
        event("a2", {
          ...legacy,
          status: "ignored",
          body: body({ id: "a2", eventType: "loyalty.addPoints", payload: { ContactId: 1001 } }),
        }),
      );
      await store.insertEvent(
        event("a3", {
          ...legacy,
          status: "ignored",
          body: body({ id: "a3", eventType: "x.y", payload: { contactId: "1001" } }),
        }),
      );
      await store.insertEvent(
        event("a4", {
          ...legacy,
          status: "undecryptable",
          body: body({
            id: "a4",
            eventType: "loyalty.addPoints",
            isEncrypted: true,
            contactId: 1001,
            payload: "AAAA",
          }),
        }),
      );
      // Contact B: ids that contain A's, and bodies that mention A's id or the event type elsewhere.
      await store.insertEvent(
        event("b1", {
          contactId: "10011",
          type: "loyalty.addPoints",
          body: body({
            id: "b1",
            eventType: "loyalty.addPoints",
            payload: { contactId: "10011", sourceId: "1001" },
          }),
          connectors: ["targetA"],
        }),
      );
      await store.insertEvent(
        event("b2", {
          ...legacy,
          status: "ignored",
          body: body({
            id: "b2",
            eventType: "x.y",
            payload: { contactId: "c-b", note: "1001", other: 1001 },
          }),
        }),
      );
      expect(await store.forgetContact("loyalty.addPoints")).toBe(0);
      expect(await store.forgetContact(" 1001 ")).toBe(4);
      const left = (await rows("events")).map((r) => r.svix_id).sort();
      expect(left).toEqual(["b1", "b2"]);
      // B's pending delivery is still there, still due.
      const due = await store.leaseDue("targetA", 10, "w1", 60_000);
      expect(due.map((d) => d.event.svixId)).toEqual(["b1"]);
      await store.close();
    });

    it("forgets a contact: no row mentions it afterwards, other contacts stay", async () => {
      const { store, rows } = await open();
      const secret = "contact-to-forget";
      await store.insertEvent(event("f1", { contactId: secret, connectors: ["targetA"] }));
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
          connectors: ["targetA"],
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
      expect((await store.appliedConsent("targetA", secret, "email"))?.orderKey).toBe(1);
      expect(await store.forgetContact(secret)).toBe(2);
      await store.close();
      for (const table of ["events", "deliveries", "attempts", "consent_state"]) {
        // Bodies as text (a Buffer's toJSON would hide them from a JSON.stringify replacer).
        const mentioning = (await rows(table)).filter((r) =>
          JSON.stringify(
            Object.fromEntries(
              Object.entries(r).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString() : v]),
            ),
          ).includes(`${secret}"`),
        );
        expect(mentioning, table).toEqual([]);
      }
      expect(await rows("events")).toHaveLength(1);
    });
  });
}
