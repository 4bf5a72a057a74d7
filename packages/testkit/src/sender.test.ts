import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { createVerifier } from "@engage-bridge/core";
import { afterEach, describe, expect, it } from "vitest";
import { loadSamples, sampleEvent } from "./samples.ts";
import { SVIX_RETRY_SCHEDULE_MS, sendWebhook } from "./sender.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function target(statuses: number[]) {
  const seen: { headers: IncomingHttpHeaders; body: string; at: number }[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() });
    res.statusCode = statuses[seen.length - 1] ?? 204;
    res.end();
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, seen };
}

describe("sendWebhook", () => {
  it("retries non-2xx (3xx included) on the compressed Svix schedule with the same id, re-signed", async () => {
    const t = await target([500, 302, 204]);
    const body = sampleEvent("loyalty.addPoints");
    const result = await sendWebhook({ url: t.url, secret: SECRET, body, timeScale: 0.01 });
    expect(result.delivered).toBe(true);
    expect(result.attempts.map((a) => a.status)).toEqual([500, 302, 204]);
    expect(new Set(t.seen.map((s) => s.headers["svix-id"])).size).toBe(1);
    // Third attempt waits 5 min * 0.01 = 3 s after the second.
    const gap = (t.seen[2]?.at ?? 0) - (t.seen[1]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual((SVIX_RETRY_SCHEDULE_MS[2] ?? 0) * 0.01 - 5);
    const verifier = createVerifier({ secrets: [SECRET] });
    for (const s of t.seen) expect(verifier.verify(s.body, s.headers).id).toBe(result.msgId);
  });

  it("gives up after maxAttempts and reports connection failures as status 0", async () => {
    const result = await sendWebhook({
      url: "http://127.0.0.1:9/nothing",
      secret: SECRET,
      body: "{}",
      maxAttempts: 2,
      timeScale: 0.0001,
    });
    expect(result.delivered).toBe(false);
    expect(result.attempts).toHaveLength(2);
    expect(result.attempts[0]?.status).toBe(0);
  });

  it("sends webhook-* headers for white-labelled accounts", async () => {
    const t = await target([204]);
    await sendWebhook({ url: t.url, secret: SECRET, body: "{}", brand: "webhook" });
    expect(t.seen[0]?.headers["webhook-signature"]).toMatch(/^v1,/);
    expect(t.seen[0]?.headers["svix-signature"]).toBeUndefined();
  });
});

describe("samples", () => {
  it("has one sample per event type plus the encrypted one", () => {
    expect(loadSamples()).toHaveLength(7);
  });

  it("makes fresh events from a sample", () => {
    const a = JSON.parse(sampleEvent("reward.voucher.created", { contactId: "c-9" }));
    const b = JSON.parse(sampleEvent("reward.voucher.created"));
    expect(a.eventId).not.toBe(b.eventId);
    expect(a.payload.ContactId).toBe("c-9");
  });
});
