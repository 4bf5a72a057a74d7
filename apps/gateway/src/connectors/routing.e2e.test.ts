import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  FAKE_HUBSPOT_SUBSCRIPTION_ID,
  type FakeGoogle,
  type FakeHubSpot,
  sampleEvent,
  startFakeEngageApi,
  startFakeGoogle,
  startFakeHubSpot,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, startTestGateway, TEST_SECRET, type TestGateway, waitFor } from "../test-support/harness.ts";

/**
 * Routing end to end: several instances of one connector type, each with its own target and
 * `filter`, behind one gateway.
 */

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
const later = <T extends { close(): Promise<unknown> } | { stop(): Promise<unknown> }>(thing: T): T => {
  cleanups.push(() => ("close" in thing ? thing.close() : thing.stop()));
  return thing;
};

const delivered = async (gw: TestGateway, instance: string) =>
  (await gw.store.stats()).deliveries[instance]?.delivered ?? 0;

async function postAll(gw: TestGateway, bodies: readonly string[]): Promise<void> {
  const answers = await Promise.all(bodies.map((b) => gw.post(b)));
  expect(answers.map((a) => a.status)).toEqual(bodies.map(() => 204));
}

const idOf = (body: string) => (JSON.parse(body) as { id: string }).id;
const loyalty = (tenant: string) => sampleEvent("loyalty.addPoints", { tenant, payload: { amount: 1 } });

describe("connector instances and filters", () => {
  it("sends each tenant's events to its own sheet, exactly once, and another tenant's to neither", async () => {
    const google: FakeGoogle = later(await startFakeGoogle());
    const brandA = google.connectorConfig({ spreadsheetId: "1BrandASheet", sheetName: "Loyalty" });
    const brandB = google.connectorConfig({ spreadsheetId: "1BrandBSheet", sheetName: "Loyalty" });
    const gw = later(
      await startTestGateway({
        connectors: {
          sheetsBrandA: { type: "googleSheets", filter: { tenants: ["brand-a"] }, ...brandA },
          sheetsBrandB: { type: "googleSheets", filter: { tenants: ["brand-b"] }, ...brandB },
        },
      }),
    );
    const a = Array.from({ length: 6 }, () => loyalty("brand-a"));
    const b = Array.from({ length: 4 }, () => loyalty("brand-b"));
    const c = Array.from({ length: 3 }, () => loyalty("brand-c"));
    await postAll(gw, [...a, ...b, ...c]);
    await waitFor(
      async () => (await delivered(gw, "sheetsBrandA")) === 6 && (await delivered(gw, "sheetsBrandB")) === 4,
    );

    const idsIn = (spreadsheetId: string) =>
      google
        .rows(spreadsheetId, "Loyalty")
        .slice(1)
        .map((row) => String(row[2]));
    expect(idsIn("1BrandASheet").sort()).toEqual(a.map(idOf).sort());
    expect(idsIn("1BrandBSheet").sort()).toEqual(b.map(idOf).sort());
    // brand-c's events are stored, with no delivery row for either instance (not even skipped).
    const deliveries = await gw.store.listDeliveries({ limit: 0 });
    expect(deliveries).toHaveLength(10);
    for (const id of c.map(idOf))
      expect(await gw.store.listDeliveries({ eventId: id, limit: 0 })).toEqual([]);
    expect((await gw.store.listEvents({ limit: 0 })).filter((e) => e.status === "accepted")).toHaveLength(13);
  });

  it("paces and fails two HubSpot instances independently; CLI and metrics tell them apart", async () => {
    const engage = later(await startFakeEngageApi({ apiKey: "engage-key" }));
    const contacts = Array.from({ length: 8 }, (_, i) => `contact-${i}`);
    for (const id of contacts) engage.setContact(id, { email: `${id}@example.com`, acceptsEmail: false });
    const portalA: FakeHubSpot = later(await startFakeHubSpot());
    const portalB: FakeHubSpot = later(await startFakeHubSpot());
    const block = (portal: FakeHubSpot) => ({
      type: "hubspot",
      accessToken: portal.accessToken,
      baseUrl: portal.url,
      subscriptionId: Number(FAKE_HUBSPOT_SUBSCRIPTION_ID),
    });
    const gw = later(
      await startTestGateway({
        sources: {
          engage: { signingSecrets: [TEST_SECRET], engageApi: { baseUrl: engage.url, apiKey: "engage-key" } },
        },
        connectors: { hubspotA: block(portalA), hubspotB: block(portalB) },
        delivery: { attemptTimeoutSeconds: 1, maxAttempts: 100 },
      }),
    );
    // Portal A goes down (it accepts connections and never answers) for longer than the test runs.
    portalA.latencyMs = 300_000;
    await postAll(
      gw,
      contacts.map((contactId) =>
        sampleEvent("contact.acceptsEmail.changed", { contactId, payload: { value: false } }),
      ),
    );
    await waitFor(
      async () => (await delivered(gw, "hubspotB")) === contacts.length,
      20_000,
      "portal B's writes",
    );
    for (const id of contacts) expect(portalB.status(`${id}@example.com`)?.statusState).toBe("UNSUBSCRIBED");
    expect(await delivered(gw, "hubspotA")).toBe(0);

    const configFile = join(gw.dir, "cli.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        store: `sqlite:${join(gw.dir, "test.db")}`,
        sources: { engage: { signingSecrets: [TEST_SECRET] } },
      }),
    );
    const list = async (instance: string) => {
      const result = await runCli([
        "deliveries",
        "--connector",
        instance,
        "--json",
        "--limit",
        "0",
        "--config",
        configFile,
      ]);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { connector: string; status: string }[];
    };
    const ofB = await list("hubspotB");
    expect(ofB).toHaveLength(contacts.length);
    expect(ofB.every((d) => d.connector === "hubspotB" && d.status === "delivered")).toBe(true);
    const ofA = await list("hubspotA");
    expect(ofA).toHaveLength(contacts.length);
    expect(ofA.every((d) => d.connector === "hubspotA" && d.status !== "delivered")).toBe(true);

    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(
        `^engage_bridge_delivery_outcomes_total\\{connector="hubspotB",status="delivered"\\} ${contacts.length}$`,
        "m",
      ),
    );
    expect(metrics).not.toMatch(/connector="hubspotA",status="delivered"/);
    expect(metrics).toMatch(/^engage_bridge_connector_queue_depth\{connector="hubspotA"\} 8$/m);
    portalA.latencyMs = 0;
  }, 40_000);
});
