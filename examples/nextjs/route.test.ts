// Calls the route handler directly with a Fetch API Request, as Next.js does; no Next.js needed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { signWebhook } from "@engage-bridge/core";
import { POST } from "./app/api/webhooks/engage/route.ts";
import { savedEvents } from "./lib/engage-events.ts";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
process.env.ENGAGE_SIGNING_SECRET = secret; // read on the first request
const body = JSON.stringify({
  id: "e-1",
  eventType: "loyalty.addPoints",
  payload: { contactId: "c-1", amount: 5 },
});

function request(sent: string, signed = sent): Request {
  const timestamp = Math.floor(Date.now() / 1000);
  return new Request("http://localhost:3000/api/webhooks/engage", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "svix-id": "msg_1",
      "svix-timestamp": String(timestamp),
      "svix-signature": signWebhook(secret, "msg_1", timestamp, signed),
    },
    body: sent,
  });
}

test("a signed Engage webhook is verified, parsed and acknowledged with 204", async () => {
  const res = await POST(request(body));
  assert.equal(res.status, 204);
  assert.equal(savedEvents.length, 1);
  const [event] = savedEvents;
  assert.equal(event?.type, "loyalty.addPoints");
  assert.equal(event?.contactId, "c-1");
  assert.equal(event?.type === "loyalty.addPoints" ? event.data.amount : undefined, 5);
});

test("a forged body is refused with 401 and never saved", async () => {
  const res = await POST(request(body.replace('"amount":5', '"amount":5000'), body));
  assert.equal(res.status, 401);
  assert.equal((await res.json()).reason, "no_matching_signature");
  assert.equal(savedEvents.length, 1);
});

test("a genuine body that is no Engage event is acknowledged (204), not saved", async () => {
  const res = await POST(request("not json"));
  assert.equal(res.status, 204);
  assert.equal(savedEvents.length, 1);
});
