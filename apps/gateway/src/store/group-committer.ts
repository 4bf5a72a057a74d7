/** Per item: its outcome, or the error that kept it out (one bad row must not fail its neighbours). */
export type GroupResult<R> = { outcome: R } | { error: unknown };

export interface GroupCommitPolicy<T, R> {
  /**
   * Commits one group in one transaction and gives one result per item, in order: synchronously
   * (SQLite, whose commit blocks the event loop for its fsync anyway) or as a promise (PostgreSQL).
   * Throwing fails the whole group, unless `retryDelayMs` says to try it again.
   */
  commit: (items: readonly T[]) => readonly GroupResult<R>[] | Promise<readonly GroupResult<R>[]>;
  /** Most items in one group; more wait for the next. */
  maxGroup?: number;
  /**
   * Extra turns of the event loop a group may stay open while it still grows (default 0: it closes
   * at the end of the turn that opened it). A turn that adds nothing closes it at once, so a quiet
   * gateway does not wait, and a busy one commits fewer, larger groups.
   */
  growTurns?: number;
  /**
   * For an error that failed the whole group: how long to wait before the group is tried again
   * (a write lock held by another process), given the previous wait (0 the first time), or
   * undefined to fail every item of the group with it.
   */
  retryDelayMs?: (error: unknown, previousDelayMs: number) => number | undefined;
  /** How long an item may wait through retries before it fails with the error (default 10 s). */
  maxWaitMs?: number;
}

interface Pending<T, R> {
  item: T;
  resolve: (outcome: R) => void;
  reject: (error: unknown) => void;
  /** When the item stops waiting for retries (then: 503, and Svix retries). */
  giveUpAt: number;
}

const DEFAULT_MAX_GROUP = 512;

/**
 * Group commit for the ingest path, one for both stores: every insert that arrives while the event
 * loop is busy, or while the previous group is committing, joins the next transaction, so that
 * one fsync (SQLite) or one round trip and WAL flush (PostgreSQL) acknowledges many webhooks. One
 * group is committed at a time: under load groups grow instead of transactions piling up.
 *
 * Scheduling is `setImmediate`: the group closes once every request already read in this turn of
 * the event loop has joined, or, with `growTurns`, once a turn adds nothing to it. Waiting on a
 * timer for bigger groups was measured slower: with a fixed number of connections, clients send
 * their next webhook only once answered, so a group that waits idle only delays them
 * (docs/benchmarks.md). Staying open only while requests keep arriving never idles.
 */
export class GroupCommitter<T, R> {
  /** Transactions committed, and items in them (observability and tests). */
  readonly counters = { commits: 0, events: 0 };
  private readonly policy: GroupCommitPolicy<T, R>;
  private readonly maxGroup: number;
  private queue: Pending<T, R>[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | undefined;
  private retryDelay = 0;
  /** Turns the queued group has stayed open for, and its size when it last did. */
  private openTurns = 0;
  private sizeAtLastTurn = 0;
  /** Draining for shutdown: a group that should wait for a lock fails instead. */
  private draining = false;

  constructor(policy: GroupCommitPolicy<T, R>) {
    this.policy = policy;
    this.maxGroup = policy.maxGroup ?? DEFAULT_MAX_GROUP;
  }

  insert(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject, giveUpAt: Date.now() + (this.policy.maxWaitMs ?? 10_000) });
      this.schedule(0);
    });
  }

  private schedule(delayMs: number): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.start();
    };
    if (delayMs === 0) setImmediate(run);
    else setTimeout(run, delayMs);
  }

  private start(): void {
    if (this.inFlight || this.queue.length === 0) return;
    if (this.keepOpen()) {
      this.schedule(0);
      return;
    }
    this.openTurns = 0;
    this.sizeAtLastTurn = 0;
    const group = this.queue.splice(0, this.maxGroup);
    this.inFlight = this.commit(group).finally(() => {
      this.inFlight = undefined;
      if (this.queue.length > 0) this.schedule(this.retryDelay);
    });
  }

  /** Whether the queued group stays open for another turn: it grew in the last one (never when draining). */
  private keepOpen(): boolean {
    if (this.draining || this.openTurns >= (this.policy.growTurns ?? 0)) return false;
    if (this.queue.length === this.sizeAtLastTurn) return false;
    if (this.queue.length >= this.maxGroup) return false;
    this.openTurns += 1;
    this.sizeAtLastTurn = this.queue.length;
    return true;
  }

  private async commit(group: Pending<T, R>[]): Promise<void> {
    let results: readonly GroupResult<R>[];
    try {
      // A synchronous commit runs here, before the first await: in the turn that closed the group.
      results = await this.policy.commit(group.map((pending) => pending.item));
    } catch (error) {
      this.retryLater(group, error);
      return;
    }
    this.retryDelay = 0;
    this.counters.commits += 1;
    this.counters.events += group.length;
    group.forEach((pending, i) => {
      const result = results[i];
      if (result && "outcome" in result) pending.resolve(result.outcome);
      else pending.reject(result?.error ?? new Error("no result for this item"));
    });
  }

  /** Puts a failed group back at the head of the queue, or fails it (no retry, waited too long, draining). */
  private retryLater(group: Pending<T, R>[], error: unknown): void {
    const delay = this.draining ? undefined : this.policy.retryDelayMs?.(error, this.retryDelay);
    if (delay === undefined) {
      for (const pending of group) pending.reject(error);
      return;
    }
    const now = Date.now();
    const waiting = group.filter((pending) => {
      if (pending.giveUpAt > now) return true;
      pending.reject(error);
      return false;
    });
    this.queue.unshift(...waiting);
    this.retryDelay = delay;
  }

  /**
   * Commits everything queued (shutdown: an accepted request is never dropped). A group that would
   * wait for a lock fails instead: its requests answer 503 and Svix retries them.
   */
  async drain(): Promise<void> {
    this.draining = true;
    while (this.inFlight || this.queue.length > 0) {
      if (this.inFlight) await this.inFlight;
      else this.start();
    }
  }
}
