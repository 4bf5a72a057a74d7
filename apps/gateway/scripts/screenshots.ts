/**
 * Screenshots of the operator console for the README: docs/images/console-overview.png and
 * docs/images/console-event.png, 1280×800, in headless Chromium (/usr/bin/chromium).
 *
 *   node apps/gateway/scripts/screenshots.ts [--minutes N]
 *
 * It builds the console, starts a gateway like sandbox mode (temporary SQLite store, the built-in
 * connectors pointed at their fakes, a fake Engage API that knows the sample contact), and sends
 * signed sample events through its webhook endpoint: a few waves over N minutes (default 0: all at
 * once; more minutes draw a trend), including one email change whose webhook forward fails twice
 * with 503 before it is delivered, and one loyalty event the receiver refuses for good (dead).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  SAMPLE_CONTACT_ID,
  type SandboxTarget,
  sampleEvent,
  startFakeWebhookReceiver,
} from "@engage-bridge/testkit";
import { chromium } from "playwright-core";
import { builtinSandboxes } from "../src/connectors/builtin.ts";
import { SANDBOX_EMAIL, startSandboxEngageApi } from "../src/sandbox.ts";
import { CHROMIUM, CHROMIUM_FLAGS } from "../src/test-support/chromium.ts";
import {
  GATEWAY_DIR,
  sandboxLikeSources,
  startTestGateway,
  tempDir,
  waitFor,
} from "../src/test-support/harness.ts";
import { buildConsole } from "./build-console.ts";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "0" } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes < 0) throw new Error("--minutes takes a number ≥ 0");

const IMAGES = join(GATEWAY_DIR, "..", "..", "docs", "images");
const TOKEN = "screenshot-admin-token-0123456789";
const say = (line: string) => process.stdout.write(`screenshots: ${line}\n`);
const idOf = (body: string) => {
  const envelope = JSON.parse(body) as { id?: string; eventId?: string };
  return envelope.id ?? envelope.eventId ?? "";
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await buildConsole();
mkdirSync(IMAGES, { recursive: true });

// Sandbox mode's setup, with the webhook connector's receiver under our control (faults).
const engage = await startSandboxEngageApi();
const receiver = await startFakeWebhookReceiver();
const targets: [string, SandboxTarget][] = [];
for (const { connector, sandbox } of await builtinSandboxes()) {
  if (connector.name === "webhook") continue;
  targets.push([connector.name, await sandbox({ contact: { id: SAMPLE_CONTACT_ID, email: SANDBOX_EMAIL } })]);
}
const gw = await startTestGateway({
  sources: sandboxLikeSources(engage),
  connectors: {
    ...Object.fromEntries(targets.map(([name, t]) => [name, t.config])),
    webhook: { url: receiver.url, secret: receiver.secret },
  },
  // Retries a second apart, as a target that is briefly down would see them.
  delivery: { retryBaseSeconds: 1, retryMaxSeconds: 2 },
  admin: { token: TOKEN },
});
const profile = tempDir("engage-gw-screenshots-");

try {
  const loyalty = ["loyalty.addPoints", "point.balance.updated", "reward.voucher.created"];
  const contact = (n: number) => `${(4711 + n * 37) % 10_000}-${["ab", "cd", "ef", "gh"][n % 4]}-screenshot`;
  let sent = 0;
  const send = async (body: string) => {
    const res = await gw.post(body);
    if (res.status !== 204) throw new Error(`the gateway answered ${res.status}`);
    sent += 1;
  };
  // Waves: a loyalty event per contact, now and then the sample contact's preference changes.
  const waves = Math.max(1, Math.round(minutes * 2));
  for (let wave = 0; wave < waves; wave++) {
    const size = 2 + ((wave * 7) % 5);
    for (let i = 0; i < size; i++) {
      const type = loyalty[(wave + i) % loyalty.length] as string;
      await send(sampleEvent(type, { contactId: contact(wave * 5 + i) }));
    }
    if (wave % 3 === 0) await send(sampleEvent("contact.acceptsSms.changed"));
    if (wave < waves - 1) await sleep(30_000);
  }
  // The event shown in detail: the sample contact unsubscribes; the webhook receiver is down twice.
  const unsubscribe = sampleEvent("contact.acceptsEmail.changed", { payload: { value: false } });
  receiver.failNext(503, { id: idOf(unsubscribe), times: 2 });
  await send(unsubscribe);
  // A loyalty event the receiver refuses for good: a dead delivery on the overview.
  const refused = sampleEvent("loyalty.addPoints", { contactId: contact(999) });
  receiver.failNext(422, { id: idOf(refused), body: { error: "unknown store" } });
  await send(refused);

  await waitFor(
    async () => {
      const stats = await gw.store.stats();
      return stats.queueDepth === 0 && (stats.deliveries.webhook?.dead ?? 0) === 1;
    },
    60_000,
    "every delivery finished",
  );
  say(`${sent} events sent and delivered`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    ignoreDefaultArgs: true,
    args: [
      ...CHROMIUM_FLAGS,
      "--hide-scrollbars",
      `--user-data-dir=${profile.path}`,
      "--remote-debugging-pipe",
    ],
    timeout: 15_000,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    await page.goto(`${gw.url}/admin/#token=${encodeURIComponent(TOKEN)}`);
    await page.locator(".chart canvas").first().waitFor();
    await page.locator(`.chart-grid .chart canvas`).nth(targets.length).waitFor();
    // No focus ring and no hover from the scripted sign-in in the picture.
    await page.evaluate("document.activeElement?.blur()");
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(IMAGES, "console-overview.png"), fullPage: true });
    say("docs/images/console-overview.png");

    // Only the fragment changes: the page stays signed in.
    await page.goto(`${gw.url}/admin/#/events/${encodeURIComponent(idOf(unsubscribe))}`);
    await page.locator('section.delivery[data-connector="webhook"] tbody tr').nth(2).waitFor();
    await page.evaluate("document.activeElement?.blur()");
    await page.screenshot({ path: join(IMAGES, "console-event.png"), fullPage: true });
    say("docs/images/console-event.png");
  } finally {
    await browser.close();
  }
} finally {
  await gw.stop();
  await Promise.all([engage.close(), receiver.close(), ...targets.map(([, t]) => t.close())]);
  profile.remove();
}
