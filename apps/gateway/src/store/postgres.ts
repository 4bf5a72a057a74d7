import pg from "pg";
import {
  attemptActivitySql,
  attemptsOfSql,
  deliveriesOfSql,
  eventActivitySql,
  eventByIdSql,
  eventSearchSql,
  numbered,
  replayFilterSql,
  toActivity,
  toEventDetail,
  toEventPage,
} from "./console-queries.ts";
import { contactNamedBy, normalizeContactId } from "./contact-of.ts";
import { GroupCommitter } from "./group-committer.ts";
import { postgresIngestPolicy } from "./postgres-ingest.ts";
import { POSTGRES_MIGRATIONS } from "./postgres-migrations.ts";
import { attemptDetail, type Row, toLeasedEvent, toStats, toStoredDelivery, whereOf } from "./rows.ts";
import { assertKnownSchema } from "./schema-version.ts";
import type {
  ActivityQuery,
  AppliedConsent,
  DeliveryQuery,
  DeliveryStatus,
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

type Param = string | number | null | Uint8Array;

/** Key of the session advisory lock that serializes migrations across processes. */
const MIGRATION_LOCK_KEY = "7020843627718259301";

/** Deadlock or serialization failure: the transaction was rolled back and may simply run again. */
function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}

export interface PostgresStoreOptions {
  /** Connections in this process's pool (default 10). */
  poolSize?: number;
  /**
   * Server-side `statement_timeout` and `lock_timeout` (default 5 s); the client gives up 2 s
   * later when the server does not answer at all. Svix waits 15 s for an answer: a request must
   * end in a 503 (which Svix retries) well before that, never outlive it.
   */
  statementTimeoutMs?: number;
  /** Waiting for a connection, new or from the pool (default 5 s). */
  connectTimeoutMs?: number;
}

/** Maintenance statements (migrations, VACUUM) may legitimately run long; they lift the timeouts. */
const MAINTENANCE_TIMEOUT_MS = 30 * 60_000;

/** A query with its own client-side timeout (`pg` reads `query_timeout` per query; its types omit it). */
const timed = (text: string, timeoutMs: number, values: Param[] = []): pg.QueryConfig =>
  ({ text, values, query_timeout: timeoutMs }) as pg.QueryConfig;

/**
 * PostgreSQL store on `pg`, for several gateway processes sharing one database. Commits are
 * acknowledged only once durable (`synchronous_commit` is raised to `on` when the server has it
 * off); ingest throughput comes from group commit (GroupCommitter with postgresIngestPolicy); leasing uses
 * `FOR UPDATE SKIP LOCKED`, so any number of workers in any number of processes share the queue
 * without handing one delivery to two of them.
 */
export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  private readonly pool: pg.Pool;
  private committer: GroupCommitter<NewEvent, InsertOutcome> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(url: string, options: PostgresStoreOptions = {}) {
    const statementTimeout = options.statementTimeoutMs ?? 5_000;
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      application_name: "engage-bridge",
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      statement_timeout: statementTimeout,
      lock_timeout: statementTimeout,
      query_timeout: statementTimeout + 2_000,
      keepAlive: true,
      // Durability is never traded for speed: a commit resolves once flushed to the WAL. Runs on
      // each new connection before its first use; a stronger server setting (remote_write,
      // remote_apply) is kept.
      onConnect: async (client) => {
        await client.query(
          "SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') = 'off'",
        );
      },
    });
    // An idle connection that breaks (server restart, network) is dropped from the pool; the next
    // query opens a new one. Without a listener the error would crash the process.
    this.pool.on("error", () => {});
  }

  /** Opens `postgres://` and `postgresql://` URLs. */
  static fromUrl(url: string, options?: PostgresStoreOptions): PostgresStore {
    return new PostgresStore(url, options);
  }

  /** Group-commit transactions and the events in them (observability and tests). */
  get counters(): { commits: number; events: number } {
    return this.committer?.counters ?? { commits: 0, events: 0 };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("store is closed");
  }

  private async query<R extends Row = Row>(text: string, values: readonly Param[] = []): Promise<R[]> {
    this.assertOpen();
    return (await this.pool.query<R>(text, values as Param[])).rows;
  }

  private async execute(text: string, values: readonly Param[] = []): Promise<number> {
    this.assertOpen();
    return (await this.pool.query(text, values as Param[])).rowCount ?? 0;
  }

  /** Runs `fn` in one transaction; a deadlock or serialization failure runs it again (3 tries). */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.assertOpen();
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const result = await fn(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        try {
          await client.query("ROLLBACK");
        } catch (rollback) {
          broken = rollback as Error;
        }
        if (attempt < 3 && isRetryable(error) && !broken) continue;
        throw error;
      } finally {
        client.release(broken);
      }
    }
  }

  async migrate(): Promise<void> {
    this.assertOpen();
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await this.liftTimeouts(client);
      // A session lock: processes starting together apply each migration once, one after the other.
      await client.query(
        timed("SELECT pg_advisory_lock($1::bigint)", MAINTENANCE_TIMEOUT_MS, [MIGRATION_LOCK_KEY]),
      );
      try {
        await client.query(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
        );
        for (const migration of POSTGRES_MIGRATIONS) {
          await client.query("BEGIN");
          try {
            const done = await client.query("SELECT 1 FROM schema_migrations WHERE version = $1", [
              migration.version,
            ]);
            if (done.rowCount === 0) {
              await client.query(timed(migration.sql, MAINTENANCE_TIMEOUT_MS));
              await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [
                migration.version,
                Date.now(),
              ]);
            }
            await client.query("COMMIT");
          } catch (error) {
            await client.query("ROLLBACK").catch((rollback: Error) => {
              broken = rollback;
            });
            throw error;
          }
        }
      } finally {
        // Ending the session (a broken connection) releases the lock as well.
        if (!broken)
          await client
            .query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY])
            .catch((e: Error) => {
              broken = e;
            });
      }
      const applied = await client.query<{ version: number | null }>(
        "SELECT max(version) AS version FROM schema_migrations",
      );
      assertKnownSchema(applied.rows[0]?.version, POSTGRES_MIGRATIONS);
      if (!broken) await client.query("RESET statement_timeout; RESET lock_timeout");
    } catch (error) {
      // The session's timeouts are lifted: it must not go back to the pool as it is.
      broken ??= error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
    this.committer ??= new GroupCommitter(postgresIngestPolicy(this.pool));
  }

  /** For this session only (RESET restores the connection's defaults before it goes back to the pool). */
  private async liftTimeouts(client: pg.PoolClient): Promise<void> {
    await client.query("SET statement_timeout = 0; SET lock_timeout = 0");
  }

  insertEvent(event: NewEvent): Promise<InsertOutcome> {
    if (this.closed) return Promise.reject(new Error("store is closed"));
    if (!this.committer) return Promise.reject(new Error("store is not migrated"));
    return this.committer.insert(event);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    // A read proves little (a read-only standby or a full disk still answer SELECT 1): commit a write.
    await this.pool.query(
      timed(
        `INSERT INTO readiness (id, checked_at) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`,
        1_500,
        [Date.now()],
      ),
    );
  }

  async storedBody(source: string, svixId: string): Promise<Uint8Array | undefined> {
    const rows = await this.query<{ body: Uint8Array }>(
      "SELECT body FROM events WHERE source = $1 AND svix_id = $2",
      [source, svixId],
    );
    return rows[0]?.body;
  }

  async listEvents(query: EventQuery): Promise<StoredEvent[]> {
    return (await this.findEvents(query)).items;
  }

  async findEvents(query: EventQuery): Promise<EventPage> {
    const { sql, params } = eventSearchSql(query);
    return toEventPage(await this.query(numbered(sql), params), query.limit);
  }

  async eventDetail(id: string): Promise<EventDetail | undefined> {
    const byId = eventByIdSql(id);
    const [event] = await this.query(numbered(byId.sql), byId.params);
    if (!event) return undefined;
    const ref = Number(event.ref);
    const deliveries = deliveriesOfSql(ref);
    const attempts = attemptsOfSql(ref);
    const [deliveryRows, attemptRows] = await Promise.all([
      this.query(numbered(deliveries.sql), deliveries.params),
      this.query(numbered(attempts.sql), attempts.params),
    ]);
    return toEventDetail(event, deliveryRows, attemptRows);
  }

  async activity(query: ActivityQuery): Promise<EventActivity> {
    const events = eventActivitySql(query);
    const attempts = attemptActivitySql(query);
    const [eventRows, attemptRows] = await Promise.all([
      this.query(numbered(events.sql), events.params),
      this.query(numbered(attempts.sql), attempts.params),
    ]);
    return toActivity(query, eventRows, attemptRows);
  }

  async stats(now = new Date()): Promise<StoreStats> {
    const [eventRows, deliveryRows, pendingRows, byConnector] = await Promise.all([
      this.query<{ type: string; n: string }>(
        "SELECT type, COUNT(*) AS n FROM events GROUP BY type ORDER BY type",
      ),
      this.query<{ connector: string; status: DeliveryStatus; n: string }>(
        "SELECT connector, status, COUNT(*) AS n FROM deliveries GROUP BY connector, status ORDER BY connector",
      ),
      this.query<{ n: string; oldest: string | null }>(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status IN ('pending', 'retrying')",
      ),
      this.query<{ connector: string; n: string; oldest: string }>(
        `SELECT connector, COUNT(*) AS n, MIN(queued_at) AS oldest FROM deliveries
         WHERE status IN ('pending', 'retrying') GROUP BY connector ORDER BY connector`,
      ),
    ]);
    return toStats(
      {
        events: eventRows,
        deliveries: deliveryRows,
        pending: pendingRows[0],
        pendingByConnector: byConnector,
      },
      now,
    );
  }

  async leaseDue(
    connector: string,
    limit: number,
    owner: string,
    leaseMs: number,
    now = new Date(),
  ): Promise<LeasedDelivery[]> {
    this.assertOpen();
    const t = now.getTime();
    // One statement: rows locked by another worker's lease are skipped rather than waited for,
    // and a row whose lease was renewed meanwhile is re-checked against the WHERE clause.
    const { rows } = await this.pool.query<Row>({
      name: "engage_bridge_lease_due",
      text: `
        WITH due AS (
          SELECT id FROM deliveries
          WHERE connector = $1 AND status IN ('pending', 'retrying') AND next_attempt_at <= $2
            AND (lease_until IS NULL OR lease_until <= $2)
          ORDER BY next_attempt_at, id
          LIMIT $3
          FOR UPDATE SKIP LOCKED
        ), leased AS (
          UPDATE deliveries d SET lease_owner = $4, lease_until = $5, leases = d.leases + 1
          FROM due WHERE d.id = due.id
          RETURNING d.id, d.connector, d.attempts, d.leases, d.queued_at, d.event_ref
        )
        SELECT l.id, l.connector, l.attempts, l.leases, l.queued_at, e.source, e.svix_id, e.event_id, e.type,
               e.contact_id, e.received_at, e.body, e.traceparent
        FROM leased l JOIN events e ON e.id = l.event_ref
        ORDER BY e.received_at, e.id`,
      values: [connector, t, limit, owner, t + leaseMs],
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
    return this.transaction(async (client) => {
      let changed = 0;
      for (const u of updates) {
        // Not a delivery id of this store: nothing to update (as for an unknown id).
        if (!/^\d{1,18}$/.test(u.deliveryId)) continue;
        const next = u.status === "retrying" ? (u.nextAttemptAt?.getTime() ?? t) : t;
        // Fenced on the lease: a worker whose lease ran out (and was taken over) changes nothing.
        const updated = await client.query<{ connector: string; event_ref: string; attempts: number }>({
          name: "engage_bridge_complete",
          text: `UPDATE deliveries SET status = $1, last_error = $2, next_attempt_at = $3, attempts = attempts + $4,
                   lease_owner = NULL, lease_until = NULL, updated_at = $5
                 WHERE id = $6 AND lease_owner = $7 AND status IN ('pending', 'retrying')
                 RETURNING connector, event_ref, attempts`,
          values: [
            u.status,
            u.error ?? null,
            next,
            u.attempt && u.countsAsAttempt !== false ? 1 : 0,
            t,
            u.deliveryId,
            owner,
          ],
        });
        const row = updated.rows[0];
        if (!row) continue;
        changed += 1;
        if (u.attempt) {
          await client.query({
            name: "engage_bridge_attempt",
            text: `INSERT INTO attempts (delivery_ref, attempt, started_at, duration_ms, outcome, error, target_status, detail)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            values: [
              u.deliveryId,
              row.attempts,
              u.attempt.startedAt.getTime(),
              Math.round(u.attempt.durationMs),
              u.attempt.outcome,
              u.attempt.error ?? null,
              u.attempt.targetStatus ?? null,
              attemptDetail(u.attempt),
            ],
          });
        }
        if (u.consent) {
          // The greater order key wins; the event that carried it is kept with it.
          await client.query({
            name: "engage_bridge_consent",
            text: `INSERT INTO consent_state (connector, contact_id, channel, order_key, updated_at, event_ref)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (connector, contact_id, channel) DO UPDATE SET
                     event_ref = CASE WHEN excluded.order_key >= consent_state.order_key
                                      THEN excluded.event_ref ELSE consent_state.event_ref END,
                     order_key = GREATEST(consent_state.order_key, excluded.order_key),
                     updated_at = excluded.updated_at`,
            values: [
              row.connector,
              u.consent.contactId,
              u.consent.channel,
              Math.round(u.consent.orderKey),
              t,
              row.event_ref,
            ],
          });
        }
      }
      return changed;
    });
  }

  async releaseLeases(owner: string): Promise<number> {
    return this.execute(
      "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
      [owner],
    );
  }

  async appliedConsent(
    connector: string,
    contactId: string,
    channel: string,
  ): Promise<AppliedConsent | undefined> {
    const [row] = await this.query(
      `SELECT c.order_key, e.source, e.svix_id, e.event_id, e.type, e.contact_id, e.received_at, e.body, e.traceparent
       FROM consent_state c LEFT JOIN events e ON e.id = c.event_ref
       WHERE c.connector = $1 AND c.contact_id = $2 AND c.channel = $3`,
      [connector, contactId, channel],
    );
    if (!row) return undefined;
    return {
      orderKey: Number(row.order_key),
      event: row.svix_id == null ? undefined : toLeasedEvent(row),
    };
  }

  async listDeliveries(query: DeliveryQuery): Promise<StoredDelivery[]> {
    const where = whereOf(
      [
        ["d.status = ?", query.status],
        ["d.connector = ?", query.connector],
        ["(e.event_id = ? OR e.svix_id = ?)", query.eventId, query.eventId],
      ],
      1,
    );
    const limit = query.limit > 0 ? `LIMIT $${where.params.length + 1}` : "";
    const params = query.limit > 0 ? [...where.params, query.limit] : where.params;
    const rows = await this.query(
      `SELECT e.event_id, d.connector, d.status, d.attempts, d.last_error, d.next_attempt_at, d.updated_at
       FROM deliveries d JOIN events e ON e.id = d.event_ref
       ${where.sql}
       ORDER BY d.updated_at DESC, d.id DESC ${limit}`,
      params,
    );
    return rows.map(toStoredDelivery);
  }

  async replay(query: ReplayQuery, now = new Date()): Promise<number> {
    const where = replayFilterSql(query);
    if (query.dryRun) {
      const [row] = await this.query(
        `SELECT COUNT(*) AS n FROM deliveries d ${numbered(where.sql)}`,
        where.params,
      );
      return Number(row?.n ?? 0);
    }
    return this.execute(
      `UPDATE deliveries SET status = 'pending', attempts = 0, leases = 0, next_attempt_at = $1, queued_at = $1,
         updated_at = $1, lease_owner = NULL, lease_until = NULL
       WHERE id IN (SELECT d.id FROM deliveries d ${numbered(where.sql, 2)})`,
      [now.getTime(), ...where.params],
    );
  }

  async purge(before: Date): Promise<number> {
    return this.execute(
      `DELETE FROM events WHERE received_at < $1 AND NOT EXISTS (
         SELECT 1 FROM deliveries d WHERE d.event_ref = events.id AND d.status IN ('pending', 'retrying'))`,
      [before.getTime()],
    );
  }

  async forgetContact(contactId: string): Promise<number> {
    const id = normalizeContactId(contactId);
    const erased = await this.transaction(async (client) => {
      let n = (await client.query("DELETE FROM events WHERE contact_id = $1", [id])).rowCount ?? 0;
      // Rows stored before every status kept its contact id: the body decides, read exactly as
      // ingest reads it. The byte search only narrows the candidates; it never decides.
      const candidates = await client.query<{ id: string; body: Uint8Array }>(
        "SELECT id, body FROM events WHERE contact_id IS NULL AND position(convert_to($1, 'UTF8') IN body) > 0",
        [id],
      );
      const named = candidates.rows.filter((row) => contactNamedBy(row.body) === id).map((row) => row.id);
      if (named.length > 0)
        n += (await client.query("DELETE FROM events WHERE id = ANY($1::bigint[])", [named])).rowCount ?? 0;
      await client.query("DELETE FROM consent_state WHERE contact_id = $1", [id]);
      return n;
    });
    await this.vacuumErased();
    return erased;
  }

  /**
   * Deleted rows stay in PostgreSQL's pages as dead tuples, readable with page-inspection tools,
   * until VACUUM prunes them and removes their index entries. Plain VACUUM takes no lock that stops
   * ingest; the bytes of pruned tuples can still sit in a page's free space (and in WAL segments and
   * backups) until overwritten: docs/configuration.md explains `VACUUM FULL` for physical removal.
   */
  private async vacuumErased(): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await this.liftTimeouts(client);
      await client.query(timed("VACUUM events, deliveries, attempts, consent_state", MAINTENANCE_TIMEOUT_MS));
      await client.query("RESET statement_timeout; RESET lock_timeout");
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      // Commit what is queued before closing, so an accepted request is never dropped on shutdown.
      await this.committer?.drain();
      await this.pool.end();
    })();
    return this.closing;
  }
}
