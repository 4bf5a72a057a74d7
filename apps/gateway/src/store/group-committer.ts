import type { DatabaseSync } from "node:sqlite";
import { commitGroup, createIngestCommitter } from "./sqlite-ingest.ts";
import type { InsertOutcome, NewEvent } from "./store.ts";

/** Most events committed in one transaction; more wait for the next one. */
const MAX_GROUP = 512;

interface Pending {
  event: NewEvent;
  resolve: (outcome: InsertOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for the ingest path: every insert that arrives while the event loop is busy joins the
 * next transaction, so one fsync acknowledges many webhooks. The commit runs on the event loop: on
 * this machine kind (2 cores) handing it to a writer thread cost more than it saved (measured:
 * docs/benchmarks.md).
 */
export class GroupCommitter {
  /** Transactions committed, and events in them (observability and tests). */
  readonly counters = { commits: 0, events: 0 };
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly commit: (events: readonly NewEvent[]) => InsertOutcome[];

  constructor(db: DatabaseSync) {
    this.commit = createIngestCommitter(db);
  }

  insert(event: NewEvent): Promise<InsertOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // Let every request already read in this turn of the event loop join the transaction.
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queue.splice(0, MAX_GROUP);
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    if (group.length === 0) return;
    const results = commitGroup(
      this.commit,
      group.map((p) => p.event),
    );
    this.counters.commits += 1;
    this.counters.events += group.length;
    group.forEach((pending, i) => {
      const result = results[i];
      if (result && "outcome" in result) pending.resolve(result.outcome);
      else pending.reject(new Error(result?.error ?? "no result for this event"));
    });
  }

  /** Commits everything queued now (shutdown: an accepted request is never dropped). */
  close(): void {
    while (this.queue.length > 0) this.flush();
  }
}
