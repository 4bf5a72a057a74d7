import { sampleEvent } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChildGateway,
  freePort,
  killChildren,
  runCli,
  signed,
  spawnGateway,
  tempDir,
  writeChildConfig,
} from "../test-support/harness.ts";

const children = new Set<ChildGateway>();
const dirs: (() => void)[] = [];
afterEach(async () => {
  await killChildren(children);
  for (const remove of dirs.splice(0)) remove();
});

function workdir(): string {
  const dir = tempDir("engage-run-lock-");
  dirs.push(dir.remove);
  return dir.path;
}

async function spawn(configFile: string, args: string[] = []): Promise<ChildGateway> {
  const gw = await spawnGateway(configFile, await freePort(), {}, args);
  children.add(gw);
  return gw;
}

/**
 * The CLI as a real process, on a port of its own (so that a `start` can only fail for the lock).
 * A `start` that does not refuse runs until the timeout kills it: code null.
 */
async function cli(args: string[]) {
  return runCli(args, { env: { PORT: String(await freePort()), LOG_LEVEL: "warn" }, timeoutMs: 15_000 });
}

const ANOTHER = /another gateway \((ingest|worker) role\) is already running on .*gw\.db/;

describe("one gateway per SQLite file", () => {
  it("refuses a second start while the first runs; operator commands work meanwhile; a SIGKILL frees the file", async () => {
    const dir = workdir();
    const { configFile } = writeChildConfig(dir);
    const first = await spawn(configFile);

    const second = await cli(["start", "--config", configFile]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(ANOTHER);
    expect(second.stderr).toMatch(/stop it first/);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);

    const body = sampleEvent("loyalty.addPoints", { id: "ev-lock-1", contactId: "c-lock-42" });
    const posted = await fetch(`${first.url}/webhooks/engage`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signed(body) },
      body,
    });
    expect(posted.status).toBe(204);

    const [events, stats, deliveries, replay] = await Promise.all([
      cli(["events", "--config", configFile]),
      cli(["stats", "--json", "--config", configFile]),
      cli(["deliveries", "--config", configFile]),
      cli(["replay", "--status", "dead", "--config", configFile]),
    ]);
    expect(events.code).toBe(0);
    expect(events.stdout).toContain("ev-lock-1");
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ events: { "loyalty.addPoints": 1 } });
    expect(deliveries.code).toBe(0);
    expect(deliveries.stdout).toContain("eventId");
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain("0 deliveries re-queued");
    const forget = await cli(["forget-contact", "c-lock-42", "--config", configFile]);
    expect(forget.code).toBe(0);
    expect(forget.stdout).toContain("1 event erased");
    // The gateway was not disturbed by any of them.
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);

    // The lock lives and dies with the process: nothing stale after a crash.
    first.child.kill("SIGKILL");
    await first.exited;
    const third = await spawn(configFile);
    expect((await fetch(`${third.url}/readyz`)).status).toBe(200);
  });

  it("runs --role ingest and --role worker side by side, one of each", async () => {
    const dir = workdir();
    const { configFile } = writeChildConfig(dir);
    const ingest = await spawn(configFile, ["--role", "ingest"]);
    const worker = await spawn(configFile, ["--role", "worker"]);
    expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);

    const [ingest2, worker2, all] = await Promise.all([
      cli(["start", "--role", "ingest", "--config", configFile]),
      cli(["start", "--role", "worker", "--config", configFile]),
      cli(["start", "--config", configFile]),
    ]);
    expect(ingest2.code).toBe(1);
    expect(ingest2.stderr).toMatch(/another gateway \(ingest role\)/);
    expect(worker2.code).toBe(1);
    expect(worker2.stderr).toMatch(/another gateway \(worker role\)/);
    expect(all.code).toBe(1);
    expect(all.stderr).toMatch(ANOTHER);
    expect(ingest.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
  });
});
