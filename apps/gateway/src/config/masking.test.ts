import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, TEST_SECRET, tempDir } from "../test-support/harness.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn();
});

/** `check-config --config FILE` as a real process, with `env` added to this process's environment. */
function checkConfig(file: string, env: NodeJS.ProcessEnv = {}) {
  return runCli(["check-config", "--config", file], { env });
}

function workdir(): string {
  const dir = tempDir("engage-masking-");
  cleanups.push(dir.remove);
  return dir.path;
}

const PAYLOAD_KEY = "DaqfT7Ys6tGqM3zbesEKpmacTJEqBCp2";
const ENV = {
  MASK_SIGNING: TEST_SECRET,
  MASK_HEADER: "header-value-5b1e77",
  MASK_ENGAGE_KEY: "engage-api-key-9d2c41",
  MASK_HUBSPOT: "pat-eu1-hubspot-token-0c6f",
  MASK_SENDGRID: "SG.sendgrid-key-3a8e52",
  MASK_ADMIN: "admin-token-e4b7a1-0123456789",
};
const SERVICE_ACCOUNT = JSON.stringify({
  type: "service_account",
  client_email: "bridge@acme-proj.iam.gserviceaccount.com",
  private_key_id: "pkid-71c2e0d9",
  private_key:
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0-not-a-real-key\n-----END PRIVATE KEY-----\n",
});

describe("check-config masks secrets by the schema", () => {
  it("prints no connector credential, source secret, admin token or ${file:} value; shows the rest", async () => {
    const dir = workdir();
    writeFileSync(join(dir, "sa.json"), `${SERVICE_ACCOUNT}\n`);
    writeFileSync(join(dir, "sheet-name.txt"), "Ledger-from-file-8c1d\n");
    writeFileSync(join(dir, "payload-key"), `${PAYLOAD_KEY}\n`);
    const file = join(dir, "engage-bridge.yaml");
    writeFileSync(
      file,
      `store: sqlite:${join(dir, "gw.db")}
sources:
  engage:
    signingSecrets: ["\${MASK_SIGNING}", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"]
    toleranceSeconds: 300
    requiredHeaders: { x-engage-token: "\${MASK_HEADER}" }
    payloadKey: "\${file:./payload-key}"
    engageApi:
      baseUrl: https://acme.voyado.com
      apiKey: "\${MASK_ENGAGE_KEY}"
connectors:
  hubspot:
    accessToken: "\${MASK_HUBSPOT}"
    baseUrl: https://api.hubapi.com
    subscriptionId: 987654
  sendgrid:
    apiKey: "\${MASK_SENDGRID}"
    groupId: 4242
  googleSheets:
    spreadsheetId: 1AbCdEfGh
    sheetName: "\${file:sheet-name.txt}"
    serviceAccount: "\${file:sa.json}"
admin:
  token: "\${MASK_ADMIN}"
`,
    );
    const { code, stdout, stderr } = await checkConfig(file, ENV);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const hidden = [
      ...Object.values(ENV),
      TEST_SECRET.slice("whsec_".length),
      "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
      PAYLOAD_KEY,
      "Ledger-from-file-8c1d",
      "bridge@acme-proj.iam.gserviceaccount.com",
      "pkid-71c2e0d9",
      "BEGIN PRIVATE KEY",
      "not-a-real-key",
    ];
    for (const value of hidden) expect(stdout, value).not.toContain(value);
    expect(stdout).toContain("whsec_****");
    // What is not secret is still shown.
    for (const shown of [
      "987654",
      "https://api.hubapi.com",
      "https://acme.voyado.com",
      "1AbCdEfGh",
      "toleranceSeconds: 300",
      "groupId: 4242",
      "x-engage-token",
    ])
      expect(stdout, shown).toContain(shown);
  });

  it("hides passwords in store URLs: userinfo, query parameters, and URLs that do not parse", async () => {
    const cases = [
      { store: "postgres://bridge:pg-userinfo-pass-61@db.internal:5432/eb", hidden: ["pg-userinfo-pass-61"] },
      {
        store: "postgres://bridge@db.internal/eb?sslmode=require&password=pg-query-pass-62",
        hidden: ["pg-query-pass-62"],
      },
      {
        store: "postgresql://bridge:pg-unparsed-pass-63@[bad/eb?password=pg-unparsed-query-64",
        hidden: ["pg-unparsed-pass-63", "pg-unparsed-query-64"],
      },
      {
        // A URL elsewhere in the config (not a secret key) with credentials in its userinfo.
        store: "sqlite:./gw.db",
        baseUrl: "https://svc-user:basic-auth-pass-65@acme.voyado.com",
        hidden: ["basic-auth-pass-65"],
      },
    ];
    const results = await Promise.all(
      cases.map(async ({ store, baseUrl }, i) => {
        const dir = workdir();
        const file = join(dir, `c${i}.json`);
        writeFileSync(
          file,
          JSON.stringify({
            store,
            sources: {
              engage: {
                signingSecrets: [TEST_SECRET],
                ...(baseUrl ? { engageApi: { baseUrl, apiKey: "engage-api-key-66" } } : {}),
              },
            },
          }),
        );
        return checkConfig(file);
      }),
    );
    results.forEach(({ code, stdout, stderr }, i) => {
      const { hidden } = cases[i] ?? { hidden: [] };
      expect(stderr, String(i)).toBe("");
      expect(code, String(i)).toBe(0);
      for (const value of hidden) expect(stdout, value).not.toContain(value);
      expect(stdout).not.toContain("engage-api-key-66");
    });
    // The rest of each URL stays readable.
    expect(results[0]?.stdout).toContain("postgres://bridge:****@db.internal:5432/eb");
    expect(results[1]?.stdout).toContain("sslmode=require");
    expect(results[1]?.stdout).toContain("bridge@db.internal/eb");
    expect(results[2]?.stdout).toContain("[bad/eb");
    expect(results[3]?.stdout).toContain("acme.voyado.com");
    expect(results[3]?.stdout).toContain("svc-user");
  });
});
