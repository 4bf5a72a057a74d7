import type { EngageEvent } from "@engage-bridge/core";

/** Stands in for your database: replace with an insert (unique on event.id, the same on every retry). */
export const savedEvents: EngageEvent[] = [];

export async function saveEngageEvent(event: EngageEvent): Promise<void> {
  savedEvents.push(event);
}
