import { describe, expect, it, vi } from "vitest";
import { raceAbort } from "./abort.ts";

describe("raceAbort", () => {
  it("settles like the promise while the signal stays quiet", async () => {
    const controller = new AbortController();
    await expect(raceAbort(Promise.resolve(1), controller.signal)).resolves.toBe(1);
    await expect(raceAbort(Promise.reject(new Error("no")), controller.signal)).rejects.toThrow("no");
    await expect(raceAbort(Promise.resolve(2), undefined)).resolves.toBe(2);
  });

  it("rejects with the signal's reason as soon as it aborts, and hands a late value to onAbandoned", async () => {
    const controller = new AbortController();
    const { promise, resolve } = Promise.withResolvers<string>();
    const onAbandoned = vi.fn();
    const raced = raceAbort(promise, controller.signal, onAbandoned);
    controller.abort(new Error("timed out"));
    await expect(raced).rejects.toThrow("timed out");
    resolve("late");
    await promise;
    await Promise.resolve();
    expect(onAbandoned).toHaveBeenCalledWith("late");
  });

  it("rejects at once for a signal already aborted, swallowing the abandoned promise's failure", async () => {
    const signal = AbortSignal.abort(new Error("gone"));
    const unhandled = vi.fn();
    process.on("unhandledRejection", unhandled);
    try {
      await expect(raceAbort(Promise.reject(new Error("ignored")), signal)).rejects.toThrow("gone");
      await new Promise((r) => setTimeout(r, 10));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off("unhandledRejection", unhandled);
    }
  });
});
