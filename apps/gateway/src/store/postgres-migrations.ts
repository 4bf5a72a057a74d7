/**
 * Versioned schema of the PostgreSQL store. Append new versions; never edit an applied one.
 *
 * Same tables and column names as the SQLite store (see sqlite-migrations.ts; version 1 here is the
 * SQLite schema as of its version 4): times are BIGINT milliseconds since the epoch, bodies BYTEA.
 */
export const POSTGRES_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY,
        source TEXT NOT NULL,
        svix_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT,
        contact_id TEXT,
        tenant TEXT,
        received_at BIGINT NOT NULL,
        body BYTEA NOT NULL,
        UNIQUE (source, svix_id)
      );
      CREATE INDEX events_received_at ON events (received_at);

      CREATE TABLE deliveries (
        id BIGSERIAL PRIMARY KEY,
        -- UNIQUE (event_ref, connector) also serves the ON DELETE CASCADE from events.
        event_ref BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        connector TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        -- How often a delivery was leased: more leases than attempts means a lease ran out mid-flight.
        leases INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        queued_at BIGINT NOT NULL,
        UNIQUE (event_ref, connector)
      );
      -- Leasing: open deliveries of one connector in due order. Partial, so finished rows (the
      -- bulk of the table) cost nothing here.
      CREATE INDEX deliveries_due ON deliveries (connector, next_attempt_at, id)
        WHERE status IN ('pending', 'retrying');
      -- Only leased rows carry an owner: a partial index stays small.
      CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;

      CREATE TABLE attempts (
        id BIGSERIAL PRIMARY KEY,
        delivery_ref BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        error TEXT
      );
      CREATE INDEX attempts_delivery_ref ON attempts (delivery_ref);

      CREATE TABLE consent_state (
        connector TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        order_key BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        -- The event whose preference was applied last (no foreign key, as in SQLite: once the event
        -- is purged the order key still counts, and the event reads as absent).
        event_ref BIGINT,
        PRIMARY KEY (connector, contact_id, channel)
      );
    `,
  },
  {
    version: 5,
    sql: `
      -- /readyz proves the store can write by committing this one row.
      CREATE TABLE readiness (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at BIGINT NOT NULL);
    `,
  },
  {
    version: 6,
    sql: `
      -- The W3C traceparent of the ingest span (when tracing is on): delivery spans link to it, and
      -- the console shows its trace id.
      ALTER TABLE events ADD COLUMN traceparent TEXT;
      -- What the target answered (HTTP status, when the connector knows it) and the consent decision
      -- taken (value applied and where it came from, or the newer event that superseded it), as JSON.
      ALTER TABLE attempts ADD COLUMN target_status INTEGER;
      ALTER TABLE attempts ADD COLUMN detail TEXT;
      -- The overview counts attempts per minute over the last day.
      CREATE INDEX attempts_started_at ON attempts (started_at);
    `,
  },
];
