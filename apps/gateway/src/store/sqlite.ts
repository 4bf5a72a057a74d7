import type { DatabaseSync } from "node:sqlite";
import { GroupCommitter } from "./group-committer.ts";
import { toLeasedEvent, toStoredDelivery, toStoredEvent, whereOf } from "./rows.ts";
import { openConnection, type Synchronous } from "./sqlite-connection.ts";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.ts";
import type {
  AppliedConsent,
  DeliveryQuery,
  DeliveryStatus,
  DeliveryUpdate,
  EventQuery,
  InsertOutcome,
  LeasedDelivery,
  NewEvent,
  ReplayQuery,
  Store,
  StoredDelivery,
  StoredEvent,
  StoreStats,
} from "./store.ts";

export interface SqliteStoreOptions {
  /** `synchronous=FULL` (default): every commit is fsync'd before it resolves. */
  synchronous?: Synchronous;
}

/**
 * SQLite store on `node:sqlite`, WAL mode. Durability is never traded for speed: each commit is
 * fsync'd, and throughput comes from group commit (see GroupCommitter).
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly path: string;
  private readonly db: DatabaseSync;
  private committer: GroupCommitter | undefined;
  private closed = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.db = openConnection(path, options.synchronous ?? "FULL");
  }

  /** Group-commit transactions and the events in them (observability and tests). */
  get counters(): { commits: number; events: number } {
    return this.committer?.counters ?? { commits: 0, events: 0 };
  }

  /** Opens `sqlite:<path>` URLs. */
  static fromUrl(url: string, options?: SqliteStoreOptions): SqliteStore {
    return new SqliteStore(url.replace(/^sqlite:(\/\/)?/, ""), options);
  }

  async migrate(): Promise<void> {
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    );
    for (const migration of SQLITE_MIGRATIONS) {
      // IMMEDIATE takes the write lock first, so two processes starting together apply it once.
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const done = this.db
          .prepare("SELECT 1 FROM schema_migrations WHERE version = ?")
          .get(migration.version);
        if (!done) {
          this.db.exec(migration.sql);
          this.db
            .prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
            .run(migration.version, Date.now());
        }
        this.db.exec("COMMIT");
      } catch (error) {
        this.db.exec("ROLLBACK");
        throw error;
      }
    }
    this.committer ??= new GroupCommitter(this.db);
  }

  insertEvent(event: NewEvent): Promise<InsertOutcome> {
    if (this.closed) return Promise.reject(new Error("store is closed"));
    if (!this.committer) return Promise.reject(new Error("store is not migrated"));
    return this.committer.insert(event);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error("store is closed");
    this.db.prepare("SELECT 1").get();
  }

  async listEvents(query: EventQuery): Promise<StoredEvent[]> {
    const where = whereOf([
      ["status = ?", query.status],
      ["type = ?", query.type],
    ]);
    const params = query.limit > 0 ? [...where.params, query.limit] : where.params;
    const sql = `SELECT event_id, svix_id, source, type, status, status_reason, contact_id, received_at FROM events
      ${where.sql} ORDER BY received_at DESC, id DESC ${query.limit > 0 ? "LIMIT ?" : ""}`;
    const rows = this.db.prepare(sql).all(...params) as Record<string, unknown>[];
    return rows.map(toStoredEvent);
  }

  async stats(now = new Date()): Promise<StoreStats> {
    const events: Record<string, number> = {};
    for (const row of this.db
      .prepare("SELECT type, COUNT(*) AS n FROM events GROUP BY type ORDER BY type")
      .all() as {
      type: string;
      n: number;
    }[]) {
      events[row.type] = Number(row.n);
    }
    const deliveries: StoreStats["deliveries"] = {};
    for (const row of this.db
      .prepare(
        "SELECT connector, status, COUNT(*) AS n FROM deliveries GROUP BY connector, status ORDER BY connector",
      )
      .all() as { connector: string; status: DeliveryStatus; n: number }[]) {
      deliveries[row.connector] ??= {};
      (deliveries[row.connector] as Record<string, number>)[row.status] = Number(row.n);
    }
    const pending = this.db
      .prepare(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status IN ('pending', 'retrying')",
      )
      .get() as { n: number; oldest: number | null };
    const pendingByConnector: StoreStats["pendingByConnector"] = {};
    for (const row of this.db
      .prepare(
        "SELECT connector, COUNT(*) AS n, MIN(queued_at) AS oldest FROM deliveries WHERE status IN ('pending', 'retrying') GROUP BY connector",
      )
      .all() as { connector: string; n: number; oldest: number }[]) {
      pendingByConnector[row.connector] = {
        depth: Number(row.n),
        oldestSeconds: Math.max(0, Math.floor((now.getTime() - Number(row.oldest)) / 1000)),
      };
    }
    return {
      events,
      deliveries,
      pendingByConnector,
      queueDepth: Number(pending.n),
      oldestPendingSeconds:
        pending.oldest === null
          ? null
          : Math.max(0, Math.floor((now.getTime() - Number(pending.oldest)) / 1000)),
    };
  }

  /** Runs `fn` in one write transaction (IMMEDIATE: takes the write lock first, across processes). */
  private transaction<T>(fn: () => T): T {
    if (this.closed) throw new Error("store is closed");
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
  }

  async leaseDue(
    connector: string,
    limit: number,
    owner: string,
    leaseMs: number,
    now = new Date(),
  ): Promise<LeasedDelivery[]> {
    const t = now.getTime();
    const rows = this.transaction(() => {
      const ids = this.db
        .prepare(
          `UPDATE deliveries SET lease_owner = ?, lease_until = ?, leases = leases + 1
           WHERE id IN (
             SELECT id FROM deliveries
             WHERE connector = ? AND status IN ('pending', 'retrying') AND next_attempt_at <= ?
               AND (lease_until IS NULL OR lease_until <= ?)
             ORDER BY next_attempt_at, id LIMIT ?)
           RETURNING id`,
        )
        .all(owner, t + leaseMs, connector, t, t, limit) as { id: number }[];
      if (ids.length === 0) return [];
      return this.db
        .prepare(
          `SELECT d.id, d.connector, d.attempts, d.leases, d.queued_at, e.source, e.svix_id, e.event_id, e.type, e.contact_id,
                  e.received_at, e.body
           FROM deliveries d JOIN events e ON e.id = d.event_ref
           WHERE d.id IN (${ids.map(() => "?").join(",")})
           ORDER BY e.received_at, e.id`,
        )
        .all(...ids.map((r) => r.id)) as Record<string, unknown>[];
    });
    return rows.map((r) => ({
      deliveryId: String(r.id),
      connector: String(r.connector),
      attempts: Number(r.attempts),
      maybeSentBefore: Number(r.attempts) > 0 || Number(r.leases) > 1,
      queuedAt: new Date(Number(r.queued_at)),
      event: toLeasedEvent(r),
    }));
  }

  async complete(owner: string, updates: readonly DeliveryUpdate[], now = new Date()): Promise<number> {
    const t = now.getTime();
    return this.transaction(() => {
      const update = this.db.prepare(
        `UPDATE deliveries SET status = ?, last_error = ?, next_attempt_at = ?, attempts = attempts + ?,
           lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND lease_owner = ? AND status IN ('pending', 'retrying')`,
      );
      const attempt = this.db.prepare(
        `INSERT INTO attempts (delivery_ref, attempt, started_at, duration_ms, outcome, error)
         SELECT id, attempts, ?, ?, ?, ? FROM deliveries WHERE id = ?`,
      );
      const consent = this.db.prepare(
        `INSERT INTO consent_state (connector, contact_id, channel, order_key, updated_at, event_ref)
         SELECT connector, ?, ?, ?, ?, event_ref FROM deliveries WHERE id = ?
         ON CONFLICT (connector, contact_id, channel)
         DO UPDATE SET
           event_ref = CASE WHEN excluded.order_key >= order_key THEN excluded.event_ref ELSE event_ref END,
           order_key = MAX(order_key, excluded.order_key),
           updated_at = excluded.updated_at`,
      );
      let changed = 0;
      for (const u of updates) {
        const next = u.status === "retrying" ? (u.nextAttemptAt?.getTime() ?? t) : t;
        const result = update.run(
          u.status,
          u.error ?? null,
          next,
          u.attempt && u.countsAsAttempt !== false ? 1 : 0,
          t,
          Number(u.deliveryId),
          owner,
        );
        if (Number(result.changes) === 0) continue;
        changed += 1;
        if (u.attempt) {
          attempt.run(
            u.attempt.startedAt.getTime(),
            Math.round(u.attempt.durationMs),
            u.attempt.outcome,
            u.attempt.error ?? null,
            Number(u.deliveryId),
          );
        }
        if (u.consent)
          consent.run(u.consent.contactId, u.consent.channel, u.consent.orderKey, t, Number(u.deliveryId));
      }
      return changed;
    });
  }

  async releaseLeases(owner: string): Promise<number> {
    return this.transaction(() =>
      Number(
        this.db
          .prepare("UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?")
          .run(owner).changes,
      ),
    );
  }

  async appliedConsent(
    connector: string,
    contactId: string,
    channel: string,
  ): Promise<AppliedConsent | undefined> {
    const row = this.db
      .prepare(
        `SELECT c.order_key, e.source, e.svix_id, e.event_id, e.type, e.contact_id, e.received_at, e.body
         FROM consent_state c LEFT JOIN events e ON e.id = c.event_ref
         WHERE c.connector = ? AND c.contact_id = ? AND c.channel = ?`,
      )
      .get(connector, contactId, channel) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    return {
      orderKey: Number(row.order_key),
      event: row.svix_id == null ? undefined : toLeasedEvent(row),
    };
  }

  async listDeliveries(query: DeliveryQuery): Promise<StoredDelivery[]> {
    const where = whereOf([
      ["d.status = ?", query.status],
      ["d.connector = ?", query.connector],
      ["(e.event_id = ? OR e.svix_id = ?)", query.eventId, query.eventId],
    ]);
    const params = query.limit > 0 ? [...where.params, query.limit] : where.params;
    const rows = this.db
      .prepare(
        `SELECT e.event_id, d.connector, d.status, d.attempts, d.last_error, d.next_attempt_at, d.updated_at
         FROM deliveries d JOIN events e ON e.id = d.event_ref
         ${where.sql}
         ORDER BY d.updated_at DESC, d.id DESC ${query.limit > 0 ? "LIMIT ?" : ""}`,
      )
      .all(...params) as Record<string, unknown>[];
    return rows.map(toStoredDelivery);
  }

  async replay(query: ReplayQuery, now = new Date()): Promise<number> {
    const where = whereOf([
      ["d.status IN ('delivered', 'skipped', 'dead')"],
      ["d.status = ?", query.status],
      ["d.connector = ?", query.connector],
      [
        "d.event_ref IN (SELECT id FROM events WHERE event_id = ? OR svix_id = ?)",
        query.eventId,
        query.eventId,
      ],
    ]);
    const t = now.getTime();
    return this.transaction(() =>
      Number(
        this.db
          .prepare(
            `UPDATE deliveries SET status = 'pending', attempts = 0, leases = 0, next_attempt_at = ?, queued_at = ?, updated_at = ?,
               lease_owner = NULL, lease_until = NULL
             WHERE id IN (SELECT d.id FROM deliveries d ${where.sql})`,
          )
          .run(t, t, t, ...where.params).changes,
      ),
    );
  }

  async purge(before: Date): Promise<number> {
    return this.transaction(() =>
      Number(
        this.db
          .prepare(
            `DELETE FROM events WHERE received_at < ? AND NOT EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.event_ref = events.id AND d.status IN ('pending', 'retrying'))`,
          )
          .run(before.getTime()).changes,
      ),
    );
  }

  async forgetContact(contactId: string): Promise<number> {
    return this.transaction(() => {
      // Also events whose contact could not be read into contact_id but whose body names it (as a
      // JSON string: a bare substring match could erase other contacts' events).
      const erased = Number(
        this.db
          .prepare("DELETE FROM events WHERE contact_id = ? OR instr(CAST(body AS TEXT), ?) > 0")
          .run(contactId, JSON.stringify(contactId)).changes,
      );
      this.db.prepare("DELETE FROM consent_state WHERE contact_id = ?").run(contactId);
      return erased;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Commit what is queued before closing, so an accepted request is never dropped on shutdown.
    this.committer?.close();
    this.db.close();
  }
}
