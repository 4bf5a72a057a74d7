import { type ConnectorSandbox, startFakeGoogle } from "@engage-bridge/testkit";

/** Sandbox mode: the fake Google (OAuth token endpoint and Sheets) with an empty loyalty sheet. */
export const sandbox: ConnectorSandbox = async () => {
  const fake = await startFakeGoogle();
  const config = fake.connectorConfig({ spreadsheetId: "1SandboxLoyaltyLog", sheetName: "Loyalty" });
  return {
    config,
    url: fake.url,
    state: () => ({ rows: fake.rows(config.spreadsheetId, config.sheetName).length }),
    close: () => fake.close(),
  };
};
