import { describe, expect, it } from "vitest";
import { OpenResponses } from "./open-responses.ts";

describe("OpenResponses", () => {
  it("holds what was added and not removed, whatever the order of removal", () => {
    const open = new OpenResponses<string>();
    const remove = new Map(["a", "b", "c", "d", "e"].map((item) => [item, open.add(item)]));
    remove.get("b")?.();
    remove.get("e")?.(); // the last one
    remove.get("a")?.(); // the first one
    expect([...open].sort()).toEqual(["c", "d"]);
    expect(open.size).toBe(2);
    remove.get("c")?.();
    remove.get("d")?.();
    expect([...open]).toEqual([]);
    expect(open.size).toBe(0);
  });

  it("removes an item once: a second call does not remove another", () => {
    const open = new OpenResponses<number>();
    const removeOne = open.add(1);
    open.add(2);
    open.add(3);
    removeOne();
    removeOne();
    expect([...open].sort()).toEqual([2, 3]);
  });

  it("keeps count through many additions and removals in mixed order", () => {
    const open = new OpenResponses<number>();
    const live = new Map<number, () => void>();
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let n = 0; n < 5_000; n++) {
      live.set(n, open.add(n));
      if (random() < 0.5) {
        const keys = [...live.keys()];
        const victim = keys[Math.floor(random() * keys.length)] as number;
        live.get(victim)?.();
        live.delete(victim);
      }
    }
    expect([...open].sort((a, b) => a - b)).toEqual([...live.keys()].sort((a, b) => a - b));
  });

  it("iterates over a snapshot: removing during iteration skips nothing", () => {
    const open = new OpenResponses<string>();
    const removers = ["a", "b", "c"].map((item) => open.add(item));
    const seen: string[] = [];
    for (const item of open) {
      seen.push(item);
      removers[0]?.();
    }
    expect(seen).toEqual(["a", "b", "c"]);
    expect([...open].sort()).toEqual(["b", "c"]);
  });
});
