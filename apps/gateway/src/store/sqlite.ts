import type { DatabaseSync } from "node:sqlite";
import {
  attemptActivitySql,
  attemptsOfSql,
  deliveriesOfSql,
  eventActivitySql,
  eventByIdSql,
  eventSearchSql,
  type Param,
  replayFilterSql,
  toActivity,
  toEventDetail,
  toEventPage,
} from "./console-queries.ts";
import { contactNamedBy, normalizeContactId } from "./contact-of.ts";
import { GroupCommitter } from "./group-committer.ts";
import { attemptDetail, type Row, toLeasedEvent, toStats, toStoredDelivery, whereOf } from "./rows.ts";
import { assertKnownSchema } from "./schema-version.ts";
import { openConnection, retryBusy, type Synchronous } from "./sqlite-connection.ts";
import { FileIdentity } from "./sqlite-file-identity.ts";
import { sqliteIngestPolicy } from "./sqlite-ingest.ts";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.ts";
import type {
  ActivityQuery,
  AppliedConsent,
  DeliveryQuery,
  DeliveryUpdate,
  EventActivity,
  EventDetail,
  EventPage,
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
  /**
   * SQLite's own (blocking) wait for a lock held by another process; beyond it the store retries
   * without blocking the event loop. Short for the gateway (default 20 ms); the CLI may wait longer.
   */
  busyTimeoutMs?: number;
}

/**
 * SQLite store on `node:sqlite`, WAL mode. Durability is never traded for speed: each commit is
 * fsync'd, and throughput comes from group commit (see GroupCommitter).
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly identity: FileIdentity | undefined;
  private committer: GroupCommitter<NewEvent, InsertOutcome> | undefined;
  private closed = false;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.db = openConnection(path, {
      synchronous: options.synchronous ?? "FULL",
      busyTimeoutMs: options.busyTimeoutMs ?? 20,
    });
    this.identity = path === ":memory:" ? undefined : new FileIdentity(path);
  }

  /** Throws when the database file or its WAL was deleted or replaced under this connection. */
  private checkFile(): void {
    if (this.closed) throw new Error("store is closed");
    this.identity?.check();
  }

  /** Group-commit transactions and the events in them (observability and tests). */
  get counters(): { commits: number; events: number } {
    return this.committer?.counters ?? { commits: 0, events: 0 };
  }

  /** The file path of a `sqlite:<path>` URL. */
  static pathOf(url: string): string {
    return url.replace(/^sqlite:(\/\/)?/, "");
  }

  /** Opens `sqlite:<path>` URLs. */
  static fromUrl(url: string, options?: SqliteStoreOptions): SqliteStore {
    return new SqliteStore(SqliteStore.pathOf(url), options);
  }

  async migrate(): Promise<void> {
    await retryBusy(() => this.migrateNow());
  }

  private migrateNow(): void {
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
    const applied = this.db.prepare("SELECT max(version) AS version FROM schema_migrations").get() as
      | { version: number | null }
      | undefined;
    assertKnownSchema(applied?.version, SQLITE_MIGRATIONS);
    // Only now: the WAL exists once the schema has been read, and its identity is recorded.
    this.identity?.check();
    this.committer ??= new GroupCommitter(sqliteIngestPolicy(this.db, () => this.checkFile()));
  }

  insertEvent(event: NewEvent): Promise<InsertOutcome> {
    if (this.closed) return Promise.reject(new Error("store is closed"));
    if (!this.committer) return Promise.reject(new Error("store is not migrated"));
    return this.committer.insert(event);
  }

  async ping(): Promise<void> {
    // A read proves little: a deleted file, a full disk or a read-only mount still answer SELECT 1.
    await this.write(() => {
      this.db.prepare("INSERT OR REPLACE INTO readiness (id, checked_at) VALUES (1, ?)").run(Date.now());
    }, 1_500);
  }

  async storedBody(source: string, svixId: string): Promise<Uint8Array | undefined> {
    if (this.closed) throw new Error("store is closed");
    const row = this.db
      .prepare("SELECT body FROM events WHERE source = ? AND svix_id = ?")
      .get(source, svixId) as { body: Uint8Array } | undefined;
    return row?.body;
  }

  async listEvents(query: EventQuery): Promise<StoredEvent[]> {
    return (await this.findEvents(query)).items;
  }

  async findEvents(query: EventQuery): Promise<EventPage> {
    const { sql, params } = eventSearchSql(query);
    return toEventPage(this.all(sql, params), query.limit);
  }

  async eventDetail(id: string): Promise<EventDetail | undefined> {
    const byId = eventByIdSql(id);
    const event = this.all(byId.sql, byId.params)[0];
    if (!event) return undefined;
    const ref = Number(event.ref);
    const deliveries = deliveriesOfSql(ref);
    const attempts = attemptsOfSql(ref);
    return toEventDetail(
      event,
      this.all(deliveries.sql, deliveries.params),
      this.all(attempts.sql, attempts.params),
    );
  }

  async activity(query: ActivityQuery): Promise<EventActivity> {
    const events = eventActivitySql(query);
    const attempts = attemptActivitySql(query);
    return toActivity(query, this.all(events.sql, events.params), this.all(attempts.sql, attempts.params));
  }

  private all(sql: string, params: readonly Param[]): Row[] {
    if (this.closed) throw new Error("store is closed");
    return this.db.prepare(sql).all(...params) as Row[];
  }

  async stats(now = new Date()): Promise<StoreStats> {
    const all = (sql: string) => this.db.prepare(sql).all() as never[];
    return toStats(
      {
        events: all("SELECT type, COUNT(*) AS n FROM events GROUP BY type ORDER BY type"),
        deliveries: all(
          "SELECT connector, status, COUNT(*) AS n FROM deliveries GROUP BY connector, status ORDER BY connector",
        ),
        pending: this.db
          .prepare(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status IN ('pending', 'retrying')",
          )
          .get() as never,
        pendingByConnector: all(
          "SELECT connector, COUNT(*) AS n, MIN(queued_at) AS oldest FROM deliveries WHERE status IN ('pending', 'retrying') GROUP BY connector",
        ),
      },
      now,
    );
  }

  /**
   * Runs `fn` in one write transaction (IMMEDIATE: takes the write lock first, across processes),
   * after checking the file is still the one at the path; waits off the event loop while another
   * process holds the lock.
   */
  private write<T>(fn: () => T, lockWaitMs?: number): Promise<T> {
    return retryBusy(() => this.transaction(fn), lockWaitMs);
  }

  private transaction<T>(fn: () => T): T {
    this.checkFile();
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
    const rows = await this.write(() => {
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
                  e.received_at, e.body, e.traceparent
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
    return this.write(() => {
      const update = this.db.prepare(
        `UPDATE deliveries SET status = ?, last_error = ?, next_attempt_at = ?, attempts = attempts + ?,
           lease_owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND lease_owner = ? AND status IN ('pending', 'retrying')`,
      );
      const attempt = this.db.prepare(
        `INSERT INTO attempts (delivery_ref, attempt, started_at, duration_ms, outcome, error, target_status, detail)
         SELECT id, attempts, ?, ?, ?, ?, ?, ? FROM deliveries WHERE id = ?`,
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
            u.attempt.targetStatus ?? null,
            attemptDetail(u.attempt),
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
    return this.write(() =>
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
        `SELECT c.order_key, e.source, e.svix_id, e.event_id, e.type, e.contact_id, e.received_at, e.body, e.traceparent
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
    const where = replayFilterSql(query);
    if (query.dryRun)
      return Number(this.all(`SELECT COUNT(*) AS n FROM deliveries d ${where.sql}`, where.params)[0]?.n ?? 0);
    const t = now.getTime();
    return this.write(() =>
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
    return this.write(() =>
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
    const id = normalizeContactId(contactId);
    const erased = await this.write(() => {
      let n = Number(this.db.prepare("DELETE FROM events WHERE contact_id = ?").run(id).changes);
      // Rows stored before every status kept its contact id: the body decides, read exactly as
      // ingest reads it. The byte search only narrows the candidates; it never decides.
      const candidates = this.db
        .prepare("SELECT id, body FROM events WHERE contact_id IS NULL AND instr(body, ?) > 0")
        .all(Buffer.from(id, "utf8")) as { id: number; body: Uint8Array }[];
      const remove = this.db.prepare("DELETE FROM events WHERE id = ?");
      for (const row of candidates) {
        if (contactNamedBy(row.body) === id) n += Number(remove.run(row.id).changes);
      }
      this.db.prepare("DELETE FROM consent_state WHERE contact_id = ?").run(id);
      return n;
    });
    await this.truncateWal();
    return erased;
  }

  /**
   * Copies every page into the database file (where `secure_delete` has zeroed the erased rows)
   * and truncates the WAL, which still holds the pages as they were before the erasure. Another
   * connection's open read keeps the WAL alive, so this waits (off the event loop) for it to end.
   */
  private async truncateWal(deadlineMs = 10_000): Promise<void> {
    const giveUpAt = Date.now() + deadlineMs;
    for (let wait = 10; ; wait = Math.min(wait * 2, 250)) {
      const result = await retryBusy(
        () => this.db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get() as { busy: number },
        deadlineMs,
      );
      if (Number(result.busy) === 0) return;
      if (Date.now() + wait > giveUpAt) {
        throw new Error(
          "the contact's rows are deleted, but the write-ahead log could not be truncated while other " +
            "connections read it: run forget-contact again (it is idempotent) to remove the last trace",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Commit what is queued before closing, so an accepted request is never dropped on shutdown.
    await this.committer?.drain();
    this.closed = true;
    this.db.close();
  }
}
