import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChildGateway,
  freePort,
  killChildren,
  runCli,
  signed,
  spawnGateway,
  tempDir,
  waitFor,
  writeChildConfig,
} from "../test-support/harness.ts";

const TEST_CONNECTORS = fileURLToPath(import.meta.resolve("@engage-bridge/testkit/test-connectors"));
const children = new Set<ChildGateway>();
const dirs: (() => void)[] = [];
afterEach(async () => {
  await killChildren(children);
  for (const remove of dirs.splice(0)) remove();
});

const A = { id: "contact-anna-7f3e9c", email: "anna.erasure@example.com" };
const B = { id: "contact-bert-51d0aa", email: "bert.keeps@example.com" };

async function post(url: string, json: unknown): Promise<number> {
  const body = JSON.stringify(json);
  const res = await fetch(`${url}/webhooks/engage`, {
    method: "POST",
    headers: { "content-type": "application/json", ...signed(body) },
    body,
  });
  return res.status;
}

/** The raw bytes of the store's files, as a disk image or a backup would hold them. */
const rawFiles = (db: string) =>
  [db, `${db}-wal`].map((file) => {
    try {
      return readFileSync(file).toString("latin1");
    } catch {
      return "";
    }
  });

describe("forget-contact against a running gateway (GDPR erasure)", () => {
  it("erases every event of exactly that contact and leaves none of its data in the database files", async () => {
    const dir = tempDir();
    dirs.push(dir.remove);
    // A test connector (from testkit, loaded as a plugin) gives the events pending deliveries.
    const { configFile, db } = writeChildConfig(dir.path, {
      plugins: [TEST_CONNECTORS],
      // Nothing listens there: deliveries stay pending (retrying) throughout.
      connectors: { testTarget: { baseUrl: "http://127.0.0.1:9" } },
      delivery: { maxAttempts: 50, retryBaseSeconds: 1, retryMaxSeconds: 2 },
    });
    const gw = await spawnGateway(configFile, await freePort());
    children.add(gw);

    const of = (contact: typeof A, n: number) => [
      // Accepted, string id.
      {
        id: `${contact.id}-e${n}`,
        eventType: "loyalty.addPoints",
        payload: { contactId: contact.id, amount: n, userName: contact.email },
      },
      // Unknown type (stored ignored) naming the contact and its email.
      {
        id: `${contact.id}-u${n}`,
        eventType: "contact.updated",
        payload: { contactId: contact.id, email: contact.email },
      },
      // Invalid payload (ignored).
      {
        id: `${contact.id}-i${n}`,
        eventType: "point.balance.updated",
        payload: { contactId: contact.id, note: contact.email },
      },
      // Undecryptable: no payload key is configured; the envelope names the contact.
      {
        id: `${contact.id}-x${n}`,
        eventType: "loyalty.addPoints",
        isEncrypted: true,
        contactId: contact.id,
        payload: "AAAAAAAAAAAAAAAAAAAAAA",
      },
    ];
    for (const json of [...of(A, 1), ...of(B, 1), ...of(A, 2), ...of(B, 2)])
      expect(await post(gw.url, json)).toBe(204);
    // A numeric contact id: stored as its decimal text, erased by it.
    expect(
      await post(gw.url, {
        id: "num-1",
        eventType: "loyalty.addPoints",
        payload: { contactId: 4711, amount: 1 },
      }),
    ).toBe(204);

    const cli = async (...args: string[]) => {
      const result = await runCli([...args, "--config", configFile]);
      expect(result.code, result.stderr).toBe(0);
      return result;
    };
    const before = JSON.parse((await cli("events", "--json", "--limit", "0")).stdout) as {
      contactId: string | null;
    }[];
    expect(before.filter((e) => e.contactId === A.id)).toHaveLength(8);

    expect((await cli("forget-contact", A.id)).stdout).toContain("8 events erased");
    expect((await cli("forget-contact", "4711")).stdout).toContain("1 event erased");

    const after = JSON.parse((await cli("events", "--json", "--limit", "0")).stdout) as {
      contactId: string | null;
    }[];
    expect(after.map((e) => e.contactId).sort()).toEqual(Array(8).fill(B.id));
    // B's deliveries (one per accepted event) are untouched and still open.
    const deliveries = JSON.parse((await cli("deliveries", "--json", "--limit", "0")).stdout) as {
      eventId: string;
      status: string;
    }[];
    expect(deliveries.map((d) => d.eventId).sort()).toEqual([`${B.id}-e1`, `${B.id}-e2`]);
    expect(deliveries.every((d) => d.status === "pending" || d.status === "retrying")).toBe(true);
    for (const bytes of rawFiles(db)) {
      expect(bytes.includes(A.id), "contact id in the files").toBe(false);
      expect(bytes.includes(A.email), "email in the files").toBe(false);
    }
    // The search would have found them: B's are there, and the gateway still takes events.
    expect(rawFiles(db).some((bytes) => bytes.includes(B.email))).toBe(true);
    expect(await post(gw.url, of(B, 3)[0])).toBe(204);
    await waitFor(async () => (await fetch(`${gw.url}/readyz`)).ok);
  }, 60_000);
});
