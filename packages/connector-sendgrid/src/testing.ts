import { type ConnectorSandbox, startFakeSendGrid } from "@engage-bridge/testkit";

/** Sandbox mode: the fake SendGrid (global and group unsubscribes) and the block pointing at it. */
export const sandbox: ConnectorSandbox = async () => {
  const fake = await startFakeSendGrid();
  return {
    config: { apiKey: fake.apiKey, baseUrl: fake.url },
    url: fake.url,
    state: () => ({ globalSuppressions: [...fake.globalSuppressions] }),
    close: () => fake.close(),
  };
};
