import { createTestConnector, sampleEvent, startFakeTarget } from "@engage-bridge/testkit";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { startTestGateway, waitFor } from "../test-support/harness.ts";
import { postgresSuite } from "../test-support/postgres.ts";
import { type ContractStore, event, storeContract } from "../test-support/store-contract.ts";
import { openStore } from "./open.ts";
import { PostgresStore } from "./postgres.ts";
import { POSTGRES_MIGRATIONS } from "./postgres-migrations.ts";
import type { DeliveryUpdate, Store } from "./store.ts";

const suite = postgresSuite();
const { skip, cleanups } = suite;
const pgServer = () => suite.server();

/** A store on `url` (a "process": its own pool), closed after the test. */
async function newStore(url: string, migrate = true): Promise<PostgresStore> {
  const store = new PostgresStore(url);
  cleanups.push(() => store.close());
  if (migrate) await store.migrate();
  return store;
}

async function open(): Promise<ContractStore> {
  const url = await pgServer().freshUrl();
  return {
    store: await newStore(url),
    reopen: () => newStore(url),
    rows: (table) => pgServer().query(url, `SELECT * FROM ${table}`),
    exec: async (sql) => {
      await pgServer().query(url, sql);
    },
  };
}

const delivered = (id: string): DeliveryUpdate => ({
  deliveryId: id,
  status: "delivered",
  attempt: { startedAt: new Date(), durationMs: 1, outcome: "delivered" },
});

describe.skipIf(skip !== undefined)(
  skip ? `PostgresStore (${skip})` : "PostgresStore on a real server",
  () => {
    suite.hooks();

    storeContract("PostgresStore", open);

    describe("PostgresStore shared by several processes", () => {
      it("two stores migrating at once both succeed; each migration is applied once", async () => {
        const url = await pgServer().freshUrl();
        const stores = await Promise.all([newStore(url, false), newStore(url, false), newStore(url, false)]);
        await Promise.all(stores.map((s) => s.migrate()));
        const versions = await pgServer().query<{ version: number }>(
          url,
          "SELECT version FROM schema_migrations ORDER BY version",
        );
        expect(versions.map((v) => v.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
        for (const [i, store] of stores.entries())
          expect(await store.insertEvent(event(`mig${i}`))).toBe("stored");
      });

      it("two stores leasing at once never get the same delivery", async () => {
        const url = await pgServer().freshUrl();
        const [a, b] = await Promise.all([newStore(url), newStore(url)]);
        if (!a || !b) throw new Error("stores did not open");
        const count = 200;
        await Promise.all(
          Array.from({ length: count }, (_, i) => a.insertEvent(event(`c${i}`, { connectors: ["hubspot"] }))),
        );
        // A burst: ten leases from two processes at the same moment share the queue out.
        const burst = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).leaseDue("hubspot", 30, `burst-${i}`, 60_000)),
        );
        const burstIds = burst.flat().map((l) => l.deliveryId);
        expect(burstIds).toHaveLength(count);
        expect(new Set(burstIds).size).toBe(count);
        // Workers in both processes lease, deliver and complete until nothing is due (the burst's
        // leases ran out: the clock is a minute later).
        const later = new Date(Date.now() + 61_000);
        const seen: string[] = [];
        const worker = async (store: PostgresStore, owner: string) => {
          for (;;) {
            const leased = await store.leaseDue("hubspot", 7, owner, 60_000, later);
            if (leased.length === 0) return;
            expect(leased.every((l) => l.maybeSentBefore)).toBe(true);
            seen.push(...leased.map((l) => l.deliveryId));
            expect(
              await store.complete(
                owner,
                leased.map((l) => delivered(l.deliveryId)),
                later,
              ),
            ).toBe(leased.length);
          }
        };
        await Promise.all(Array.from({ length: 8 }, (_, i) => worker(i % 2 ? a : b, `worker-${i}`)));
        expect(seen).toHaveLength(count);
        expect(new Set(seen).size).toBe(count);
        expect((await b.stats()).deliveries).toEqual({ hubspot: { delivered: count } });
        const attempts = await pgServer().query<{ n: string }>(url, "SELECT COUNT(*) AS n FROM attempts");
        expect(Number(attempts[0]?.n)).toBe(count);
      });

      it("stores an event once when two processes insert it at the same time", async () => {
        const url = await pgServer().freshUrl();
        const [a, b] = await Promise.all([newStore(url), newStore(url)]);
        if (!a || !b) throw new Error("stores did not open");
        const ids = Array.from({ length: 100 }, (_, i) => `same-${i}`);
        // Opposite orders: the two groups may deadlock; the loser retries event by event.
        const outcomes = await Promise.all([
          ...ids.map((id) => a.insertEvent(event(id))),
          ...[...ids].reverse().map((id) => b.insertEvent(event(id))),
        ]);
        expect(outcomes.filter((o) => o === "stored")).toHaveLength(100);
        expect(outcomes.filter((o) => o === "duplicate")).toHaveLength(100);
        const stats = await a.stats();
        expect(stats.events).toEqual({ "contact.acceptsEmail.changed": 100 });
        expect(stats.queueDepth).toBe(200);
      });

      it("fails a row PostgreSQL refuses (NUL in text) alone", async () => {
        const { store } = await open();
        const outcomes = await Promise.allSettled([
          store.insertEvent(event("n1")),
          store.insertEvent(event("bad\u0000id")),
          store.insertEvent(event("n2")),
        ]);
        expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
        expect((await store.listEvents({ limit: 0 })).map((e) => e.svixId).sort()).toEqual(["n1", "n2"]);
      });

      it("commits with synchronous_commit on, even when the server default is off", async () => {
        const url = new URL(await pgServer().freshUrl());
        url.searchParams.set("options", `${url.searchParams.get("options")} -c synchronous_commit=off`);
        const store = await newStore(url.toString());
        expect(await store.insertEvent(event("s1"))).toBe("stored");
        const pool = (store as unknown as { pool: pg.Pool }).pool;
        const settings = await Promise.all(
          Array.from({ length: 3 }, () =>
            pool.query<{ synchronous_commit: string }>("SHOW synchronous_commit"),
          ),
        );
        expect(settings.map((s) => s.rows[0]?.synchronous_commit)).toEqual(["on", "on", "on"]);
      });

      it("is opened by openStore for postgres:// and postgresql:// URLs", async () => {
        const url = await pgServer().freshUrl();
        const stores: Store[] = [];
        for (const u of [url, url.replace(/^postgresql:/, "postgres:")]) {
          const store = await openStore(u);
          cleanups.push(() => store.close());
          stores.push(store);
          expect(store.kind).toBe("postgres");
          await store.ping();
        }
        expect(await stores[0]?.insertEvent(event("o1"))).toBe("stored");
        expect(await stores[1]?.insertEvent(event("o1"))).toBe("duplicate");
      });
    });

    describe("gateways sharing PostgreSQL", () => {
      it("an ingest replica accepts signed events and two worker replicas deliver each once", async () => {
        const target = await startFakeTarget();
        cleanups.push(() => target.close());
        const config = {
          store: await pgServer().freshUrl(),
          connectors: { testTarget: { baseUrl: target.url } },
        };
        const connectors = [createTestConnector("testTarget", { maxBatchSize: 5 })];
        const ingest = await startTestGateway(config, { connectors, role: "ingest" });
        cleanups.push(() => ingest.stop());
        for (let i = 0; i < 2; i++) {
          const worker = await startTestGateway(config, { connectors, role: "worker" });
          cleanups.push(() => worker.stop());
        }
        const bodies = Array.from({ length: 30 }, () => sampleEvent("loyalty.addPoints"));
        const ids = bodies.map((b) => JSON.parse(b).id as string);
        const answers = await Promise.all(bodies.map((b) => ingest.post(b)));
        expect(answers.map((a) => a.status)).toEqual(Array(30).fill(204));
        // A webhook sent again (same svix id) is acknowledged and not delivered twice.
        const again = await ingest.post(bodies[0] ?? "", { msgId: "msg-resent" });
        const resent = await ingest.post(bodies[0] ?? "", { msgId: "msg-resent" });
        expect([again.status, resent.status]).toEqual([204, 204]);
        await waitFor(
          async () => (await ingest.store.stats()).deliveries.testTarget?.delivered === 31,
          20_000,
          "31 delivered",
        );
        expect([...target.state.keys()].sort()).toEqual(ids.map((id) => `event:${id}`).sort());
        // Exactly once here: no failures, no lease ran out (at-least-once would show as more).
        expect(target.applied).toBe(31);
        expect((await ingest.store.stats()).queueDepth).toBe(0);
      });
    });
  },
);
