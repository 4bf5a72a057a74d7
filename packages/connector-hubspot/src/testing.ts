import { type ConnectorSandbox, startFakeHubSpot } from "@engage-bridge/testkit";

/**
 * Sandbox mode: the fake HubSpot (Communication Preferences and CRM contacts) knowing the sample
 * contact, and the block that points the connector at it, SMS and postal mirrored into properties.
 */
export const sandbox: ConnectorSandbox = async ({ contact }) => {
  const fake = await startFakeHubSpot({ contacts: [contact.email] });
  return {
    config: {
      accessToken: fake.accessToken,
      baseUrl: fake.url,
      subscriptionId: fake.subscriptions[0]?.id ?? "123456",
      smsProperty: "engage_accepts_sms",
      postalProperty: "engage_accepts_postal",
    },
    url: fake.url,
    state: () => ({
      email: fake.status(contact.email)?.statusState ?? null,
      contact: fake.contact(contact.email),
    }),
    close: () => fake.close(),
  };
};
