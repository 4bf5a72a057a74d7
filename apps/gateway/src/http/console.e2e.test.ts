import { existsSync } from "node:fs";
import {
  createTestConnector,
  type FakeTarget,
  type FakeWebhookReceiver,
  sampleEvent,
  startFakeTarget,
  startFakeWebhookReceiver,
} from "@engage-bridge/testkit";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_FLAGS } from "../test-support/chromium.ts";
import { startTestGateway, type TestGateway, tempDir, waitFor } from "../test-support/harness.ts";

/**
 * The operator console at /admin/ in real headless Chromium (the Debian package, driven by
 * playwright-core), against a real gateway with two connectors: the webhook connector forwarding
 * to the testkit's Standard Webhooks receiver (which fails one contact's event with 503 until it
 * "recovers"), and a test connector with its fake target. Sign-in (a wrong token reveals nothing),
 * Find by contact id with the keyboard only, the event's attempts on both connectors with the
 * failed one's error, replay of that delivery, bulk replay with its dry run, the overview's charts;
 * no CSP violation, every input labelled, the token only in memory. Without /usr/bin/chromium the
 * suite is skipped locally and fails in CI (.ci/run installs it).
 */
const hasChromium = existsSync(CHROMIUM);
const inCi = Boolean(process.env.CI);
const MISSING = `${CHROMIUM} is missing: install it with \`apt-get install -y chromium\``;

const TOKEN = "console-e2e-admin-token-0123456789";
const WRONG = "not-the-admin-token-9876543210";
const CONTACT = "contact-e2e-4711";
const OTHER_CONTACT = "contact-e2e-0815";
const THIRD_CONTACT = "contact-e2e-2323";
/** The svix-id the email change is posted with (Find takes it as well as the event id). */
const SVIX_ID = "msg_console_e2e_email_change";

/** expect.poll with room for a busy machine (its default gives up after 1 s). */
const poll = <T>(fn: () => T | Promise<T>, timeout = 10_000) => expect.poll(fn, { timeout, interval: 50 });

/** What the focused element is, read in the page. */
interface Focused {
  id: string;
  tag: string;
  text: string;
  label: string;
}

/**
 * Code run in the page (plain JavaScript: this package's types have no DOM). `focused`: the focused
 * element; `unlabelled`: visible form controls without a label; `lowContrast`: visible text below
 * WCAG AA contrast (4.5:1, 3:1 when large) against its effective background.
 */
const IN_PAGE = {
  focused: `(() => {
    const el = document.activeElement;
    return {
      id: el?.id ?? "",
      tag: el?.tagName.toLowerCase() ?? "",
      text: el?.textContent?.trim() ?? "",
      label: el?.labels?.[0]?.textContent?.trim() ?? el?.getAttribute("aria-label") ?? "",
    };
  })()`,
  unlabelled: `[...document.querySelectorAll("input, select, textarea")]
    .filter((el) => el.offsetParent !== null && el.type !== "hidden")
    .filter((el) => (el.labels?.length ?? 0) === 0 && !el.getAttribute("aria-label"))
    .map((el) => el.outerHTML)`,
  lowContrast: `(() => {
    const rgba = (c) => (c.match(/[\\d.]+/g) ?? []).map(Number);
    const lum = ([r = 0, g = 0, b = 0]) => {
      const f = (v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if ((c[3] ?? 1) > 0.5) return c;
      }
      return [255, 255, 255];
    };
    const bad = [];
    for (const el of document.querySelectorAll("body *")) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || el.offsetParent === null || el.closest(".visually-hidden")) continue;
      const style = getComputedStyle(el);
      const fg = lum(rgba(style.color));
      const bg = lum(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      const size = Number.parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(ratio.toFixed(2) + " " + el.tagName + " " + el.textContent.trim().slice(0, 40));
    }
    return bad;
  })()`,
};

type Consent = { value: boolean; from: string } | { supersededBy: string; reason: string } | null;

/** The consent column's text for a decision, as the console words it. */
function consentText(consent: Consent): string {
  if (!consent) return "—";
  if ("supersededBy" in consent)
    return `skipped: superseded by ${consent.supersededBy}${consent.reason ? ` (${consent.reason})` : ""}`;
  const from = { "engage-api": " from the Engage API", payload: " from the payload" }[consent.from] ?? "";
  return `applied: ${consent.value ? "accepts" : "does not accept"}${from}`;
}

/** The Engage event id of a body (`id ?? eventId`: the samples use either). */
const idOf = (body: string) => {
  const envelope = JSON.parse(body) as { id?: string; eventId?: string };
  return envelope.id ?? envelope.eventId ?? "";
};

if (!hasChromium && !inCi) console.warn(`console e2e tests skipped: ${MISSING}`);
if (!hasChromium && inCi) {
  describe("operator console in Chromium (CI)", () => {
    it("needs Chromium", () => {
      throw new Error(`${MISSING} (.ci/run installs it as root when apt-get is available)`);
    });
  });
}

describe.skipIf(!hasChromium)(
  `operator console in Chromium${hasChromium ? "" : ` (skipped: ${MISSING})`}`,
  () => {
    let receiver: FakeWebhookReceiver;
    let target: FakeTarget;
    let gw: TestGateway;
    let profile: ReturnType<typeof tempDir>;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    /** The contact's email change: its webhook delivery fails twice (dead), then the receiver recovers. */
    const emailChange = sampleEvent("contact.acceptsEmail.changed", {
      contactId: CONTACT,
      payload: { value: false },
    });
    const points = sampleEvent("loyalty.addPoints", { contactId: CONTACT });
    /** Another contact's event, also dead on the webhook: left for bulk replay. */
    const other = sampleEvent("loyalty.addPoints", { contactId: OTHER_CONTACT });
    /** A third contact's two email changes, the newer sent first: the older is skipped on testTarget. */
    const newer = sampleEvent("contact.acceptsEmail.changed", {
      contactId: THIRD_CONTACT,
      payload: { value: true, changedAt: "2026-11-28T10:00:00Z" },
    });
    const older = sampleEvent("contact.acceptsEmail.changed", {
      contactId: THIRD_CONTACT,
      payload: { value: false, changedAt: "2026-11-28T09:00:00Z" },
    });
    const failing = idOf(emailChange);
    const pointsId = idOf(points);
    const otherId = idOf(other);

    /** Console messages and uncaught page errors, as "<type>: <text>". */
    const messages: string[] = [];
    /** Every URL the page requested. */
    const requested: string[] = [];
    /** Every answer of the admin API (not the console's own files): "<status> <path>". */
    const apiAnswers: string[] = [];

    const count = async (connector: string, status: "delivered" | "dead" | "skipped") =>
      (await gw.store.stats()).deliveries[connector]?.[status] ?? 0;

    beforeAll(async () => {
      receiver = await startFakeWebhookReceiver();
      target = await startFakeTarget();
      // maxAttempts 2: two 503s make a delivery dead; after them the receiver answers 204 again.
      receiver.failNext(503, { id: failing, times: 2 });
      receiver.failNext(503, { id: otherId, times: 2 });
      gw = await startTestGateway(
        {
          connectors: {
            webhook: { url: receiver.url, secret: receiver.secret },
            testTarget: { baseUrl: target.url },
          },
          delivery: { maxAttempts: 2 },
          admin: { token: TOKEN },
        },
        { connectors: [createTestConnector("testTarget")] },
      );
      expect((await gw.post(emailChange, { msgId: SVIX_ID })).status).toBe(204);
      for (const body of [points, other, newer]) expect((await gw.post(body)).status).toBe(204);
      await waitFor(async () => (await count("testTarget", "delivered")) === 4, 20_000, "4 on testTarget");
      expect((await gw.post(older)).status).toBe(204);
      await waitFor(
        async () =>
          (await count("webhook", "dead")) === 2 &&
          (await count("webhook", "delivered")) === 3 &&
          (await count("testTarget", "skipped")) === 1,
        20_000,
        "2 dead and 3 delivered webhook deliveries, 1 skipped on testTarget",
      );

      profile = tempDir("engage-gw-chromium-");
      // ignoreDefaultArgs: exactly our flags; Playwright talks to Chromium over the debugging pipe.
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        ignoreDefaultArgs: true,
        args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile.path}`, "--remote-debugging-pipe"],
        timeout: 15_000,
      });
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      context.setDefaultTimeout(10_000);
      // The first navigation of a fresh browser on a busy 2-core machine can take a while.
      context.setDefaultNavigationTimeout(30_000);
      page = await context.newPage();
      page.on("console", (m) => messages.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => messages.push(`pageerror: ${e.message}`));
      page.on("request", (r) => requested.push(r.url()));
      page.on("response", (r) => {
        const path = new URL(r.url()).pathname;
        if (path.startsWith("/admin/") && path !== "/admin/" && !path.startsWith("/admin/assets/"))
          apiAnswers.push(`${r.status()} ${path}`);
      });
    });

    afterAll(async () => {
      await browser?.close();
      await gw?.stop();
      await receiver?.close();
      await target?.close();
      profile?.remove();
    });

    /** One delivery's first attempt as the admin API reports it. */
    async function attemptOf(eventId: string, connector: string) {
      const res = await fetch(`${gw.url}/admin/events/${encodeURIComponent(eventId)}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const detail = (await res.json()) as {
        deliveries: { connector: string; attempts: { consent: Consent }[] }[];
      };
      return detail.deliveries.find((d) => d.connector === connector)?.attempts[0]?.consent ?? null;
    }

    /** Presses Tab until the focused element matches; returns what it found. Fails after `max` presses. */
    async function tabTo(wanted: { text?: string | RegExp; label?: string }, max = 80) {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press("Tab");
        const focused = await page.evaluate<Focused>(IN_PAGE.focused);
        const textOk =
          wanted.text === undefined ||
          (typeof wanted.text === "string" ? focused.text === wanted.text : wanted.text.test(focused.text));
        const labelOk = wanted.label === undefined || focused.label === wanted.label;
        if (textOk && labelOk) return focused;
      }
      throw new Error(`Tab never reached ${JSON.stringify(String(wanted.text ?? wanted.label))}`);
    }
    const focusedText = async () => (await page.evaluate<Focused>(IN_PAGE.focused)).text;
    const heading = () => page.locator("h1:visible").first().textContent();
    /** The rows of a table as trimmed cell texts. */
    const rows = (selector: string) =>
      page
        .locator(`${selector} tbody tr`)
        .evaluateAll((trs) =>
          trs.map((tr) => [...tr.querySelectorAll("th, td")].map((c) => (c.textContent ?? "").trim())),
        ) as Promise<string[][]>;
    const unlabelled = () => page.evaluate<string[]>(IN_PAGE.unlabelled);
    const lowContrast = () => page.evaluate<string[]>(IN_PAGE.lowContrast);

    it("serves the page with its CSP and asks for the token first", async () => {
      const res = await fetch(`${gw.url}/admin/`);
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
      const response = await page.goto(`${gw.url}/admin/`);
      expect(response?.headers()["content-security-policy"]).toBe(res.headers.get("content-security-policy"));
      await page.locator("#sign-in").waitFor({ state: "visible" });
      expect(await page.locator("#nav").isHidden()).toBe(true);
      expect(await page.locator("#view").isHidden()).toBe(true);
      expect(await page.getByLabel("Admin token").getAttribute("type")).toBe("password");
      // The token field has focus; before it, the skip link, which moves focus and not the route.
      await poll(async () => (await page.evaluate<Focused>(IN_PAGE.focused)).id).toBe("token");
      await page.keyboard.press("Shift+Tab");
      await poll(focusedText).toBe("Skip to content");
      await page.keyboard.press("Enter");
      await poll(async () => (await page.evaluate<Focused>(IN_PAGE.focused)).id).toBe("token");
      expect(new URL(page.url()).hash).toBe("");
      expect(await unlabelled()).toEqual([]);
      expect(await lowContrast()).toEqual([]);
      expect(apiAnswers).toEqual([]);
    });

    it("refuses a wrong token: an error, the sign-in form, and no data at all", async () => {
      await page.getByLabel("Admin token").fill(WRONG);
      await page.keyboard.press("Enter");
      await poll(() => page.locator("#sign-in-error").textContent()).toMatch(/refused/);
      expect(await page.locator("#sign-in").isVisible()).toBe(true);
      expect(await page.locator("#nav").isHidden()).toBe(true);
      expect(await page.locator("#view").isHidden()).toBe(true);
      expect(await page.locator("#view").evaluate((v) => v.childElementCount)).toBe(0);
      const text = await page.content();
      for (const secret of [CONTACT, OTHER_CONTACT, failing, pointsId, otherId, "testTarget", "webhook"])
        expect(text).not.toContain(secret);
      expect(apiAnswers.length).toBeGreaterThan(0);
      expect(apiAnswers.filter((a) => !a.startsWith("401 "))).toEqual([]);
      // The field is empty again and focused, ready for the right token.
      expect(await page.getByLabel("Admin token").inputValue()).toBe("");
      expect((await page.evaluate<Focused>(IN_PAGE.focused)).id).toBe("token");
      // The browser itself reports the API's 401 as a failed resource load: expected here, only here.
      const refused = messages.splice(0).filter((m) => m.startsWith("error"));
      for (const m of refused) expect(m).toMatch(/status of 401 \(Unauthorized\)/);
    });

    it("keyboard only: signs in, finds the contact's events by contact id, opens one", async () => {
      await page.keyboard.type(TOKEN);
      await page.keyboard.press("Enter");
      await poll(heading).toBe("Overview");
      await poll(focusedText).toBe("Overview");

      await tabTo({ text: "Find events" });
      await page.keyboard.press("Enter");
      await poll(heading).toBe("Find events");
      await poll(focusedText).toBe("Find events");
      await tabTo({ label: "Contact id" });
      await page.keyboard.type(CONTACT);
      await page.keyboard.press("Enter");
      await poll(() => page.locator("#results-heading").textContent()).toBe("2 events");
      await poll(focusedText).toBe("2 events");
      const found = await rows("#events-table");
      expect(found.map((r) => r[1]).sort()).toEqual([failing, pointsId].sort());
      for (const row of found) expect(row[4]).toBe(CONTACT);
      expect(JSON.stringify(found)).not.toContain(otherId);
      expect(page.url()).toContain(`contact=${CONTACT}`);
      expect(await unlabelled()).toEqual([]);

      await tabTo({ text: failing });
      await page.keyboard.press("Enter");
      await poll(heading).toBe(`Event ${failing}`);
      await poll(focusedText).toBe(`Event ${failing}`);
    });

    it("shows the envelope and both connectors' attempts, the failed ones with their error", async () => {
      const envelope = await page.locator("dl.envelope").textContent();
      expect(envelope).toContain("contact.acceptsEmail.changed");
      expect(envelope).toContain(CONTACT);
      expect(envelope).toMatch(/Trace id/);

      const webhook = page.locator('section.delivery[data-connector="webhook"]');
      const testTarget = page.locator('section.delivery[data-connector="testTarget"]');
      expect(await webhook.locator("h3 .badge").textContent()).toBe("dead");
      expect(await testTarget.locator("h3 .badge").textContent()).toBe("delivered");

      // #, Started, Duration, Outcome, Target HTTP status, Error, Consent, Next attempt
      const failed = await rows('section.delivery[data-connector="webhook"] table');
      expect(failed.map((r) => r[0])).toEqual(["1", "2"]);
      expect(failed[0]?.[3]).toBe("retry");
      // The last try: a retry that ran out of attempts (or dead, as a connector may say).
      expect(failed[1]?.[3]).toMatch(/^(retry|dead)$/);
      for (const row of failed) {
        expect(row[1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        expect(row[2]).toMatch(/^\d+ ms$|^[\d.]+ s$/);
        expect(row[4]).toBe("503");
        expect(row[5]).toMatch(/503/);
      }
      // The first attempt's next attempt is the second attempt's start; after the second, none.
      expect(failed[0]?.[7]).toBe(failed[1]?.[1]);
      expect(failed[1]?.[7]).toMatch(/^(gave up|—)$/);
      expect(await webhook.locator(".last-error").textContent()).toMatch(/503/);

      const fine = await rows('section.delivery[data-connector="testTarget"] table');
      expect(fine).toHaveLength(1);
      expect(fine[0]?.[3]).toBe("delivered");
      expect(fine[0]?.[5]).toBe("");
      // A convergent target: the consent decision as the API reports it (no Engage API here: the payload's).
      expect(fine[0]?.[6]).toBe(consentText(await attemptOf(failing, "testTarget")));

      // The payload only on demand.
      expect(await page.locator("#payload").isHidden()).toBe(true);
      const show = page.getByRole("button", { name: "Show payload" });
      await show.focus();
      await page.keyboard.press("Enter");
      await page.locator("#payload pre").waitFor();
      expect(await page.locator("#payload pre").textContent()).toContain(CONTACT);
      await page.keyboard.press("Enter");
      await poll(() => page.locator("#payload").isHidden()).toBe(true);
      expect(await lowContrast()).toEqual([]);
    });

    it("an older consent change skipped on testTarget names the event that superseded it", async () => {
      // A same-document navigation (only the fragment changes): the token stays in memory.
      await page.goto(`${gw.url}/admin/#/events/${encodeURIComponent(idOf(older))}`);
      await poll(heading).toBe(`Event ${idOf(older)}`);
      const testTarget = page.locator('section.delivery[data-connector="testTarget"]');
      expect(await testTarget.locator("h3 .badge").textContent()).toBe("skipped");
      const [attempt] = await rows('section.delivery[data-connector="testTarget"] table');
      expect(attempt?.[3]).toBe("skipped");
      expect(attempt?.[6]).toMatch(new RegExp(`^skipped: superseded by ${idOf(newer)}`));
      expect(attempt?.[6]).toBe(consentText(await attemptOf(idOf(older), "testTarget")));
      // The webhook forwarder is not convergent: it sent both.
      expect(await page.locator('section.delivery[data-connector="webhook"] h3 .badge').textContent()).toBe(
        "delivered",
      );
      // The superseding event is one link away, and back.
      await testTarget.getByRole("link", { name: idOf(newer) }).click();
      await poll(heading).toBe(`Event ${idOf(newer)}`);
      await page.goBack();
      await poll(heading).toBe(`Event ${idOf(older)}`);
      await page.goBack();
      await poll(heading).toBe(`Event ${failing}`);
    });

    it("replays the failed delivery after the receiver recovers, and shows it delivered", async () => {
      // The receiver's two 503s for this event are spent: it accepts the next attempt.
      await page.getByRole("button", { name: "Show payload" }).focus();
      await tabTo({ text: "Replay to webhook" });
      await page.keyboard.press("Enter");
      await poll(() => page.locator("p.notice").textContent()).toBe("Re-queued the delivery to webhook.");
      gw.engine?.wake(["webhook"]);
      const webhook = page.locator('section.delivery[data-connector="webhook"]');
      // The page follows a pending delivery by itself until it is finished.
      await poll(() => webhook.locator("h3 .badge").textContent(), 15_000).toBe("delivered");
      const attempts = await rows('section.delivery[data-connector="webhook"] table');
      expect(attempts.map((r) => r[3])).toEqual([
        "retry",
        expect.stringMatching(/^(retry|dead)$/),
        "delivered",
      ]);
      expect(attempts[2]?.[5]).toBe("");
      expect(attempts[1]?.[7]).toMatch(/^(gave up; replayed later|—)$/);
      expect(receiver.accepted().map((r) => r.id)).toContain(failing);
      expect(await count("webhook", "dead")).toBe(1);
    });

    it("bulk replay: counts with a dry run first, changes nothing until confirmed, then re-queues", async () => {
      await page.getByRole("link", { name: "Bulk replay" }).click();
      await poll(heading).toBe("Bulk replay");
      expect(await unlabelled()).toEqual([]);

      // Nothing dead on testTarget: the dry run says so and offers no replay.
      await page.getByLabel("Connector").selectOption("testTarget");
      await page.getByLabel("Delivery status").selectOption("dead");
      await page.getByRole("button", { name: "Count matching deliveries" }).click();
      await poll(() => page.locator("#dry-run-result").textContent()).toMatch(/^Dry run: 0 deliveries/);
      expect(await page.getByRole("button", { name: /^Replay \d/ }).count()).toBe(0);

      await page.getByLabel("Connector").selectOption("webhook");
      // Changing the selection drops the old count.
      expect(await page.locator("#dry-run-result").count()).toBe(0);
      await page.getByRole("button", { name: "Count matching deliveries" }).click();
      await poll(() => page.locator("#dry-run-result").textContent()).toMatch(
        /^Dry run: 1 delivery would be re-queued/,
      );
      expect(await count("webhook", "dead")).toBe(1);
      const replayed = apiAnswers.length;

      await page.getByRole("button", { name: "Replay 1 delivery" }).click();
      await poll(() => page.locator("#replay-result").textContent()).toBe("Re-queued 1 delivery.");
      expect(apiAnswers.slice(replayed)).toEqual(["200 /admin/replay"]);
      gw.engine?.wake(["webhook"]);
      await waitFor(
        async () => (await count("webhook", "delivered")) === 5,
        15_000,
        "the bulk-replayed delivery",
      );
      expect(receiver.accepted().map((r) => r.id)).toContain(otherId);
    });

    it("the overview charts events and outcomes per connector, with health and queue", async () => {
      await page.getByRole("link", { name: "Overview" }).click();
      await poll(heading).toBe("Overview");
      // One events chart and one per connector, drawn by uPlot.
      await poll(() => page.locator(".chart canvas").count()).toBe(3);
      const charts = await page
        .locator(".chart")
        .evaluateAll((els) => els.map((e) => e.getAttribute("aria-label")));
      expect(charts[0]).toMatch(/^5 events in the last hour/);
      const [forTarget, forWebhook] = charts.slice(1).sort();
      expect(forTarget).toMatch(/^testTarget: 4 delivered, 1 skipped, 0 retried, 0 dead in the last hour\.$/);
      // Four failed tries: retries, the last of each run possibly counted as dead.
      const [, retried, dead] =
        /^webhook: 5 delivered, 0 skipped, (\d) retried, (\d) dead/.exec(forWebhook ?? "") ?? [];
      expect(Number(retried) + Number(dead)).toBe(4);
      const health = await rows("section table.data");
      expect(health.map((r) => [r[0], r[1]])).toEqual([
        ["testTarget", "healthy"],
        ["webhook", "healthy"],
      ]);
      expect(await page.locator(".card").first().textContent()).toMatch(/^Queue depth0deliveries/);
      expect(await unlabelled()).toEqual([]);
      expect(await lowContrast()).toEqual([]);

      await page.getByLabel("Window").selectOption("day");
      await poll(() => page.url()).toMatch(/#\/overview\?window=day$/);
      await poll(() => page.locator(".chart").first().getAttribute("aria-label")).toMatch(/last day/);
    });

    it("Find: pages with a cursor, and filters by id, svix-id, type, status, connector and time", async () => {
      // Newest first, two a page (the address may ask for a page size).
      await page.goto(`${gw.url}/admin/#/events?limit=2`);
      await poll(() => page.locator("#results-heading").textContent()).toBe("2 events on this page");
      const ids = async () => (await rows("#events-table")).map((r) => r[1]);
      /** Clicks a pager button; resolves when the next page is drawn (focus moves to its heading). */
      const turn = async (name: string) => {
        await page.getByRole("button", { name }).click();
        await poll(async () => (await page.evaluate<Focused>(IN_PAGE.focused)).id).toBe("results-heading");
        return ids();
      };
      const pages = [await ids()];
      pages.push(await turn("Older events"));
      pages.push(await turn("Older events"));
      expect(await page.locator("#results-heading").textContent()).toBe("1 event on this page");
      expect(await page.getByRole("button", { name: "Older events" }).count()).toBe(0);
      expect(pages.flat()).toEqual([idOf(older), idOf(newer), otherId, pointsId, failing]);
      expect(await turn("Newer events")).toEqual(pages[1]);
      expect(await turn("Newer events")).toEqual(pages[0]);
      expect(await page.getByRole("button", { name: "Newer events" }).count()).toBe(0);

      const search = async (fill: () => Promise<unknown>) => {
        await page.goto(`${gw.url}/admin/#/events`);
        // The form of this render (focus moves to the heading once it is drawn), not the last one's.
        await poll(focusedText).toBe("Find events");
        await fill();
        await page.getByRole("button", { name: "Search" }).click();
        await poll(async () => (await page.evaluate<Focused>(IN_PAGE.focused)).id).toBe("results-heading");
        return (await page.locator("#events-table").count()) === 0 ? [] : ids();
      };
      expect(await search(() => page.getByLabel("Event id or svix-id").fill(SVIX_ID))).toEqual([failing]);
      expect(await search(() => page.getByLabel("Event id or svix-id").fill(pointsId))).toEqual([pointsId]);
      expect(await search(() => page.getByLabel("Event type").selectOption("loyalty.addPoints"))).toEqual([
        otherId,
        pointsId,
      ]);
      expect(
        await search(async () => {
          await page.getByLabel("Connector").selectOption("testTarget");
          await page.getByLabel("Delivery status").selectOption("skipped");
        }),
      ).toEqual([idOf(older)]);
      expect(await search(() => page.getByLabel("Event status").selectOption("ignored"))).toEqual([]);
      expect(await page.locator("#results-heading").textContent()).toBe("No events match");
      expect(await search(() => page.getByLabel("Source").fill("engage"))).toHaveLength(5);
      expect(await search(() => page.getByLabel("Received from").fill("2099-01-01T00:00"))).toEqual([]);
      expect(page.url()).toMatch(/since=2099-01-01T/);
      expect(await search(() => page.getByLabel("Received before").fill("2099-01-01T00:00"))).toHaveLength(5);
      expect(await unlabelled()).toEqual([]);
    });

    it("a #token= link signs in once and leaves the token nowhere but in memory", async () => {
      const second = await context.newPage();
      const seen: string[] = [];
      second.on("console", (m) => messages.push(`${m.type()}: ${m.text()}`));
      second.on("request", (r) => seen.push(r.url()));
      await second.goto(`${gw.url}/admin/#token=${encodeURIComponent(TOKEN)}`);
      await poll(() => second.locator("h1:visible").first().textContent()).toBe("Overview");
      expect(new URL(second.url()).hash).toBe("#/overview");
      // A reload forgets it: the token lived in the page's memory only.
      await second.reload();
      await second.locator("#sign-in").waitFor({ state: "visible" });
      expect(await second.locator("#view").isHidden()).toBe(true);
      for (const url of seen) expect(url).not.toContain(TOKEN);
      await second.close();
    });

    it("logged no CSP violation nor error, and kept the token out of URLs, storage and cookies", async () => {
      expect(messages.filter((m) => /Content Security Policy|Refused to/i.test(m))).toEqual([]);
      expect(messages.filter((m) => m.startsWith("error") || m.startsWith("pageerror"))).toEqual([]);
      expect(requested.length).toBeGreaterThan(0);
      for (const url of requested) {
        expect(url).not.toContain(TOKEN);
        expect(url).not.toContain(WRONG);
      }
      const storage = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
      expect(storage).toBe("{}");
      expect(await context.cookies()).toEqual([]);
    });
  },
);
