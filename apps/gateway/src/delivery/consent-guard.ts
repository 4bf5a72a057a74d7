import type { EngageEvent, PreferenceEvent } from "@engage-bridge/core";
import { isPreferenceEvent } from "@engage-bridge/core";
import type { AppliedConsent } from "../store/store.ts";

/**
 * Convergent consent without the Engage API: an older preference event never overwrites a newer
 * one already applied for the same (connector, contact, channel). "Older" compares the payload's
 * change time when it carries one, else the time the gateway received the event.
 *
 * One subtlety: an item tried before may have reached the target (a worker killed mid-request, an
 * attempt that timed out yet landed), possibly *after* the newer change. Such an item is not just
 * skipped: the newer applied event is sent again in its place, so the target ends on the newest
 * value whatever order the requests landed in.
 */

export interface GuardedItem {
  event: EngageEvent;
  receivedAt: Date;
  /** An earlier attempt may have reached the target (see LeasedDelivery.maybeSentBefore). */
  maybeSentBefore: boolean;
}

export type GuardDecision =
  | undefined
  /** `supersededBy`: the Engage event id of the newer change, when it is known. */
  | { skip: string; supersededBy?: string }
  | { reassert: NonNullable<AppliedConsent["event"]>; reason: string };

export function orderKey(event: PreferenceEvent, receivedAt: Date): number {
  return (event.data.changedAt ?? receivedAt).getTime();
}

const consentKey = (event: PreferenceEvent) => `${event.contactId}\u0000${event.channel}`;
const SUPERSEDED = "superseded by a newer preference event in the same batch";
const ALREADY_APPLIED = "a newer preference change was already applied";

/** Decides, per item index: deliver (undefined), skip (with reason), or re-send the applied newer event. */
export async function consentDecisions(
  items: readonly GuardedItem[],
  applied: (contactId: string, channel: string) => Promise<AppliedConsent | undefined>,
): Promise<GuardDecision[]> {
  const decisions: GuardDecision[] = items.map(() => undefined);
  const newest = new Map<string, number>();
  const skippedKeys = new Map<number, string>();
  items.forEach((item, index) => {
    if (!isPreferenceEvent(item.event)) return;
    const key = consentKey(item.event);
    const current = newest.get(key);
    const theirs = current === undefined ? undefined : items[current];
    if (
      theirs &&
      isPreferenceEvent(theirs.event) &&
      orderKey(theirs.event, theirs.receivedAt) > orderKey(item.event, item.receivedAt)
    ) {
      decisions[index] = { skip: SUPERSEDED };
      skippedKeys.set(index, key);
      return;
    }
    if (current !== undefined) {
      decisions[current] = { skip: SUPERSEDED };
      skippedKeys.set(current, key);
    }
    newest.set(key, index);
  });
  // Each skipped change names the newest of its batch, the one that is applied.
  for (const [index, key] of skippedKeys) {
    const winner = items[newest.get(key) ?? -1];
    if (winner) decisions[index] = { skip: SUPERSEDED, supersededBy: winner.event.id };
  }
  for (const index of newest.values()) {
    const item = items[index];
    if (!item || !isPreferenceEvent(item.event)) continue;
    const last = await applied(item.event.contactId, item.event.channel);
    if (last === undefined || last.orderKey <= orderKey(item.event, item.receivedAt)) continue;
    decisions[index] =
      item.maybeSentBefore && last.event
        ? {
            reassert: last.event,
            reason: `${ALREADY_APPLIED}; it was sent again in case this older one landed late`,
          }
        : last.event
          ? { skip: ALREADY_APPLIED, supersededBy: last.event.eventId }
          : { skip: ALREADY_APPLIED };
  }
  return decisions;
}
