import { type ConnectorSandbox, startFakeWebhookReceiver } from "@engage-bridge/testkit";

/** Sandbox mode: a fake Standard Webhooks receiver (fresh whsec_ secret; http is fine on loopback). */
export const sandbox: ConnectorSandbox = async () => {
  const fake = await startFakeWebhookReceiver();
  return {
    config: { url: fake.url, secret: fake.secret },
    url: fake.url,
    state: () => ({ received: fake.accepted().length }),
    close: () => fake.close(),
  };
};
