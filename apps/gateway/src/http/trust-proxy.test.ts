import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, startTestGateway, TEST_SECRET, tempDir } from "../test-support/harness.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn();
});

async function checkConfig(config: Record<string, unknown>) {
  const dir = tempDir("engage-trust-proxy-");
  cleanups.push(dir.remove);
  const file = join(dir.path, "engage-bridge.json");
  writeFileSync(file, JSON.stringify({ store: `sqlite:${join(dir.path, "gw.db")}`, ...config }));
  return runCli(["check-config", "--config", file]);
}

describe("server.trustProxy", () => {
  it("true together with allowedIps is a config error naming server.trustProxy", async () => {
    const [refused, hops] = await Promise.all([
      checkConfig({
        server: { trustProxy: true },
        sources: {
          engage: { signingSecrets: [TEST_SECRET] },
          partner: { signingSecrets: [TEST_SECRET], allowedIps: ["svix-eu", "203.0.113.0/24"] },
        },
      }),
      // A hop count with allowedIps is the right way, and valid.
      checkConfig({
        server: { trustProxy: 1 },
        sources: { partner: { signingSecrets: [TEST_SECRET], allowedIps: ["svix-eu"] } },
      }),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/server\.trustProxy: .*partner/);
    expect(refused.stderr).not.toMatch(/server\.trustProxy: .*engage/);
    expect(hops.stderr).toBe("");
    expect(hops.code).toBe(0);
  });

  it("true without allowedIps starts, with a warning in the log", async () => {
    const gw = await startTestGateway({ server: { trustProxy: true } });
    cleanups.push(() => gw.stop());
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const warnings = gw.logs
      .map((line) => JSON.parse(line) as { level: number | string; msg?: string })
      .filter(
        (entry) => (entry.level === 40 || entry.level === "warn") && /trustProxy/.test(entry.msg ?? ""),
      );
    expect(warnings).toHaveLength(1);

    const quiet = await startTestGateway({ server: { trustProxy: 1 } });
    cleanups.push(() => quiet.stop());
    expect(quiet.logs.filter((line) => line.includes("trustProxy"))).toEqual([]);
  });
});
