import { signedIn } from "./session.js";

/** Bumped whenever a view is left: answers that arrive for an older view are dropped. */
let generation = 0;
/** What the current view started and must stop when it is left (timers, charts). */
const cleanups = [];

export function onLeave(fn) {
  cleanups.push(fn);
}

/** Stops what the current view started (on a new render, or on signing out). */
export function leaveView() {
  generation++;
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {
      // a chart already gone: the others must stop all the same
    }
  }
}

/**
 * Leaves the current view for a new one; `alive()` says whether the new one is still shown, which
 * every answer awaited must be checked against before it touches the page.
 */
export function enterView() {
  leaveView();
  const current = generation;
  return { alive: () => current === generation && signedIn() };
}
