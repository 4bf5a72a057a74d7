/** Versioned schema of the SQLite store. Append new versions; never edit an applied one. */
export const SQLITE_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        svix_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT,
        contact_id TEXT,
        tenant TEXT,
        received_at INTEGER NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (source, svix_id)
      );
      CREATE INDEX events_received_at ON events (received_at);
      CREATE INDEX events_contact_id ON events (contact_id);
      CREATE INDEX events_event_id ON events (event_id);
      CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        event_ref INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        connector TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (event_ref, connector)
      );
      CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
    `,
  },
  {
    version: 2,
    sql: `
      ALTER TABLE deliveries ADD COLUMN queued_at INTEGER;
      UPDATE deliveries SET queued_at = created_at;
      CREATE INDEX deliveries_connector_due ON deliveries (connector, status, next_attempt_at);
      CREATE INDEX deliveries_lease_owner ON deliveries (lease_owner);
      CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        delivery_ref INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        error TEXT
      );
      CREATE INDEX attempts_delivery_ref ON attempts (delivery_ref);
      CREATE TABLE consent_state (
        connector TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        order_key INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (connector, contact_id, channel)
      );
    `,
  },
  {
    version: 3,
    sql: `
      -- The event whose preference was applied last: re-sent when an older attempt may have landed late.
      ALTER TABLE consent_state ADD COLUMN event_ref INTEGER;
      -- How often a delivery was leased: more leases than attempts means a lease ran out mid-flight.
      ALTER TABLE deliveries ADD COLUMN leases INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 4,
    sql: `
      -- Every index is paid on each commit of the ingest path. These served no query (the operator
      -- commands that filter on event or contact id scan anyway), and random GUID keys cost about
      -- two extra WAL pages per event: see docs/benchmarks.md.
      DROP INDEX events_event_id;
      DROP INDEX events_contact_id;
      -- deliveries_connector_due serves leasing and statistics alike.
      DROP INDEX deliveries_due;
      -- Only leased rows carry an owner: a partial index stays small.
      DROP INDEX deliveries_lease_owner;
      CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;
    `,
  },
  {
    version: 5,
    sql: `
      -- /readyz proves the store can write by committing this one row.
      CREATE TABLE readiness (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at INTEGER NOT NULL);
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
