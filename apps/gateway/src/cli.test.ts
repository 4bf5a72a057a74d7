import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestConnector, loadSamples, sampleEvent, startFakeTarget } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { BUILTIN_CONNECTORS } from "./connectors/builtin.ts";
import {
  CLI_ENTRY,
  runCli,
  startTestGateway,
  TEST_SECRET,
  type TestGateway,
  tempDir,
  waitFor,
} from "./test-support/harness.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn();
});

function workdir() {
  const dir = tempDir("engage-cli-");
  cleanups.push(dir.remove);
  return dir.path;
}

async function gatewayWithConfig(): Promise<{ gw: TestGateway; configFile: string }> {
  const gw = await startTestGateway();
  cleanups.push(() => gw.stop());
  const configFile = join(gw.dir, "config.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      store: `sqlite:${join(gw.dir, "test.db")}`,
      sources: { engage: { signingSecrets: [TEST_SECRET] } },
    }),
  );
  return { gw, configFile };
}

describe("--version", () => {
  it("prints the gateway's version", async () => {
    const version = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
    const result = await runCli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });
});

describe("check-config", () => {
  it("exits 1 listing every problem with its key path", async () => {
    const dir = workdir();
    const file = join(dir, "broken.yaml");
    writeFileSync(
      file,
      "server:\n  port: -1\nsources:\n  engage:\n    signingSecrets: ['${NOT_SET_ANYWHERE}']\n    colour: red\nconnectors:\n  hubspot: {}\n",
    );
    const { code, stderr, stdout } = await runCli(["check-config", "--config", file]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    for (const line of [
      "server.port:",
      "sources.engage.signingSecrets.0: environment variable NOT_SET_ANYWHERE is not set",
      "sources.engage: unknown key: colour",
      "connectors.hubspot.accessToken:",
      "connectors.hubspot.subscriptionId:",
    ]) {
      expect(stderr).toContain(line);
    }
    expect(stderr).toMatch(/5 problems/);
  });

  it("prints the effective config with secrets masked", async () => {
    const dir = workdir();
    const file = join(dir, "engage-bridge.yaml");
    writeFileSync(
      file,
      "sources:\n  engage:\n    signingSecrets: ['${SIGNING}']\n    requiredHeaders: { x-token: shh-its-a-secret }\n",
    );
    const { code, stdout } = await runCli(["check-config"], { cwd: dir, env: { SIGNING: TEST_SECRET } });
    expect(code).toBe(0);
    expect(stdout).toContain("valid");
    expect(stdout).toContain("whsec_****");
    expect(stdout).toContain("toleranceSeconds: 300");
    expect(stdout).not.toContain(TEST_SECRET.slice(6));
    expect(stdout).not.toContain("shh-its-a-secret");
  });

  it("exits 1 when there is no config file at all", async () => {
    const { code, stderr } = await runCli(["check-config"], { cwd: workdir() });
    expect(code).toBe(1);
    expect(stderr).toMatch(/no config file/);
  });
});

describe("send-sample, events and stats", () => {
  it("sends every sample signed, then lists and counts them from the store", async () => {
    const { gw, configFile } = await gatewayWithConfig();
    const sent = await runCli(["send-sample", "--url", `${gw.url}/webhooks/engage`, "--secret", TEST_SECRET]);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toContain("7/7 delivered");

    const more = await runCli([
      "send-sample",
      "--url",
      `${gw.url}/webhooks/engage`,
      "--type",
      "loyalty.addPoints",
      "--count",
      "3",
      "--config",
      configFile,
    ]);
    expect(more.stdout).toContain("3/3 delivered");

    const events = await runCli(["events", "--json", "--config", configFile, "--limit", "0"]);
    const rows = JSON.parse(events.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(10);
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual([
      "contactId",
      "id",
      "receivedAt",
      "source",
      "status",
      "svixId",
      "type",
    ]);
    // No payload key in this config: the encrypted sample is stored and flagged.
    expect(rows.filter((r) => r.status === "undecryptable")).toHaveLength(1);

    const limited = JSON.parse(
      (
        await runCli([
          "events",
          "--json",
          "--config",
          configFile,
          "--limit",
          "2",
          "--type",
          "loyalty.addPoints",
        ])
      ).stdout,
    );
    expect(limited).toHaveLength(2);

    const stats = JSON.parse((await runCli(["stats", "--json", "--config", configFile])).stdout);
    expect(stats).toEqual({
      events: {
        "contact.acceptsEmail.changed": 1,
        "contact.acceptsPostal.changed": 1,
        "contact.acceptsSms.changed": 1,
        "loyalty.addPoints": 5,
        "point.balance.updated": 1,
        "reward.voucher.created": 1,
      },
      deliveries: {},
      queueDepth: 0,
      oldestPendingSeconds: null,
    });
    const table = await runCli(["events", "--config", configFile, "--status", "undecryptable"]);
    expect(table.stdout).toMatch(/undecryptable \(encrypted_without_key\)/);
  });

  it("send-sample fails with exit 1 when the gateway refuses", async () => {
    const { gw } = await gatewayWithConfig();
    const wrong = await runCli([
      "send-sample",
      "--url",
      `${gw.url}/webhooks/engage`,
      "--secret",
      "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
      "--type",
      "loyalty.addPoints",
      "--max-attempts",
      "2",
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain("401");
    expect(wrong.stdout).toContain("0/1 delivered");
  });
});

describe("start", () => {
  it("runs sandbox mode without a config: prints the secret and the next command, which works", async () => {
    const dir = workdir();
    const child = spawn(process.execPath, [CLI_ENTRY, "start"], {
      cwd: dir,
      env: { ...process.env, PORT: "0", ENGAGE_BRIDGE_CONFIG: "", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    cleanups.push(() => child.kill("SIGKILL"));
    let banner = "";
    child.stderr.on("data", (d) => {
      banner += d;
    });
    const deadline = Date.now() + 15_000;
    while (!banner.includes("events") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(banner).toMatch(/SANDBOX MODE.*NOT FOR PRODUCTION/);
    // The admin API is on, with the token the banner shows.
    expect(banner).toMatch(/dashboard +http:\/\/127\.0\.0\.1:\d+\/admin\/ +\(token \S{16,}\)/);
    const command = /(?:pnpm exec )?engage-bridge (send-sample --url \S+ --secret \S+)/.exec(banner);
    expect(command).not.toBeNull();
    const args = (command?.[1] ?? "").split(" ");
    const sent = await runCli(args, { cwd: dir });
    expect(sent.stdout).toContain("7/7 delivered");
    // Sandbox sources carry the sample payload key: nothing is undecryptable.
    const events = JSON.parse((await runCli(["events", "--json"], { cwd: dir })).stdout) as {
      status: string;
    }[];
    expect(events.map((e) => e.status)).toEqual(Array(7).fill("accepted"));
    // Every registered connector delivers each sample it handles to its in-process fake (with the
    // four of today: 3 preference events to HubSpot, the email one to SendGrid, 4 loyalty events
    // to Sheets, all 7 to the webhook receiver).
    const base = /--url (http:\/\/[^/]+)\//.exec(banner)?.[1] ?? "";
    const samples = loadSamples();
    const expected = Object.fromEntries(
      BUILTIN_CONNECTORS.map((c) => [
        c.name,
        samples.filter((s) => (c.handles as readonly string[]).includes(s.eventType)).length,
      ]),
    );
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    const deliveries = await waitFor(async () => {
      const rows = JSON.parse((await runCli(["deliveries", "--json"], { cwd: dir })).stdout) as {
        connector: string;
        status: string;
      }[];
      return rows.length === total && rows.every((r) => r.status === "delivered") ? rows : undefined;
    });
    for (const [name, count] of Object.entries(expected))
      expect(
        deliveries.filter((d) => d.connector === name),
        name,
      ).toHaveLength(count);
    const token = /\(token (\S+)\)/.exec(banner)?.[1] ?? "";
    const stats = await fetch(`${base}/admin/stats`, { headers: { authorization: `Bearer ${token}` } });
    expect(stats.status).toBe(200);
    expect(await stats.json()).toMatchObject({ queueDepth: 0 });
    const state = await (await fetch(`${base}/sandbox`)).json();
    expect(state).toMatchObject({
      hubspot: {
        email: "UNSUBSCRIBED",
        contact: { engage_accepts_sms: "true", engage_accepts_postal: "false" },
      },
      sendgrid: { globalSuppressions: ["sample.contact@example.com"] },
      googleSheets: { rows: 5 },
      webhook: { received: 7 },
    });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("refuses sandbox mode with NODE_ENV=production: exit 1 naming what is missing", async () => {
    const dir = workdir();
    const { code, stderr } = await runCli(["start"], {
      cwd: dir,
      env: { NODE_ENV: "production" },
      timeoutMs: 15_000,
    });
    expect(code).toBe(1);
    expect(stderr).toContain("no config file, and NODE_ENV=production refuses sandbox mode");
    expect(stderr).toContain("--config FILE");
    expect(stderr).toContain("ENGAGE_BRIDGE_CONFIG");
    expect(stderr).not.toMatch(/sandbox mode —|SANDBOX MODE/);
    // Nothing was created: no sandbox secret, no database.
    expect(existsSync(join(dir, "data"))).toBe(false);
  });

  it("refuses to start when --config or ENGAGE_BRIDGE_CONFIG names a file that does not exist", async () => {
    const dir = workdir();
    const byFlag = await runCli(["start", "--config", "missing.yaml"], { cwd: dir, timeoutMs: 15_000 });
    expect(byFlag.code).toBe(1);
    expect(byFlag.stderr).toContain(`${join(dir, "missing.yaml")}: 1 problem`);
    expect(byFlag.stderr).toContain("the config file named by --config does not exist");
    const byEnv = await runCli(["start"], {
      cwd: dir,
      env: { ENGAGE_BRIDGE_CONFIG: "/nonexistent/engage-bridge.yaml" },
      timeoutMs: 15_000,
    });
    expect(byEnv.code).toBe(1);
    expect(byEnv.stderr).toContain("the config file named by ENGAGE_BRIDGE_CONFIG does not exist");
    expect(existsSync(join(dir, "data"))).toBe(false);
  });

  it("refuses to start with a broken config, listing the problems", async () => {
    const dir = workdir();
    writeFileSync(join(dir, "engage-bridge.yaml"), "sources:\n  engage:\n    signingSecrets: [whsec_]\n");
    const { code, stderr } = await runCli(["start"], { cwd: dir });
    expect(code).toBe(1);
    expect(stderr).toContain("sources.engage.signingSecrets.0");
  });
});

describe("read commands need only the store", () => {
  it("work with a config whose connector secrets are not in the environment, and coerce ${ENV} numbers", async () => {
    const dir = workdir();
    const file = join(dir, "engage-bridge.yaml");
    writeFileSync(
      file,
      [
        `store: sqlite:${join(dir, "gw.db")}`,
        "storeOptions:",
        "  statementTimeoutMs: ${STATEMENT_TIMEOUT}",
        "sources:",
        "  engage:",
        "    signingSecrets: ['${ENGAGE_SIGNING_SECRET_UNSET}']",
        "connectors:",
        "  hubspot:",
        "    accessToken: ${HUBSPOT_TOKEN_UNSET}",
        "    subscriptionId: 1",
        "  acme:",
        "    type: not-loaded-plugin",
        "",
      ].join("\n"),
    );
    const env = { STATEMENT_TIMEOUT: "3000" };
    for (const args of [["events"], ["deliveries"], ["stats", "--json"], ["replay", "--status", "dead"]]) {
      const result = await runCli([...args, "--config", file], { env });
      expect(result.stderr, args.join(" ")).toBe("");
      expect(result.code, args.join(" ")).toBe(0);
    }
    // `start` still needs them all, and says which.
    const start = await runCli(["start", "--config", file], { env, timeoutMs: 15_000 });
    expect(start.code).toBe(1);
    expect(start.stderr).toContain("environment variable ENGAGE_SIGNING_SECRET_UNSET is not set");
    expect(start.stderr).toContain("environment variable HUBSPOT_TOKEN_UNSET is not set");
    // A broken store setting is still an error for them.
    const bad = await runCli(["events", "--config", file], { env: { STATEMENT_TIMEOUT: "soon" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("storeOptions.statementTimeoutMs: ${STATEMENT_TIMEOUT} must be a number");
  });
});

describe("deliveries, replay, purge and forget-contact", () => {
  async function filledStore() {
    const dir = workdir();
    const db = join(dir, "gw.db");
    const configFile = join(dir, "config.json");
    writeFileSync(
      configFile,
      JSON.stringify({ store: `sqlite:${db}`, sources: { engage: { signingSecrets: [TEST_SECRET] } } }),
    );
    const { SqliteStore } = await import("./store/sqlite.ts");
    const store = new SqliteStore(db);
    await store.migrate();
    const base = {
      source: "engage",
      type: "contact.acceptsEmail.changed",
      status: "accepted" as const,
      body: Buffer.from("{}"),
    };
    const old = new Date(Date.now() - 40 * 86_400_000);
    await store.insertEvent({
      ...base,
      svixId: "m1",
      eventId: "ev-1",
      contactId: "c-forget",
      receivedAt: old,
      connectors: ["hubspot"],
    });
    await store.insertEvent({
      ...base,
      svixId: "m2",
      eventId: "ev-2",
      contactId: "c-keep",
      receivedAt: old,
      connectors: ["hubspot", "sendgrid"],
    });
    await store.insertEvent({
      ...base,
      svixId: "m3",
      eventId: "ev-3",
      contactId: "c-keep",
      receivedAt: new Date(),
      connectors: [],
    });
    const leased = await store.leaseDue("hubspot", 10, "w", 60_000);
    await store.complete(
      "w",
      leased.map((l) => ({
        deliveryId: l.deliveryId,
        status: "dead" as const,
        error: "gave up after 15 attempts: 500",
        attempt: { startedAt: new Date(), durationMs: 3, outcome: "retry" as const },
      })),
    );
    await store.close();
    return configFile;
  }

  it("lists deliveries as the contract's JSON, replays dead ones, purges and forgets", async () => {
    const configFile = await filledStore();
    const list = JSON.parse(
      (await runCli(["deliveries", "--json", "--config", configFile])).stdout,
    ) as Record<string, unknown>[];
    expect(list).toHaveLength(3);
    expect(Object.keys(list[0] ?? {}).sort()).toEqual([
      "attempts",
      "connector",
      "eventId",
      "lastError",
      "nextAttemptAt",
      "status",
      "updatedAt",
    ]);
    const dead = JSON.parse(
      (await runCli(["deliveries", "--json", "--status", "dead", "--config", configFile])).stdout,
    ) as Record<string, unknown>[];
    expect(dead).toHaveLength(2);
    expect(dead[0]).toMatchObject({
      connector: "hubspot",
      status: "dead",
      attempts: 1,
      lastError: "gave up after 15 attempts: 500",
      nextAttemptAt: null,
    });
    const one = JSON.parse(
      (await runCli(["deliveries", "--json", "--connector", "sendgrid", "--config", configFile])).stdout,
    );
    expect(one).toMatchObject([{ eventId: "ev-2", connector: "sendgrid", status: "pending" }]);

    expect((await runCli(["replay", "--event", "ev-1", "--config", configFile])).stdout).toContain(
      "1 delivery re-queued",
    );
    expect(
      (await runCli(["replay", "--status", "dead", "--connector", "hubspot", "--config", configFile])).stdout,
    ).toContain("1 delivery re-queued");
    expect((await runCli(["replay", "--status", "dead", "--config", configFile])).stdout).toContain(
      "0 deliveries re-queued",
    );
    expect((await runCli(["replay", "--config", configFile])).code).toBe(1);
    const stats = JSON.parse((await runCli(["stats", "--json", "--config", configFile])).stdout);
    expect(stats.deliveries).toEqual({ hubspot: { pending: 2 }, sendgrid: { pending: 1 } });
    expect(stats.queueDepth).toBe(3);

    // Pending work is never purged; only finished events older than the cutoff go.
    expect((await runCli(["purge", "--older-than", "30d", "--config", configFile])).stdout).toContain(
      "0 events purged",
    );
    expect((await runCli(["purge", "--older-than", "3d", "--config", configFile])).code).toBe(1);
    expect((await runCli(["purge", "--older-than", "soon", "--config", configFile])).code).toBe(1);

    expect((await runCli(["forget-contact", "c-forget", "--config", configFile])).stdout).toContain(
      "1 event erased",
    );
    const events = JSON.parse((await runCli(["events", "--json", "--config", configFile])).stdout) as {
      contactId: string;
    }[];
    expect(events.map((e) => e.contactId)).toEqual(["c-keep", "c-keep"]);
  });

  it("event <id> prints what GET /admin/events/<id> answers; events --contact finds exactly one contact's", async () => {
    const target = await startFakeTarget();
    cleanups.push(() => target.close());
    const gw = await startTestGateway(
      {
        connectors: { testTarget: { baseUrl: target.url } },
        delivery: { maxAttempts: 3 },
        admin: { token: "cli-admin-token-0123456789" },
      },
      { connectors: [createTestConnector("testTarget")] },
    );
    cleanups.push(() => gw.stop());
    target.failNext(1, { status: 503 });
    const mine = sampleEvent("loyalty.addPoints", { contactId: "cli-contact-1" });
    await gw.post(mine);
    await gw.post(sampleEvent("loyalty.addPoints", { contactId: "cli-contact-10" }));
    await waitFor(async () => (await gw.store.stats()).deliveries.testTarget?.delivered === 2);
    const configFile = join(gw.dir, "cli.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        store: `sqlite:${join(gw.dir, "test.db")}`,
        sources: { engage: { signingSecrets: [TEST_SECRET] } },
      }),
    );
    const id = (JSON.parse(mine) as { id: string }).id;

    const printed = await runCli(["event", id, "--json", "--config", configFile]);
    expect(printed.code).toBe(0);
    const api = await fetch(`${gw.url}/admin/events/${id}`, {
      headers: { authorization: "Bearer cli-admin-token-0123456789" },
    });
    const answered = await api.json();
    expect(JSON.parse(printed.stdout)).toEqual(answered);
    expect(answered).toMatchObject({
      event: { id, contactId: "cli-contact-1" },
      deliveries: [
        {
          connector: "testTarget",
          status: "delivered",
          attempts: [
            { attempt: 1, outcome: "retry", targetStatus: 503 },
            { attempt: 2, outcome: "delivered" },
          ],
        },
      ],
    });
    const text = await runCli(["event", id, "--config", configFile]);
    expect(text.stdout).toContain("testTarget: delivered");
    expect(text.stdout).toMatch(/1 +\S+ +\d+ +retry +503 +target answered 503/);
    expect((await runCli(["event", "no-such-event", "--config", configFile])).code).toBe(1);

    const found = JSON.parse(
      (await runCli(["events", "--json", "--contact", "cli-contact-1", "--config", configFile])).stdout,
    ) as { id: string }[];
    expect(found.map((e) => e.id)).toEqual([id]);
  });
});
