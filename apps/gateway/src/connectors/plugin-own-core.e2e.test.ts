import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, realpathSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { sampleEvent } from "@engage-bridge/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnyConnector } from "../connectors/registry.ts";
import {
  runCli,
  startTestGateway,
  TEST_SECRET,
  type TestGateway,
  tempDir,
  waitFor,
} from "../test-support/harness.ts";

// An external plugin as users write one: a directory outside the workspace with its OWN copy of
// @engage-bridge/core, from the packed tarball (what npm would install), not the gateway's. Its
// errors are instances of that copy's classes, so the gateway must recognise them by brand.
const CORE_DIR = fileURLToPath(new URL("../../../../packages/core", import.meta.url));
// zod is shared (a peer of core): the plugin's config schema and secret() marks are read by the gateway.
const ZOD_DIR = realpathSync(dirname(fileURLToPath(import.meta.resolve("zod/package.json"))));
const TOKEN = "acme-erp-token-5b1f0e";

const PLUGIN = `import { defineConnector, delivered, PermanentError, RetryableError, secret } from "@engage-bridge/core";
import { z } from "zod";

export const calls = { slow: [] };
const config = z.strictObject({ endpoint: z.url(), apiToken: secret(z.string().min(1)) });

export default [
  defineConnector({
    name: "acmeRefusing",
    configSchema: config,
    handles: ["loyalty.addPoints"],
    async deliver() {
      throw new PermanentError("erp answered 401: token revoked");
    },
  }),
  defineConnector({
    name: "acmeSlow",
    configSchema: config,
    handles: ["loyalty.addPoints"],
    async deliver(items) {
      calls.slow.push(Date.now());
      if (calls.slow.length === 1) throw new RetryableError("erp answered 429", { delayMs: 1500, rateLimited: true });
      return items.map(() => delivered());
    },
  }),
];
`;

let dir: { path: string; remove: () => void };
let pluginDir: string;
let plugin: { default: AnyConnector[]; calls: { slow: number[] } };
let gw: TestGateway | undefined;

beforeAll(async () => {
  dir = tempDir("engage-plugin-own-core-");
  pluginDir = join(dir.path, "acme-connectors");
  const modules = join(pluginDir, "node_modules");
  mkdirSync(join(modules, "@engage-bridge"), { recursive: true });
  execFileSync("npm", ["pack", "--silent", "--pack-destination", dir.path], {
    cwd: CORE_DIR,
    stdio: "ignore",
  });
  const tarball = readdirSync(dir.path).find((f) => f.endsWith(".tgz")) ?? "";
  execFileSync("tar", ["xzf", join(dir.path, tarball), "-C", join(modules, "@engage-bridge")]);
  renameSync(join(modules, "@engage-bridge", "package"), join(modules, "@engage-bridge", "core"));
  symlinkSync(ZOD_DIR, join(modules, "zod"), "dir");
  writeFileSync(
    join(pluginDir, "package.json"),
    JSON.stringify({ name: "acme-connectors", type: "module", main: "index.js" }),
  );
  writeFileSync(join(pluginDir, "index.js"), PLUGIN);
  plugin = await import(pathToFileURL(join(pluginDir, "index.js")).href);
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  dir.remove();
});

describe("an external plugin built against its own copy of core", () => {
  it("really has its own copy", () => {
    const own = import.meta.resolve("@engage-bridge/core", pathToFileURL(join(pluginDir, "index.js")).href);
    expect(own.startsWith(pathToFileURL(pluginDir).href)).toBe(true);
    expect(own).not.toBe(import.meta.resolve("@engage-bridge/core"));
  });

  it("its PermanentError is dead after one attempt; its rate-limited RetryableError waits as asked", async () => {
    const block = { endpoint: "https://erp.acme.example/hooks", apiToken: TOKEN };
    gw = await startTestGateway(
      { connectors: { acmeRefusing: block, acmeSlow: block } },
      { connectors: plugin.default },
    );
    expect((await gw.post(sampleEvent("loyalty.addPoints"))).status).toBe(204);
    const rows = await waitFor(async () => {
      const list = await gw?.store.listDeliveries({ limit: 10 });
      const done = list?.filter((d) => d.status === "dead" || d.status === "delivered");
      return done?.length === 2 ? list : undefined;
    });
    const refusing = rows.find((d) => d.connector === "acmeRefusing");
    expect(refusing).toMatchObject({
      status: "dead",
      attempts: 1,
      lastError: "erp answered 401: token revoked",
    });
    const slow = rows.find((d) => d.connector === "acmeSlow");
    // A throttled call is not a failed attempt (it does not count toward maxAttempts): two calls, one attempt.
    expect(slow).toMatchObject({ status: "delivered", attempts: 1 });
    expect(plugin.calls.slow).toHaveLength(2);
    const [first, second] = plugin.calls.slow;
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(1500);
  });

  it("is loaded from its directory, validated, and shown by check-config with its secret masked", async () => {
    const file = join(dir.path, "engage-bridge.json");
    writeFileSync(
      file,
      JSON.stringify({
        store: `sqlite:${join(dir.path, "cli.db")}`,
        plugins: [pluginDir],
        sources: { engage: { signingSecrets: [TEST_SECRET] } },
        connectors: { acmeSlow: { endpoint: "https://erp.acme.example/hooks", apiToken: TOKEN } },
      }),
    );
    const { code, stdout, stderr } = await runCli(["check-config", "--load-plugins", "--config", file]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("acmeSlow:");
    expect(stdout).toContain("endpoint: https://erp.acme.example/hooks");
    expect(stdout).not.toContain(TOKEN);
  });
});
