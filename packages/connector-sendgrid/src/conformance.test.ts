import { type ContactLookup, type DeliveryItem, parseEngageEvent } from "@engage-bridge/core";
import { sampleEvent, startFakeSendGrid } from "@engage-bridge/testkit";
import { describeConnector } from "@engage-bridge/testkit/conformance";
import { sendgridConnector } from "./connector.ts";

/**
 * The shared connector conformance suite (`@engage-bridge/testkit/conformance`) against the fake
 * SendGrid: one result per item, 429 → rate-limited retry no earlier than asked, 5xx → retry,
 * 401 → dead and unhealthy, an aborted attempt → retry. `connector.test.ts` keeps what is specific
 * to SendGrid (its rate-limit headers, the unsubscribe group, malformed addresses, …).
 *
 * The address comes from the Engage API (the payload carries none): an in-memory lookup stands in
 * for it, as in `connector.test.ts`. Every third contact accepts email again, so that a batch has
 * opt-outs (one POST) and opt-ins (a DELETE each), and a fault meets either.
 */

interface Contact {
  email: string;
  acceptsEmail: boolean;
}

const contacts = new Map<string, Contact>();
let run = 0;

const lookupContact: ContactLookup = async (contactId) => {
  const contact = contacts.get(contactId);
  if (!contact) return undefined;
  return {
    id: contactId,
    email: contact.email,
    mobilePhone: undefined,
    preferences: { acceptsEmail: contact.acceptsEmail, acceptsSms: undefined, acceptsPostal: undefined },
    raw: {},
  };
};

function items(count: number): DeliveryItem[] {
  run += 1;
  return Array.from({ length: count }, (_, i) => {
    const contactId = `conformance-${run}-${i}`;
    const acceptsEmail = i % 3 === 2;
    contacts.set(contactId, { email: `${contactId}@example.com`, acceptsEmail });
    const body = sampleEvent("contact.acceptsEmail.changed", { contactId, payload: { value: acceptsEmail } });
    return {
      deliveryId: `delivery-${run}-${i}`,
      event: parseEngageEvent(body, { messageId: `msg-${run}-${i}` }),
      attempt: 1,
      receivedAt: new Date(),
    };
  });
}

describeConnector(sendgridConnector, {
  async target() {
    const fake = await startFakeSendGrid();
    return {
      config: { apiKey: fake.apiKey, baseUrl: fake.url },
      fail(fault, times) {
        switch (fault.kind) {
          case "rate-limited":
            // What SendGrid sends (X-RateLimit-Reset, as a Unix time: the fake's default), plus a
            // Retry-After: the connector must wait no less than either says.
            fake.failNext(times, {
              status: 429,
              resetSeconds: fault.retryAfterSeconds,
              headers: { "Retry-After": String(fault.retryAfterSeconds) },
            });
            return;
          case "server-error":
            fake.failNext(times, { status: 503 });
            return;
          case "unauthorized":
            fake.failNext(times, { status: 401 });
            return;
        }
      },
      close: () => fake.close(),
    };
  },
  items,
  lookupContact,
  maxItems: 12,
});
