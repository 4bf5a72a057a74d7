import { loadSamples, SAMPLE_CONTACT_ID } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { SANDBOX_EMAIL, startSandboxEngageApi } from "../sandbox.ts";
import { sandboxLikeSources, startTestGateway, waitFor } from "../test-support/harness.ts";
import { BUILTIN_CONNECTORS, builtinSandboxes } from "./builtin.ts";

/**
 * Every registered connector package, whatever it is, through a real gateway: the samples it
 * handles, signed, to the fake its `./testing` entry starts, with the sandbox's fake Engage API.
 * It loops over the registry, so a connector added with `pnpm gen:connector` is covered here
 * without a line of this file changing. What each connector does with its target is in its own
 * package's tests (and its `*.e2e.test.ts` beside this file, for the ones that have them).
 */

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const samples = loadSamples();
const sandboxes = await builtinSandboxes();
const terminal = new Set(["delivered", "skipped", "dead"]);

describe("every built-in connector through the gateway", () => {
  it("is registered once, under the name its package gives it", () => {
    const names = BUILTIN_CONNECTORS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(sandboxes.map((s) => s.connector.name)).toEqual(names);
  });

  for (const { connector, sandbox } of sandboxes) {
    const handled = samples.filter((s) => (connector.handles as readonly string[]).includes(s.eventType));

    it(`${connector.name}: each sample it handles ends delivered or skipped at its fake, none dead`, async () => {
      expect(handled.length, `${connector.name} handles none of the sample event types`).toBeGreaterThan(0);
      const engage = await startSandboxEngageApi();
      cleanups.push(() => engage.close());
      const target = await sandbox({ contact: { id: SAMPLE_CONTACT_ID, email: SANDBOX_EMAIL } });
      cleanups.push(() => target.close());
      const before = JSON.stringify(target.state());
      const gw = await startTestGateway({
        sources: sandboxLikeSources(engage),
        connectors: { [connector.name]: target.config },
      });
      cleanups.push(() => gw.stop());

      for (const sample of samples) expect((await gw.post(sample.body)).status).toBe(204);
      const deliveries = await waitFor(async () => {
        const rows = await gw.store.listDeliveries({ connector: connector.name, limit: 0 });
        return rows.length === handled.length && rows.every((d) => terminal.has(d.status)) ? rows : undefined;
      }, 20_000);
      expect(deliveries.filter((d) => d.status === "dead")).toEqual([]);
      expect(deliveries.some((d) => d.status === "delivered")).toBe(true);
      // What it delivered reached the fake.
      expect(JSON.stringify(target.state())).not.toBe(before);
    });
  }
});
