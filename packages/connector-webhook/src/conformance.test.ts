import { startFakeWebhookReceiver } from "@engage-bridge/testkit";
import { type ConformanceTarget, describeConnector } from "@engage-bridge/testkit/conformance";
import { describe } from "vitest";
import { webhook } from "./connector.ts";

/**
 * The shared connector conformance suite (`@engage-bridge/testkit/conformance`) against the fake
 * Standard Webhooks receiver, in both modes: one result per item, 429 → rate-limited retry no
 * earlier than asked, 5xx → retry, 401 → dead and unhealthy, an aborted attempt → retry.
 * `connector.test.ts` keeps what is specific to this connector (bodies, signatures, headers, …).
 */

function target(batch: boolean) {
  return async (): Promise<ConformanceTarget> => {
    const receiver = await startFakeWebhookReceiver();
    return {
      config: { url: receiver.url, secret: receiver.secret, batch },
      fail(fault, times) {
        switch (fault.kind) {
          case "rate-limited":
            receiver.failNext(429, { times, headers: { "retry-after": String(fault.retryAfterSeconds) } });
            return;
          case "server-error":
            receiver.failNext(503, { times });
            return;
          case "unauthorized":
            receiver.failNext(401, { times });
            return;
        }
      },
      close: () => receiver.close(),
    };
  };
}

describe("one request per event (batch: false)", () => {
  describeConnector(webhook, { target: target(false) });
});

describe("a JSON array per request (batch: true)", () => {
  describeConnector(webhook, { target: target(true), maxItems: 12 });
});
