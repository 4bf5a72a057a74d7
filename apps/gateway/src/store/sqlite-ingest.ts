import type { DatabaseSync } from "node:sqlite";
import type { GroupCommitPolicy, GroupResult } from "./group-committer.ts";
import { isBusy } from "./sqlite-connection.ts";
import type { InsertOutcome, NewEvent } from "./store.ts";

/**
 * The ingest commit of the SQLite store: one transaction for a group of events and their
 * deliveries.
 */
function createIngestCommitter(db: DatabaseSync): (events: readonly NewEvent[]) => InsertOutcome[] {
  const insertEvent = db.prepare(`
    INSERT INTO events (source, svix_id, event_id, type, status, status_reason, contact_id, tenant, received_at, body, traceparent)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (source, svix_id) DO NOTHING`);
  const insertDelivery = db.prepare(`
    INSERT INTO deliveries (event_ref, connector, status, attempts, next_attempt_at, created_at, updated_at, queued_at)
    VALUES (?, ?, 'pending', 0, ?, ?, ?, ?)`);

  const commit = (events: readonly NewEvent[]): InsertOutcome[] => {
    const outcomes: InsertOutcome[] = [];
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const e of events) {
        const received = e.receivedAt.getTime();
        // Not RETURNING id: SQLite materializes a RETURNING statement's rows, ~4 µs more per event
        // (measured, docs/benchmarks.md). A conflict changes nothing; an insert sets the rowid.
        const inserted = insertEvent.run(
          e.source,
          e.svixId,
          e.eventId,
          e.type,
          e.status,
          e.statusReason ?? null,
          e.contactId ?? null,
          e.tenant ?? null,
          received,
          e.body,
          e.traceparent ?? null,
        );
        if (inserted.changes === 0) {
          outcomes.push("duplicate");
          continue;
        }
        const eventRef = inserted.lastInsertRowid;
        for (const connector of e.connectors)
          insertDelivery.run(eventRef, connector, received, received, received, received);
        outcomes.push("stored");
      }
      db.exec("COMMIT");
      return outcomes;
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  };
  return commit;
}

/**
 * Per event: its outcome, or the error that kept it out (one bad row must not fail its neighbours).
 * A lock conflict is thrown instead: it concerns the whole group, which is tried again later.
 */
function commitGroup(
  commit: (events: readonly NewEvent[]) => InsertOutcome[],
  events: readonly NewEvent[],
): GroupResult<InsertOutcome>[] {
  try {
    return commit(events).map((outcome) => ({ outcome }));
  } catch (error) {
    if (isBusy(error)) throw error;
    if (events.length === 1) return [{ error }];
    return events.map((event) => {
      try {
        return { outcome: commit([event])[0] as InsertOutcome };
      } catch (single) {
        return { error: single };
      }
    });
  }
}

/**
 * How the SQLite store group-commits its ingest. The commit runs on the event loop: on this
 * machine kind (2 cores) handing it to a writer thread cost more than it saved, twice (measured:
 * docs/benchmarks.md). When another process holds the write lock (a CLI erasure, say), the group
 * waits off the event loop, 5 ms doubling to 100 ms, and tries again, instead of SQLite's busy
 * loop freezing every request.
 */
export function sqliteIngestPolicy(
  db: DatabaseSync,
  /** Runs before each transaction; throwing fails the whole group (the file was deleted or replaced). */
  beforeCommit: () => void,
): GroupCommitPolicy<NewEvent, InsertOutcome> {
  const commit = createIngestCommitter(db);
  return {
    // Each commit's fsync blocks the event loop (~0.5–1 ms here): a group that stays open while
    // requests keep arriving shares it among more events, ~36 → ~55 per commit at 64 connections
    // (docs/benchmarks.md).
    growTurns: 3,
    commit: (events) => {
      beforeCommit();
      return commitGroup(commit, events);
    },
    retryDelayMs: (error, previous) => (isBusy(error) ? Math.min(Math.max(previous * 2, 5), 100) : undefined),
  };
}
