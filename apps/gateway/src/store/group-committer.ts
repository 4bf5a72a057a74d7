import type { DatabaseSync } from "node:sqlite";
import { isBusy } from "./sqlite-connection.ts";
import { commitGroup, createIngestCommitter } from "./sqlite-ingest.ts";
import type { InsertOutcome, NewEvent } from "./store.ts";

/** Most events committed in one transaction; more wait for the next one. */
const MAX_GROUP = 512;

interface Pending {
  event: NewEvent;
  resolve: (outcome: InsertOutcome) => void;
  reject: (error: unknown) => void;
  /** When the event stops waiting for a lock held by another process (then: 503, Svix retries). */
  giveUpAt: number;
}

export interface GroupCommitterOptions {
  /** Runs before each transaction; throwing fails the whole group (the file was deleted or replaced). */
  beforeCommit?: () => void;
  /** How long an event waits for a write lock held by another process; well under Svix's 15 s. */
  lockWaitMs?: number;
}

/**
 * Group commit for the ingest path: every insert that arrives while the event loop is busy joins the
 * next transaction, so one fsync acknowledges many webhooks. The commit runs on the event loop: on
 * this machine kind (2 cores) handing it to a writer thread cost more than it saved (measured:
 * docs/benchmarks.md). When another process holds the write lock (a CLI erasure, say), the group
 * waits off the event loop and tries again, instead of SQLite's busy loop freezing every request.
 */
export class GroupCommitter {
  /** Transactions committed, and events in them (observability and tests). */
  readonly counters = { commits: 0, events: 0 };
  private queue: Pending[] = [];
  private scheduled = false;
  private lockWait = 0;
  private readonly commit: (events: readonly NewEvent[]) => InsertOutcome[];
  private readonly options: GroupCommitterOptions;

  constructor(db: DatabaseSync, options: GroupCommitterOptions = {}) {
    this.commit = createIngestCommitter(db);
    this.options = options;
  }

  insert(event: NewEvent): Promise<InsertOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject, giveUpAt: Date.now() + (this.options.lockWaitMs ?? 10_000) });
      // Let every request already read in this turn of the event loop join the transaction.
      this.schedule(0);
    });
  }

  private schedule(delayMs: number): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (delayMs === 0) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), delayMs);
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queue.splice(0, MAX_GROUP);
    if (group.length === 0) return;
    let results: ReturnType<typeof commitGroup>;
    try {
      this.options.beforeCommit?.();
      results = commitGroup(
        this.commit,
        group.map((p) => p.event),
      );
    } catch (error) {
      if (isBusy(error)) {
        this.waitForLock(group, error);
        return;
      }
      for (const pending of group) pending.reject(error);
      if (this.queue.length > 0) this.schedule(0);
      return;
    }
    this.lockWait = 0;
    if (this.queue.length > 0) this.schedule(0);
    this.counters.commits += 1;
    this.counters.events += group.length;
    group.forEach((pending, i) => {
      const result = results[i];
      if (result && "outcome" in result) pending.resolve(result.outcome);
      else pending.reject(new Error(result?.error ?? "no result for this event"));
    });
  }

  /** Puts the group back at the head of the queue and tries again later; events past their wait fail. */
  private waitForLock(group: Pending[], error: unknown): void {
    const now = Date.now();
    const waiting = group.filter((pending) => {
      if (pending.giveUpAt > now) return true;
      pending.reject(error);
      return false;
    });
    this.queue.unshift(...waiting);
    this.lockWait = Math.min(Math.max(this.lockWait * 2, 5), 100);
    if (this.queue.length > 0) this.schedule(this.lockWait);
  }

  /** Commits everything queued now (shutdown: an accepted request is never dropped). */
  close(): void {
    while (this.queue.length > 0) {
      const before = this.queue.length;
      this.flush();
      this.scheduled = false;
      // Still locked at shutdown: fail what is left rather than spin (the requests answer 503).
      if (this.queue.length >= before) {
        for (const pending of this.queue.splice(0)) pending.reject(new Error("store is closing"));
      }
    }
  }
}
