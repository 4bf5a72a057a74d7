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
];
