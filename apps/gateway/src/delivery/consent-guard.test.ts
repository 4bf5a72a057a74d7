import { parseEngageEvent } from "@engage-bridge/core";
import { describe, expect, it } from "vitest";
import type { AppliedConsent } from "../store/store.ts";
import { consentDecisions } from "./consent-guard.ts";

const EMAIL = "contact.acceptsEmail.changed";
const pref = (contactId: string, type: string, changedAt?: string, maybeSentBefore = false) => ({
  event: parseEngageEvent(
    JSON.stringify({
      id: `${contactId}-${changedAt}`,
      eventType: type,
      payload: { contactId, value: true, ...(changedAt ? { changedAt } : {}) },
    }),
  ),
  receivedAt: new Date("2026-11-28T12:00:00Z"),
  maybeSentBefore,
});
const appliedAt = (iso: string, withEvent = false): AppliedConsent => ({
  orderKey: new Date(iso).getTime(),
  event: withEvent
    ? {
        source: "engage",
        svixId: "m",
        eventId: "newer",
        type: EMAIL,
        contactId: "a",
        receivedAt: new Date(),
        body: Buffer.from("{}"),
        traceparent: null,
      }
    : undefined,
});
const kind = (d: unknown) => (d === undefined ? "go" : "skip" in (d as object) ? "skip" : "reassert");

describe("consentDecisions", () => {
  it("keeps only the newest change per contact and channel inside a batch", async () => {
    const items = [
      pref("a", EMAIL, "2026-11-28T10:00:00Z"),
      pref("a", EMAIL, "2026-11-28T08:00:00Z"),
      pref("a", "contact.acceptsSms.changed", "2026-11-28T07:00:00Z"),
      pref("b", EMAIL, "2026-11-28T09:00:00Z"),
      pref("a", EMAIL, "2026-11-28T11:00:00Z"),
    ];
    const decisions = await consentDecisions(items, async () => undefined);
    expect(decisions.map(kind)).toEqual(["skip", "skip", "go", "go", "go"]);
    const newest = items[4]?.event.id;
    expect(decisions.slice(0, 2).map((d) => (d as { supersededBy?: string }).supersededBy)).toEqual([
      newest,
      newest,
    ]);
  });

  it("skips a change older than the one already applied, and orders by receipt without change times", async () => {
    const decisions = await consentDecisions(
      [pref("a", EMAIL, "2026-11-28T09:59:59Z"), pref("b", EMAIL, "2026-11-28T10:00:01Z"), pref("c", EMAIL)],
      async (contactId) =>
        appliedAt(contactId === "c" ? "2026-11-28T12:00:01Z" : "2026-11-28T10:00:00Z", true),
    );
    expect(decisions.map(kind)).toEqual(["skip", "go", "skip"]);
    // Which event superseded it is kept: the operator console shows it.
    expect(decisions[0]).toEqual({
      skip: "a newer preference change was already applied",
      supersededBy: "newer",
    });
  });

  it("re-sends the applied newer event in place of an older retry that may have landed late", async () => {
    const retried = await consentDecisions([pref("a", EMAIL, "2026-11-28T09:00:00Z", true)], async () =>
      appliedAt("2026-11-28T10:00:00Z", true),
    );
    expect(kind(retried[0])).toBe("reassert");
    expect(retried[0] && "reassert" in retried[0] && retried[0].reassert.eventId).toBe("newer");
    // Without the newer event (purged or erased) there is nothing to re-send: skip.
    const gone = await consentDecisions([pref("a", EMAIL, "2026-11-28T09:00:00Z", true)], async () =>
      appliedAt("2026-11-28T10:00:00Z", false),
    );
    expect(kind(gone[0])).toBe("skip");
  });

  it("leaves other events alone", async () => {
    const loyalty = {
      event: parseEngageEvent(
        JSON.stringify({ id: "l", eventType: "loyalty.addPoints", payload: { contactId: "a", amount: 1 } }),
      ),
      receivedAt: new Date(),
      maybeSentBefore: true,
    };
    expect(
      await consentDecisions([loyalty, loyalty], async () => appliedAt("2099-01-01T00:00:00Z", true)),
    ).toEqual([undefined, undefined]);
  });
});
