import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { sampleEvent } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { startTestGateway, tempDir } from "../test-support/harness.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn();
});

const mode = (path: string) => statSync(path).mode & 0o777;

describe("SQLite store files", () => {
  it("are created 0600 in a 0700 directory", async () => {
    const dir = tempDir("engage-modes-");
    cleanups.push(dir.remove);
    const sub = join(dir.path, "sub", "deeper");
    const db = join(sub, "x.db");
    const gw = await startTestGateway({ store: `sqlite:${db}` });
    cleanups.unshift(() => gw.stop());
    expect((await gw.post(sampleEvent("loyalty.addPoints"))).status).toBe(204);

    expect(mode(join(dir.path, "sub"))).toBe(0o700);
    expect(mode(sub)).toBe(0o700);
    for (const file of ["x.db", "x.db-wal", "x.db-shm"]) {
      expect(existsSync(join(sub, file)), file).toBe(true);
      expect(mode(join(sub, file)), file).toBe(0o600);
    }
    // Whatever else lives beside the database (the run locks) is private too.
    for (const file of readdirSync(sub)) expect(mode(join(sub, file)), file).toBe(0o600);
  });
});
