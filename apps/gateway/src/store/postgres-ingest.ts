import type { Pool } from "pg";
import type { GroupCommitPolicy, GroupResult } from "./group-committer.ts";
import { int4Array, int8Array, textArray } from "./postgres-arrays.ts";
import type { InsertOutcome, NewEvent } from "./store.ts";

/**
 * One statement (so one implicit transaction, one round trip) stores a group of events and their
 * deliveries. Events go in as parallel arrays; `ord` is the position of an event in the group.
 * Rows are inserted in `ord` order, so ids follow that order. The bodies go in as one binary
 * parameter ($10) cut by offsets and lengths ($14, $15): a `bytea[]` parameter is sent as text, each
 * body hex-encoded and escaped by the client, which cost more CPU than the rest of the insert.
 * The arrays go in PostgreSQL's binary array format (postgres-arrays.ts), not as text literals that
 * the client escapes and the server tokenizes.
 */
const INSERT_GROUP_SQL = `
WITH input AS (
  SELECT source, svix_id, event_id, type, status, status_reason, contact_id, tenant, received_at,
         substring($10::bytea FROM body_from FOR body_length) AS body, traceparent, ord
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
              $8::text[], $9::bigint[], $14::int[], $15::int[], $13::text[])
    WITH ORDINALITY AS t(source, svix_id, event_id, type, status, status_reason, contact_id, tenant,
                         received_at, body_from, body_length, traceparent, ord)
), inserted AS (
  INSERT INTO events (source, svix_id, event_id, type, status, status_reason, contact_id, tenant, received_at, body, traceparent)
  SELECT source, svix_id, event_id, type, status, status_reason, contact_id, tenant, received_at, body, traceparent
  FROM input ORDER BY ord
  ON CONFLICT (source, svix_id) DO NOTHING
  RETURNING id, source, svix_id, received_at
), stored AS (
  SELECT i.id, i.received_at, input.ord
  FROM inserted i JOIN input ON input.source = i.source AND input.svix_id = i.svix_id
), queued AS (
  INSERT INTO deliveries (event_ref, connector, status, attempts, next_attempt_at, created_at, updated_at, queued_at)
  SELECT s.id, c.connector, 'pending', 0, s.received_at, s.received_at, s.received_at, s.received_at
  FROM stored s JOIN unnest($11::bigint[], $12::text[]) WITH ORDINALITY AS c(ord, connector, n) ON c.ord = s.ord
  ORDER BY s.ord, c.n
)
SELECT ord FROM stored`;

/**
 * Commits `events` in one transaction: the outcome of each, in order. The statement returns only
 * after COMMIT is acknowledged (the store keeps `synchronous_commit` on: flushed to the WAL).
 * A `(source, svixId)` repeated inside the group is a duplicate of its first occurrence.
 */
export async function insertGroup(pool: Pool, events: readonly NewEvent[]): Promise<InsertOutcome[]> {
  // The first occurrence of each key goes in; later ones are duplicates of it. The source's length
  // first keeps the key unambiguous whatever either part holds.
  const keys = events.map((e) => `${e.source.length}:${e.source}${e.svixId}`);
  const firstOf = new Map<string, number>();
  keys.forEach((key, i) => {
    if (!firstOf.has(key)) firstOf.set(key, i);
  });
  // Inserted in key order, not arrival order (arrivals in one group are concurrent anyway): two
  // replicas inserting the same keys then take the unique-index locks in the same order, so one
  // waits for the other instead of deadlocking.
  const order = [...firstOf.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, i]) => i);
  const unique = order.map((i) => events[i] as NewEvent);
  const positionOf = new Map(order.map((eventIndex, position) => [eventIndex, position]));
  const slots = events.map((_, i) => positionOf.get(i) ?? -1);
  const connectorOrd: number[] = [];
  const connectorName: string[] = [];
  unique.forEach((e, i) => {
    for (const connector of e.connectors) {
      connectorOrd.push(i + 1);
      connectorName.push(connector);
    }
  });
  const bodyFrom: number[] = [];
  let offset = 1; // substring() counts from 1
  for (const e of unique) {
    bodyFrom.push(offset);
    offset += e.body.byteLength;
  }
  const result = await pool.query<{ ord: string }>({
    name: "engage_bridge_insert_events",
    text: INSERT_GROUP_SQL,
    values: [
      textArray(unique.map((e) => e.source)),
      textArray(unique.map((e) => e.svixId)),
      textArray(unique.map((e) => e.eventId)),
      textArray(unique.map((e) => e.type)),
      textArray(unique.map((e) => e.status)),
      textArray(unique.map((e) => e.statusReason)),
      textArray(unique.map((e) => e.contactId)),
      textArray(unique.map((e) => e.tenant)),
      int8Array(unique.map((e) => e.receivedAt.getTime())),
      Buffer.concat(unique.map((e) => e.body)),
      int8Array(connectorOrd),
      textArray(connectorName),
      textArray(unique.map((e) => e.traceparent)),
      int4Array(bodyFrom),
      int4Array(unique.map((e) => e.body.byteLength)),
    ],
  });
  const stored = new Set(result.rows.map((r) => Number(r.ord) - 1));
  return slots.map((slot) => (slot >= 0 && stored.has(slot) ? "stored" : "duplicate"));
}

/** The store (not one row) is the problem: retrying the group event by event would not help. */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    // Connection exception, insufficient resources, operator intervention (statement timeout
    // included), system/internal error, and lock_timeout (55P03).
    if (/^(08|53|57|58|XX)/.test(code) || code === "55P03") return true;
    // Node system errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, …).
    if (/^E[A-Z]+$/.test(code)) return true;
  }
  // `Query read timeout`: the client's own query_timeout, for a server that does not answer at all.
  return /connection terminated|timeout exceeded|query read timeout|client was closed|after calling end|not queryable/i.test(
    String((error as Error | null)?.message ?? error),
  );
}

export async function commitGroup(
  pool: Pool,
  events: readonly NewEvent[],
): Promise<GroupResult<InsertOutcome>[]> {
  try {
    return (await insertGroup(pool, events)).map((outcome) => ({ outcome }));
  } catch (error) {
    if (events.length === 1 || isUnavailable(error)) return events.map(() => ({ error }));
    // Find the bad row(s): each event in its own transaction, in arrival order.
    const results: GroupResult<InsertOutcome>[] = [];
    let down: unknown;
    for (const event of events) {
      // Once the store itself fails, the rest fail with it at once: each waiting out its own
      // timeout would answer the last request long after Svix stopped waiting.
      if (down !== undefined) {
        results.push({ error: down });
        continue;
      }
      try {
        const [outcome] = await insertGroup(pool, [event]);
        results.push(outcome ? { outcome } : { error: new Error("no result for this event") });
      } catch (single) {
        if (isUnavailable(single)) down = single;
        results.push({ error: single });
      }
    }
    return results;
  }
}

/**
 * How the PostgreSQL store group-commits its ingest: one statement per group (above). The commit is
 * a round trip: inserts that arrive while it is in flight make the next group, so under load groups
 * grow instead of connections piling up; several replicas commit their groups concurrently. A store
 * that is down fails the group at once (503, Svix retries): no retry here.
 */
export function postgresIngestPolicy(pool: Pool): GroupCommitPolicy<NewEvent, InsertOutcome> {
  // As for SQLite: a group that stays open while requests keep arriving shares its round trip and
  // WAL flush among more events (main-thread CPU per event -6 %, docs/benchmarks.md).
  return { growTurns: 3, commit: (events) => commitGroup(pool, events) };
}
