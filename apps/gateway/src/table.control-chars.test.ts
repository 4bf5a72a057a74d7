import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { formatTable } from "./table.ts";
import { runCli, startTestGateway, TEST_SECRET } from "./test-support/harness.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn();
});

/** C0 and C1 controls (DEL included) other than the newline that ends a table row. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
/** Bidirectional overrides and isolates, which reorder what the terminal shows. */
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe("formatTable", () => {
  it("prints every control character and bidi override of a cell as U+FFFD, keeping columns aligned", () => {
    const table = formatTable(
      ["type", "id"],
      [
        ["\u001b[2Jwiped", "a\u0007b\u0000c\u007f\u009b31m"],
        ["evil\u202etxt.exe", "line\nbreak\rreturn\ttab"],
        ["plain", "x"],
      ],
    );
    expect(table).not.toMatch(CONTROL);
    expect(table).not.toMatch(BIDI);
    const lines = table.split("\n");
    expect(lines).toHaveLength(4);
    // One character per replaced one: the first column is as wide as "evil\ufffdtxt.exe" (12).
    expect(lines[1]).toBe(`${"\ufffd[2Jwiped".padEnd(12)}  a\ufffdb\ufffdc\ufffd\ufffd31m`);
    expect(lines[2]).toBe("evil\ufffdtxt.exe  line\ufffdbreak\ufffdreturn\ufffdtab");
    expect(lines[3]).toBe(`${"plain".padEnd(12)}  x`);
  });
});

describe("events (table) with hostile event fields", () => {
  it("shows a stored event whose type, id and contact hold terminal escapes without any control character", async () => {
    const gw = await startTestGateway();
    cleanups.push(() => gw.stop());
    const body = JSON.stringify({
      id: "ev-\u001b]0;owned\u0007-\u0085-1",
      eventType: "loyalty.addPoints\u001b[2J\u001b[H\u009b2J",
      isEncrypted: false,
      tenant: "acme\u001b[31m\u0000",
      payload: { contactId: "c-\u001b[8mhidden\u001b[0m-\u202e9", amount: 1 },
    });
    expect((await gw.post(body)).status).toBe(204);
    const stored = await gw.store.listEvents({ limit: 10 });
    expect(stored).toHaveLength(1);
    // The store keeps what was sent; only the printed table is made safe.
    expect(stored[0]?.type).toContain("\u001b[2J");

    const configFile = join(gw.dir, "config.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        store: `sqlite:${join(gw.dir, "test.db")}`,
        sources: { engage: { signingSecrets: [TEST_SECRET] } },
      }),
    );
    const { code, stdout, stderr } = await runCli(["events", "--config", configFile]);
    expect(code, stderr).toBe(0);
    expect(stdout).not.toContain("\u001b");
    expect(stdout).not.toMatch(CONTROL);
    expect(stdout).not.toMatch(BIDI);
    expect(stdout).toContain("loyalty.addPoints\ufffd[2J\ufffd[H\ufffd2J");
    expect(stdout).toContain("ev-\ufffd]0;owned\ufffd-\ufffd-1");
    expect(stdout).toContain("c-\ufffd[8mhidden\ufffd[0m-\ufffd9");
    // Header and one row.
    expect(stdout.trimEnd().split("\n")).toHaveLength(2);
  });
});
