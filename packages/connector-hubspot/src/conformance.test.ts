import { type ContactLookup, type DeliveryItem, parseEngageEvent } from "@engage-bridge/core";
import {
  FAKE_HUBSPOT_SUBSCRIPTION_ID,
  type FakeHubSpot,
  sampleEvent,
  startFakeHubSpot,
} from "@engage-bridge/testkit";
import { type ConformanceTarget, describeConnector } from "@engage-bridge/testkit/conformance";
import { describe } from "vitest";
import { hubspot } from "./connector.ts";

/**
 * The shared connector conformance suite (`@engage-bridge/testkit/conformance`) against the fake
 * HubSpot: one result per item, 429 → rate-limited retry no earlier than asked, 5xx → retry,
 * 401 → dead and unhealthy, an aborted attempt → retry. `connector.test.ts` keeps what is specific
 * to HubSpot (the daily limit, 403 and its scopes, 400s, 2xx answers that apply nothing, mirrored
 * contact properties, the start-up check, …).
 *
 * It runs twice: with single writes (the gateway sends one item per call) and in batch mode with
 * `smsProperty` and `postalProperty`, where a call of mixed items sends one `statuses/batch/write`
 * and a contact PATCH per SMS/postal change, so that every fault meets both kinds of request.
 *
 * The email comes from the Engage API (HubSpot knows subscribers by email, the payload carries
 * none): an in-memory lookup stands in for it, as in `connector.test.ts`. Every contact exists in
 * the fake's CRM, so that each item is delivered when nothing fails.
 */

const MAX_ITEMS = 9;
const CHANNELS = ["Email", "Sms", "Postal"] as const;
const emailOf = (i: number) => `conformance-${i}@example.com`;

const lookupContact: ContactLookup = async (contactId) => {
  const i = Number(/^conformance-(\d+)$/.exec(contactId)?.[1] ?? Number.NaN);
  if (Number.isNaN(i)) return undefined;
  // Opt-ins and opt-outs in turn, on every channel.
  const accepts = i % 2 === 0;
  return {
    id: contactId,
    email: emailOf(i),
    mobilePhone: undefined,
    preferences: { acceptsEmail: accepts, acceptsSms: accepts, acceptsPostal: accepts },
    raw: {},
  };
};

let run = 0;
/** Email, SMS and postal changes in turn, one contact each. */
function items(count: number): DeliveryItem[] {
  run += 1;
  return Array.from({ length: count }, (_, i) => {
    const channel = CHANNELS[i % CHANNELS.length] ?? "Email";
    const body = sampleEvent(`contact.accepts${channel}.changed`, { contactId: `conformance-${i}` });
    return {
      deliveryId: `delivery-${run}-${i}`,
      event: parseEngageEvent(body, { messageId: `msg-${run}-${i}` }),
      attempt: 1,
      receivedAt: new Date(),
    };
  });
}

/** The fake HubSpot with every item's contact, and the connector block `extra` on top of the defaults. */
async function target(extra: Record<string, unknown>): Promise<ConformanceTarget> {
  const fake: FakeHubSpot = await startFakeHubSpot({
    contacts: Array.from({ length: MAX_ITEMS }, (_, i) => emailOf(i)),
  });
  return {
    config: {
      accessToken: fake.accessToken,
      baseUrl: fake.url,
      subscriptionId: Number(FAKE_HUBSPOT_SUBSCRIPTION_ID),
      ...extra,
    },
    fail(fault, times) {
      switch (fault.kind) {
        case "rate-limited":
          // HubSpot's rolling-window 429 (TEN_SECONDLY_ROLLING) promises no Retry-After, and the
          // fake sends none: it says when to come back in X-HubSpot-RateLimit-Interval-Milliseconds,
          // the window's length, which is set to the suite's wait.
          fake.rateLimit = { ...fake.rateLimit, intervalMs: fault.retryAfterSeconds * 1000 };
          fake.failNext(times, { type: "rate-limit" });
          return;
        case "server-error":
          fake.failNext(times, { type: "server-error", status: 503 });
          return;
        case "unauthorized":
          fake.failNext(times, { type: "unauthorized" });
          return;
      }
    },
    close: () => fake.close(),
  };
}

describe("single writes (one item per call)", () => {
  describeConnector(hubspot, { target: () => target({}), items, lookupContact, maxItems: MAX_ITEMS });
});

describe("batch mode, with SMS and postal mirrored into contact properties", () => {
  describeConnector(hubspot, {
    target: () =>
      target({ batch: true, smsProperty: "engage_accepts_sms", postalProperty: "engage_accepts_postal" }),
    items,
    lookupContact,
    maxItems: MAX_ITEMS,
  });
});
