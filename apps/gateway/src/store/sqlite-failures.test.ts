import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../test-support/harness.ts";

const running: TestGateway[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop().catch(() => {})));
});
async function gateway() {
  const gw = await startTestGateway({}, { role: "ingest" });
  running.push(gw);
  return gw;
}

let n = 0;
const event = () =>
  `{"id":"e-${++n}","eventType":"loyalty.addPoints","payload":{"contactId":"c-1","amount":1}}`;

describe("the SQLite file under a running gateway", () => {
  it.each([
    ["the database file is deleted", (db: string) => rmSync(db)],
    ["the write-ahead log is deleted", (db: string) => rmSync(`${db}-wal`)],
    [
      "the database file is replaced",
      (db: string) => {
        copyFileSync(db, `${db}.copy`);
        renameSync(`${db}.copy`, db);
      },
    ],
  ])("%s: webhooks and /readyz answer 503, and an error is logged", async (_what, change) => {
    const gw = await gateway();
    expect((await gw.post(event())).status).toBe(204);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    change(join(gw.dir, "test.db"));
    const res = await gw.post(event());
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "store_unavailable" });
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(503);
    expect(gw.logs.some((l) => l.includes('"level":"error"') && /deleted|replaced/.test(l))).toBe(true);
  });

  it("does not freeze the event loop while another process holds the write lock, and commits once it is free", async () => {
    const gw = await gateway();
    expect((await gw.post(event())).status).toBe(204);
    // Another process takes the write lock and keeps it until told to let go.
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const { DatabaseSync } = require("node:sqlite");
         const db = new DatabaseSync(process.argv[1]);
         db.exec("BEGIN IMMEDIATE");
         process.stdout.write("locked\\n");
         process.stdin.once("data", () => { db.exec("COMMIT"); db.close(); process.exit(0); });`,
        join(gw.dir, "test.db"),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    await once(holder.stdout, "data");
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const pending = gw.post(event());
    // While the lock is held, health checks answer and the webhook waits (it is not refused).
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
    }
    delay.disable();
    holder.stdin.write("go\n");
    await once(holder, "exit");
    expect((await pending).status).toBe(204);
    // SQLite's own busy wait blocks the loop; the gateway keeps it to milliseconds (it used to be 5 s).
    expect(delay.max / 1e6).toBeLessThan(1_000);
    expect(await gw.store.listEvents({ limit: 0 })).toHaveLength(2);
  });
});
