import { existsSync } from "node:fs";
import { createTestConnector, type FakeTarget, sampleEvent, startFakeTarget } from "@engage-bridge/testkit";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway, tempDir, waitFor } from "../test-support/harness.ts";

/**
 * The dashboard at /admin/ in real headless Chromium (the Debian package, driven by playwright-core):
 * token prompt, wrong token, stats and dead deliveries, replay. Without /usr/bin/chromium the suite
 * is skipped locally and fails in CI (.ci/run installs it).
 */
const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const inCi = Boolean(process.env.CI);
const MISSING = `${CHROMIUM} is missing: install it with \`apt-get install -y chromium\``;

const TOKEN = "dashboard-e2e-admin-token-0123456789";
const WRONG = "not-the-admin-token-9876543210";
const STORAGE_KEY = "engage-bridge-admin";

/** The flags that work here (see the environment reference); no other browser defaults. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

if (!hasChromium && !inCi) console.warn(`dashboard e2e tests skipped: ${MISSING}`);
if (!hasChromium && inCi) {
  describe("dashboard in Chromium (CI)", () => {
    it("needs Chromium", () => {
      throw new Error(`${MISSING} (.ci/run installs it as root when apt-get is available)`);
    });
  });
}

describe.skipIf(!hasChromium)(`dashboard in Chromium${hasChromium ? "" : ` (skipped: ${MISSING})`}`, () => {
  let target: FakeTarget;
  let gw: TestGateway;
  let profile: ReturnType<typeof tempDir>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let eventId: string;
  /** Console errors and uncaught page errors, as "<type>: <text>". */
  const errors: string[] = [];
  /** Every URL the page requested. */
  const requested: string[] = [];

  beforeAll(async () => {
    target = await startFakeTarget();
    target.failAlways({ status: 500 });
    gw = await startTestGateway(
      {
        connectors: { testTarget: { baseUrl: target.url } },
        delivery: { maxAttempts: 1 },
        admin: { token: TOKEN },
      },
      { connectors: [createTestConnector("testTarget")] },
    );
    const body = sampleEvent("loyalty.addPoints");
    eventId = (JSON.parse(body) as { id: string }).id;
    expect((await gw.post(body)).status).toBeLessThan(300);
    await waitFor(
      async () => (await gw.store.stats()).deliveries.testTarget?.dead === 1,
      10_000,
      "a dead delivery",
    );

    profile = tempDir("engage-gw-chromium-");
    // ignoreDefaultArgs: exactly our flags; Playwright talks to Chromium over the debugging pipe.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      ignoreDefaultArgs: true,
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile.path}`, "--remote-debugging-pipe"],
      timeout: 15_000,
    });
    context = await browser.newContext();
    context.setDefaultTimeout(5_000);
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("request", (r) => requested.push(r.url()));
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await target?.close();
    profile?.remove();
  });

  /** The text of every cell of a table, row by row (header row included). */
  const cells = async (table: string) => {
    const rows = page.locator(`#${table} tr`);
    const out: string[][] = [];
    for (let i = 0, n = await rows.count(); i < n; i++)
      out.push((await rows.nth(i).locator("th, td").allTextContents()).map((t) => t.trim()));
    return out;
  };
  /** The connectors table as {header: cell} for the testTarget row. */
  const connectorRow = async () => {
    const [head, ...rows] = await cells("connectors");
    const row = rows.find((r) => r[0] === "testTarget");
    return head && row ? Object.fromEntries(head.map((h, i) => [h, row[i]])) : undefined;
  };
  const storage = () =>
    page.evaluate(
      (key) => ({
        local: JSON.stringify({ ...localStorage }),
        session: JSON.stringify({ ...sessionStorage }),
        token: sessionStorage.getItem(key),
      }),
      STORAGE_KEY,
    );

  it("asks for the admin token first", async () => {
    await page.goto(`${gw.url}/admin/`);
    await page.locator("#login").waitFor({ state: "visible" });
    expect(await page.locator("#main").isHidden()).toBe(true);
    expect(await page.getByLabel("Admin token").getAttribute("type")).toBe("password");
  });

  it("refuses a wrong token: shows an error and asks again", async () => {
    await page.getByLabel("Admin token").fill(WRONG);
    await page.getByRole("button", { name: "Open" }).click();
    await expect
      .poll(async () => ({
        error: await page.locator("#error").textContent(),
        login: await page.locator("#login").isVisible(),
        main: await page.locator("#main").isVisible(),
      }))
      .toEqual({ error: "token refused", login: true, main: false });
    expect((await storage()).token).toBeNull();
    expect(await cells("connectors")).toEqual([]);
    // The browser itself reports the API's 401 as a failed resource load: expected here, only here.
    const refused = errors.splice(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) expect(e).toMatch(/status of 401 \(Unauthorized\)/);
  });

  it("with the right token shows the connector with 1 dead and the dead delivery", async () => {
    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByRole("button", { name: "Open" }).click();
    await page.locator("#main").waitFor({ state: "visible" });
    await expect.poll(connectorRow).toMatchObject({ connector: "testTarget", delivered: "0", dead: "1" });
    await expect
      .poll(() => cells("dead"))
      .toEqual([
        ["updated", "event", "connector", "attempts", "last error", ""],
        [expect.any(String), eventId, "testTarget", "1", expect.any(String), "Replay"],
      ]);
    expect(await page.locator("#login").isHidden()).toBe(true);
    expect(await page.locator("#error").textContent()).toBe("");
    expect(await page.locator("#events").textContent()).toContain(eventId);
  });

  it("replays the dead delivery, which is then delivered", async () => {
    target.failAlways(undefined);
    await page.locator("#dead tr", { hasText: eventId }).getByRole("button", { name: "Replay" }).click();
    await page.getByText("1 re-queued").waitFor();
    gw.engine?.wake(["testTarget"]);
    await waitFor(
      async () => (await gw.store.stats()).deliveries.testTarget?.delivered === 1,
      10_000,
      "the replayed delivery",
    );
    expect(target.state.get(`event:${eventId}`)).toBe("loyalty.addPoints");

    // Instead of waiting up to 5 s for the page's own refresh: reload (the token stays in this tab).
    await page.reload();
    await expect.poll(connectorRow).toMatchObject({ delivered: "1", dead: "0" });
    await expect.poll(() => cells("dead")).toHaveLength(1); // the header row only
    expect(await page.locator("#login").isHidden()).toBe(true);
  });

  it("logs no errors and keeps the token only in this tab's sessionStorage", async () => {
    expect(errors).toEqual([]);
    expect(page.url()).toBe(`${gw.url}/admin/`);
    expect(requested.length).toBeGreaterThan(0);
    for (const url of requested) {
      expect(url).not.toContain(TOKEN);
      expect(url).not.toContain(WRONG);
    }
    const { local, session, token } = await storage();
    expect(token).toBe(TOKEN);
    expect(session).not.toContain(WRONG);
    expect(local).not.toContain(TOKEN);
    expect(local).not.toContain(WRONG);
    for (const cookie of await context.cookies()) expect(cookie.value).not.toContain(TOKEN);
  });
});
