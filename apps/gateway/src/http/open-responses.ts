/**
 * The responses of a server that are not finished yet: shutdown marks each one whose headers are
 * not sent `Connection: close`.
 *
 * Not a `Set`. A set that gains and loses one entry per request rehashes every few dozen requests,
 * and V8 links each replaced hash table to its successor (for iterators still on it) without
 * clearing the entries it held. Once one table has lived long enough to reach the old generation,
 * that dead table keeps its successor, and the responses both hold, alive through every young
 * GC: every request's objects were promoted to the old generation, until the next full GC. Under
 * bursts of webhooks that took the gateway's peak RSS from ~140 MB to ~200 MB, with more GC work
 * per event (measured, docs/benchmarks.md). An array whose entries are swapped out on removal
 * keeps one backing store, and a removed entry is overwritten at once.
 */
export class OpenResponses<T> {
  private readonly slots: Slot<T>[] = [];

  /** Adds `item`; the function returned removes it (once; later calls do nothing). */
  add(item: T): () => void {
    const slot: Slot<T> = { item, index: this.slots.length };
    this.slots.push(slot);
    return () => this.remove(slot);
  }

  get size(): number {
    return this.slots.length;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    // A copy: an item removed while the caller iterates does not make it skip another.
    for (const slot of [...this.slots]) yield slot.item;
  }

  private remove(slot: Slot<T>): void {
    if (slot.index < 0) return;
    const last = this.slots.pop() as Slot<T>;
    if (last !== slot) {
      this.slots[slot.index] = last;
      last.index = slot.index;
    }
    slot.index = -1;
  }
}

interface Slot<T> {
  item: T;
  /** Where it is in `slots`; -1 once removed. */
  index: number;
}
