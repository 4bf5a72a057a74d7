import type { EngageEvent, PreferenceEvent } from "@engage-bridge/core";
import { isPreferenceEvent } from "@engage-bridge/core";

/**
 * Convergent consent without the Engage API: an older preference event never overwrites a newer
 * one already applied for the same (connector, contact, channel). "Older" compares the payload's
 * change time when it carries one, else the time the gateway received the event.
 */

export interface GuardedItem {
  event: EngageEvent;
  receivedAt: Date;
}

export function orderKey(event: PreferenceEvent, receivedAt: Date): number {
  return (event.data.changedAt ?? receivedAt).getTime();
}

export const consentKey = (event: PreferenceEvent) => `${event.contactId}\u0000${event.channel}`;

/**
 * Returns, per item index, why it must be skipped (superseded within the batch, or older than what
 * was applied), or undefined to deliver it.
 */
export async function consentSkips(
  items: readonly GuardedItem[],
  applied: (contactId: string, channel: string) => Promise<number | undefined>,
): Promise<(string | undefined)[]> {
  const reasons: (string | undefined)[] = items.map(() => undefined);
  const newest = new Map<string, number>();
  items.forEach((item, index) => {
    if (!isPreferenceEvent(item.event)) return;
    const key = consentKey(item.event);
    const current = newest.get(key);
    const mine = orderKey(item.event, item.receivedAt);
    const theirs = current === undefined ? undefined : items[current];
    if (theirs && isPreferenceEvent(theirs.event) && orderKey(theirs.event, theirs.receivedAt) > mine) {
      reasons[index] = "superseded by a newer preference event in the same batch";
      return;
    }
    if (current !== undefined) reasons[current] = "superseded by a newer preference event in the same batch";
    newest.set(key, index);
  });
  for (const index of newest.values()) {
    const item = items[index];
    if (!item || !isPreferenceEvent(item.event)) continue;
    const last = await applied(item.event.contactId, item.event.channel);
    if (last !== undefined && last > orderKey(item.event, item.receivedAt)) {
      reasons[index] = "a newer preference change was already applied";
    }
  }
  return reasons;
}
