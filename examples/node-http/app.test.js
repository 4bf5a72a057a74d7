import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { signWebhook } from "@engage-bridge/core";
import { createWebhookServer } from "./app.js";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const body = JSON.stringify({
  id: "e-1",
  eventType: "loyalty.addPoints",
  payload: { contactId: "c-1", amount: 5 },
});
const received = [];
let server;
let url;

before(async () => {
  server = createWebhookServer({ secrets: [secret], onEvent: (event) => received.push(event) });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}/webhooks/engage`;
});
after(() => server.close());

function headers(signedBody) {
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    "content-type": "application/json",
    "svix-id": "msg_1",
    "svix-timestamp": String(timestamp),
    "svix-signature": signWebhook(secret, "msg_1", timestamp, signedBody),
  };
}

test("a signed Engage webhook is verified, parsed and acknowledged with 204", async () => {
  const res = await fetch(url, { method: "POST", headers: headers(body), body });
  assert.equal(res.status, 204);
  assert.equal(received.length, 1);
  assert.equal(received[0].type, "loyalty.addPoints");
  assert.equal(received[0].contactId, "c-1");
  assert.equal(received[0].data.amount, 5);
});

test("whitespace in the signed JSON survives: the route sees the bytes, not a re-serialized object", async () => {
  const pretty = JSON.stringify(JSON.parse(body), null, 2);
  const res = await fetch(url, { method: "POST", headers: headers(pretty), body: pretty });
  assert.equal(res.status, 204);
  assert.equal(received.length, 2);
});

test("a forged body is refused with 401 and never reaches onEvent", async () => {
  const forged = body.replace('"amount":5', '"amount":5000');
  const res = await fetch(url, { method: "POST", headers: headers(body), body: forged });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).reason, "no_matching_signature");
  assert.equal(received.length, 2);
});
