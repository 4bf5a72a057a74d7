import { parseEngageEvent } from "@engage-bridge/core";
import { describe, expect, it } from "vitest";
import { consentSkips } from "./consent-guard.ts";

const pref = (contactId: string, type: string, changedAt?: string) => ({
  event: parseEngageEvent(
    JSON.stringify({
      id: `${contactId}-${changedAt}`,
      eventType: type,
      payload: { contactId, value: true, ...(changedAt ? { changedAt } : {}) },
    }),
  ),
  receivedAt: new Date("2026-11-28T12:00:00Z"),
});
const EMAIL = "contact.acceptsEmail.changed";

describe("consentSkips", () => {
  it("keeps only the newest change per contact and channel inside a batch", async () => {
    const items = [
      pref("a", EMAIL, "2026-11-28T10:00:00Z"),
      pref("a", EMAIL, "2026-11-28T08:00:00Z"),
      pref("a", "contact.acceptsSms.changed", "2026-11-28T07:00:00Z"),
      pref("b", EMAIL, "2026-11-28T09:00:00Z"),
      pref("a", EMAIL, "2026-11-28T11:00:00Z"),
    ];
    const reasons = await consentSkips(items, async () => undefined);
    expect(reasons.map((r) => (r ? "skip" : "go"))).toEqual(["skip", "skip", "go", "go", "go"]);
  });

  it("skips a change older than the one already applied, and orders by receipt without change times", async () => {
    const applied = new Date("2026-11-28T10:00:00Z").getTime();
    const reasons = await consentSkips(
      [pref("a", EMAIL, "2026-11-28T09:59:59Z"), pref("b", EMAIL, "2026-11-28T10:00:01Z"), pref("c", EMAIL)],
      async (contactId) => (contactId === "c" ? new Date("2026-11-28T12:00:01Z").getTime() : applied),
    );
    expect(reasons[0]).toMatch(/already applied/);
    expect(reasons[1]).toBeUndefined();
    expect(reasons[2]).toMatch(/already applied/);
  });

  it("leaves other events alone", async () => {
    const loyalty = {
      event: parseEngageEvent(
        JSON.stringify({ id: "l", eventType: "loyalty.addPoints", payload: { contactId: "a", amount: 1 } }),
      ),
      receivedAt: new Date(),
    };
    expect(await consentSkips([loyalty, loyalty], async () => Number.MAX_SAFE_INTEGER)).toEqual([
      undefined,
      undefined,
    ]);
  });
});
