import { describe, expect, it } from "vitest";
import { GroupCommitter, type GroupResult } from "./group-committer.ts";

const ok = (items: readonly number[]): GroupResult<string>[] => items.map((n) => ({ outcome: `ok ${n}` }));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
class Locked extends Error {}

describe("GroupCommitter", () => {
  it("commits everything inserted in one turn of the event loop as one group, synchronously or not", async () => {
    for (const commitOf of [ok, async (items: readonly number[]) => ok(items)]) {
      const groups: number[][] = [];
      const committer = new GroupCommitter<number, string>({
        commit: (items) => {
          groups.push([...items]);
          return commitOf(items);
        },
      });
      const outcomes = await Promise.all([1, 2, 3].map((n) => committer.insert(n)));
      expect(outcomes).toEqual(["ok 1", "ok 2", "ok 3"]);
      expect(groups).toEqual([[1, 2, 3]]);
      expect(committer.counters).toEqual({ commits: 1, events: 3 });
    }
  });

  it("has one group in flight at a time: what arrives meanwhile makes the next group", async () => {
    const groups: number[][] = [];
    let inFlight = 0;
    let most = 0;
    const committer = new GroupCommitter<number, string>({
      commit: async (items) => {
        groups.push([...items]);
        most = Math.max(most, ++inFlight);
        await sleep(20);
        inFlight--;
        return ok(items);
      },
    });
    const first = committer.insert(1);
    await sleep(5);
    const rest = [2, 3, 4].map((n) => committer.insert(n));
    await Promise.all([first, ...rest]);
    expect(groups).toEqual([[1], [2, 3, 4]]);
    expect(most).toBe(1);
  });

  it("splits groups at maxGroup", async () => {
    const sizes: number[] = [];
    const committer = new GroupCommitter<number, string>({
      maxGroup: 2,
      commit: (items) => {
        sizes.push(items.length);
        return ok(items);
      },
    });
    await Promise.all([1, 2, 3, 4, 5].map((n) => committer.insert(n)));
    expect(sizes).toEqual([2, 2, 1]);
  });

  it("fails only the items whose result is an error", async () => {
    const committer = new GroupCommitter<number, string>({
      commit: (items) =>
        items.map((n) => (n === 2 ? { error: new Error("bad row") } : { outcome: `ok ${n}` })),
    });
    const results = await Promise.allSettled([1, 2, 3].map((n) => committer.insert(n)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toHaveProperty("message", "bad row");
  });

  it("fails the whole group on an error it is not told to retry", async () => {
    const committer = new GroupCommitter<number, string>({
      commit: () => {
        throw new Error("disk I/O error");
      },
      retryDelayMs: (error) => (error instanceof Locked ? 5 : undefined),
    });
    const results = await Promise.allSettled([1, 2].map((n) => committer.insert(n)));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
  });

  it("tries a group again, with growing waits, while the policy says so, then commits it whole", async () => {
    const delays: number[] = [];
    let locked = 3;
    const committer = new GroupCommitter<number, string>({
      commit: (items) => {
        if (locked-- > 0) throw new Locked("database is locked");
        return ok(items);
      },
      retryDelayMs: (error, previous) => {
        if (!(error instanceof Locked)) return undefined;
        const next = Math.max(previous * 2, 5);
        delays.push(next);
        return next;
      },
    });
    expect(await Promise.all([1, 2].map((n) => committer.insert(n)))).toEqual(["ok 1", "ok 2"]);
    expect(delays).toEqual([5, 10, 20]);
    expect(committer.counters).toEqual({ commits: 1, events: 2 });
  });

  it("fails an item that waited through retries longer than maxWaitMs", async () => {
    const committer = new GroupCommitter<number, string>({
      commit: () => {
        throw new Locked("database is locked");
      },
      retryDelayMs: () => 10,
      maxWaitMs: 40,
    });
    await expect(committer.insert(1)).rejects.toBeInstanceOf(Locked);
  });

  it("drain commits what is queued", async () => {
    const committer = new GroupCommitter<number, string>({ commit: ok });
    const queued = [1, 2].map((n) => committer.insert(n));
    await committer.drain();
    await expect(Promise.all(queued)).resolves.toEqual(["ok 1", "ok 2"]);
  });

  it("drain fails a group that would wait for a lock, instead of waiting (the test times out if it waits)", async () => {
    const committer = new GroupCommitter<number, string>({
      commit: () => {
        throw new Locked("database is locked");
      },
      retryDelayMs: () => 60_000,
    });
    const stuck = committer.insert(1);
    await committer.drain();
    await expect(stuck).rejects.toBeInstanceOf(Locked);
  });

  describe("growTurns", () => {
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    function recording(growTurns: number) {
      const groups: number[][] = [];
      const committer = new GroupCommitter<number, string>({
        growTurns,
        commit: (items) => {
          groups.push([...items]);
          return ok(items);
        },
      });
      return { groups, committer };
    }

    it("keeps a group open while each turn adds to it, up to growTurns more turns", async () => {
      const { groups, committer } = recording(3);
      const all: Promise<string>[] = [];
      // Items arrive in six consecutive turns: the group takes the first four, the rest make the next.
      for (let turn = 0; turn < 6; turn++) {
        all.push(committer.insert(turn * 10), committer.insert(turn * 10 + 1));
        await nextTurn();
      }
      await Promise.all(all);
      expect(groups).toEqual([
        [0, 1, 10, 11, 20, 21, 30, 31],
        [40, 41, 50, 51],
      ]);
    });

    it("closes a group after the first turn that adds nothing to it", async () => {
      const { groups, committer } = recording(3);
      const first = [committer.insert(1), committer.insert(2)];
      await nextTurn();
      first.push(committer.insert(3));
      await Promise.all(first);
      const later = committer.insert(4);
      await later;
      expect(groups).toEqual([[1, 2, 3], [4]]);
    });

    it("with 0 (the default) closes a group in the turn that opened it", async () => {
      const { groups, committer } = recording(0);
      const first = committer.insert(1);
      await nextTurn();
      await Promise.all([first, committer.insert(2)]);
      expect(groups).toEqual([[1], [2]]);
    });

    it("drain commits an open group at once", async () => {
      const { groups, committer } = recording(1_000);
      const queued = [1, 2].map((n) => committer.insert(n));
      await committer.drain();
      await expect(Promise.all(queued)).resolves.toEqual(["ok 1", "ok 2"]);
      expect(groups).toEqual([[1, 2]]);
    });
  });
});
