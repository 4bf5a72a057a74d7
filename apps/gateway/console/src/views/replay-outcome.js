import { api, Unauthorized } from "../api.js";
import { fill, h } from "../dom.js";
import { plural } from "../format.js";
import { errorBox } from "../notices.js";
import { query } from "../query.js";

/** Counts the deliveries `selection` matches (a dry run) and offers to replay exactly those. */
export async function countToReplay(outcome, selection, ctx) {
  fill(outcome, h("p", { class: "muted", text: "Counting…" }));
  try {
    const r = await api("replay", { method: "POST", body: { ...selection, dryRun: true } });
    if (!ctx.alive()) return;
    const n = r.matches ?? 0;
    const count = h("p", {
      id: "dry-run-result",
      tabindex: "-1",
      class: "count",
      text: `Dry run: ${plural(n, "delivery", "deliveries")} would be re-queued (${describe(selection)}).`,
    });
    fill(outcome, count, n > 0 ? replayButton(outcome, selection, n, ctx) : null);
    count.focus();
  } catch (error) {
    if (error instanceof Unauthorized || !ctx.alive()) return;
    fill(outcome, errorBox(error.message));
  }
}

function replayButton(outcome, selection, n, ctx) {
  return h("button", {
    type: "button",
    class: "danger",
    text: `Replay ${plural(n, "delivery", "deliveries")}`,
    onclick: async (click) => {
      click.currentTarget.disabled = true;
      try {
        const done = await api("replay", { method: "POST", body: selection });
        if (!ctx.alive()) return;
        const result = h("p", {
          id: "replay-result",
          tabindex: "-1",
          class: "notice",
          text: `Re-queued ${plural(done.requeued ?? 0, "delivery", "deliveries")}.`,
        });
        fill(
          outcome,
          result,
          h(
            "p",
            {},
            h("a", {
              href: `#/events${query({ connector: selection.connector, since: selection.since, until: selection.until })}`,
              text: "Find these events",
            }),
          ),
        );
        result.focus();
      } catch (error) {
        if (error instanceof Unauthorized || !ctx.alive()) return;
        fill(outcome, errorBox(`Replay failed: ${error.message}`));
      }
    },
  });
}

function describe(b) {
  return `${b.status} deliveries${b.connector ? ` to ${b.connector}` : ""}${b.since ? " received from the chosen time" : ""}${
    b.until ? `${b.since ? " and" : ""} received before the chosen end` : ""
  }`;
}
