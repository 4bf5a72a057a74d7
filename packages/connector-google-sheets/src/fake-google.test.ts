import { createSign } from "node:crypto";
import { createServiceAccount, type FakeGoogle, startFakeGoogle } from "@engage-bridge/testkit";
import { JWT } from "google-auth-library";
import { afterEach, describe, expect, it } from "vitest";
import { createSheetsClient } from "./client.ts";
import { googleSheetsConfigSchema } from "./config.ts";

/** The testkit's fake Google, checked through the official SDK and raw HTTP. */

const fakes: FakeGoogle[] = [];
afterEach(async () => {
  for (const fake of fakes.splice(0)) await fake.close();
});

async function setup() {
  const fake = await startFakeGoogle();
  fakes.push(fake);
  const input = fake.connectorConfig({ spreadsheetId: "1Sheet", sheetName: "Loyalty" });
  const config = googleSheetsConfigSchema.parse(input);
  const key = JSON.parse(input.serviceAccount) as { client_email: string; private_key: string };
  const client = createSheetsClient(config, {
    clientEmail: key.client_email,
    privateKey: key.private_key,
    privateKeyId: undefined,
  });
  return { fake, config, key, api: client.api };
}

function assertion(claims: Record<string, unknown>, privateKey: string): string {
  const encode = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const unsigned = `${encode({ alg: "RS256", typ: "JWT" })}.${encode(claims)}`;
  const signature = createSign("RSA-SHA256").update(unsigned).sign(privateKey).toString("base64url");
  return `${unsigned}.${signature}`;
}

async function exchange(fake: FakeGoogle, jwt: string) {
  const res = await fetch(fake.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: jwt }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const now = () => Math.floor(Date.now() / 1000);
const scope = "https://www.googleapis.com/auth/spreadsheets";

describe("fake Google token endpoint", () => {
  it("issues a token for an assertion signed with the registered key, and only then", async () => {
    const { fake, key } = await setup();
    const claims = { iss: key.client_email, scope, aud: fake.tokenUrl, iat: now(), exp: now() + 3600 };
    const ok = await exchange(fake, assertion(claims, key.private_key));
    expect(ok).toMatchObject({ status: 200, body: { token_type: "Bearer", expires_in: 3599 } });
    expect(String(ok.body.access_token)).toMatch(/^ya29\./);

    const impostor = createServiceAccount();
    const forged = await exchange(fake, assertion(claims, impostor.key.private_key));
    expect(forged).toEqual({
      status: 400,
      body: { error: "invalid_grant", error_description: "Invalid JWT Signature." },
    });
    const expired = await exchange(
      fake,
      assertion({ ...claims, iat: now() - 7200, exp: now() - 3600 }, key.private_key),
    );
    expect(expired.body.error).toBe("invalid_grant");
    const wrongAudience = await exchange(
      fake,
      assertion({ ...claims, aud: "https://example.com/token" }, key.private_key),
    );
    expect(wrongAudience.body.error_description).toBe("Invalid JWT: Failed audience check.");
    const noScope = await exchange(fake, assertion({ ...claims, scope: "email" }, key.private_key));
    expect(noScope).toMatchObject({ status: 400, body: { error: "invalid_scope" } });
  });

  it("accepts the google-auth-library JWT client's own assertion (aud oauth2.googleapis.com)", async () => {
    const { fake, key } = await setup();
    const jwt = new JWT({ email: key.client_email, key: key.private_key, scopes: [scope] });
    jwt.transporter.interceptors.request.add({
      resolved: async (options) => {
        options.url = new URL(fake.tokenUrl);
        return options;
      },
    });
    const { token } = await jwt.getAccessToken();
    expect(token).toMatch(/^ya29\./);
  });
});

describe("fake Google Sheets values API", () => {
  it("appends with Google's answer shape and reads back ROWS or COLUMNS", async () => {
    const { fake, api } = await setup();
    const append = (values: unknown[][]) =>
      api.spreadsheets.values.append({
        spreadsheetId: "1Sheet",
        range: "Loyalty!A1",
        valueInputOption: "RAW",
        insertDataOption: "INSERT_ROWS",
        requestBody: { values },
      });
    const first = await append([["a", 1, "x"]]);
    expect(first.data).toEqual({
      spreadsheetId: "1Sheet",
      updates: {
        spreadsheetId: "1Sheet",
        updatedRange: "Loyalty!A1:C1",
        updatedRows: 1,
        updatedColumns: 3,
        updatedCells: 3,
      },
    });
    const second = await append([
      ["b", 2, "y"],
      ["c", 3, "z"],
    ]);
    expect(second.data).toMatchObject({
      tableRange: "Loyalty!A1:C1",
      updates: { updatedRange: "Loyalty!A2:C3", updatedRows: 2 },
    });
    const rows = await api.spreadsheets.values.get({ spreadsheetId: "1Sheet", range: "Loyalty!A2:C" });
    expect(rows.data).toEqual({
      // INSERT_ROWS inserted 3 rows into the 1000-row grid.
      range: "Loyalty!A2:C1003",
      majorDimension: "ROWS",
      values: [
        ["b", "2", "y"],
        ["c", "3", "z"],
      ],
    });
    const column = await api.spreadsheets.values.get({
      spreadsheetId: "1Sheet",
      range: "'Loyalty'!C1:C",
      majorDimension: "COLUMNS",
    });
    expect(column.data.values).toEqual([["x", "y", "z"]]);
    const empty = await api.spreadsheets.values.get({ spreadsheetId: "1Sheet", range: "Loyalty!A10:C12" });
    expect(empty.data).toEqual({ range: "Loyalty!A10:C12", majorDimension: "ROWS" });
    expect(fake.rows("1Sheet")).toEqual([
      ["a", 1, "x"],
      ["b", 2, "y"],
      ["c", 3, "z"],
    ]);
  });

  it("turns =… into a formula with USER_ENTERED but keeps it as text with RAW", async () => {
    const { fake, api } = await setup();
    for (const valueInputOption of ["USER_ENTERED", "RAW"]) {
      await api.spreadsheets.values.append({
        spreadsheetId: "1Sheet",
        range: "Loyalty!A1",
        valueInputOption,
        requestBody: { values: [['=HYPERLINK("x")']] },
      });
    }
    expect(fake.rows("1Sheet")).toEqual([[{ formula: '=HYPERLINK("x")' }], ['=HYPERLINK("x")']]);
  });

  it("parses =, + and - as the UI would with USER_ENTERED, and stores every text as is with RAW", async () => {
    const { fake, api } = await setup();
    const texts = ["=1+1", '=HYPERLINK("http://x","y")', "+1", "-1", "+A1", "-SUM(A1:A2)", "@x", "TRUE"];
    for (const valueInputOption of ["USER_ENTERED", "RAW"]) {
      await api.spreadsheets.values.append({
        spreadsheetId: "1Sheet",
        range: "Loyalty!A1",
        valueInputOption,
        requestBody: { values: [texts] },
      });
    }
    expect(fake.rows("1Sheet")).toEqual([
      [
        { formula: "=1+1" },
        { formula: '=HYPERLINK("http://x","y")' },
        1,
        -1,
        { formula: "=+A1" },
        { formula: "=-SUM(A1:A2)" },
        "@x",
        true,
      ],
      texts,
    ]);
  });

  it("answers Google's errors: 401, 403, 404 and 400", async () => {
    const { fake, api, key } = await setup();
    const raw = (path: string, init: RequestInit = {}) =>
      fetch(`${fake.url}${path}`, init).then(async (r) => ({
        status: r.status,
        body: await r.json(),
        headers: r.headers,
      }));
    expect(await raw("/v4/spreadsheets/1Sheet/values/Loyalty!A1")).toMatchObject({
      status: 401,
      body: { error: { code: 401, status: "UNAUTHENTICATED" } },
    });
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: { response?: { status: number; data: unknown; headers: Headers } }) => e.response,
      );
    const missing = await failure(api.spreadsheets.values.get({ spreadsheetId: "nope", range: "A1" }));
    expect(missing?.status).toBe(404);
    expect(missing?.data).toEqual({
      error: { code: 404, message: "Requested entity was not found.", status: "NOT_FOUND" },
    });
    const badRange = await failure(
      api.spreadsheets.values.get({ spreadsheetId: "1Sheet", range: "Nope!A1" }),
    );
    expect(badRange?.data).toEqual({
      error: { code: 400, message: "Unable to parse range: Nope!A1", status: "INVALID_ARGUMENT" },
    });
    const tooLong = await failure(
      api.spreadsheets.values.append({
        spreadsheetId: "1Sheet",
        range: "Loyalty!A1",
        valueInputOption: "RAW",
        requestBody: { values: [["x".repeat(50_001)]] },
      }),
    );
    expect(tooLong?.status).toBe(400);
    fake.share("1Sheet", key.client_email, false);
    const forbidden = await failure(
      api.spreadsheets.values.get({ spreadsheetId: "1Sheet", range: "Loyalty!A1" }),
    );
    expect(forbidden?.data).toEqual({
      error: { code: 403, message: "The caller does not have permission", status: "PERMISSION_DENIED" },
    });
  });

  it("answers 429 RESOURCE_EXHAUSTED over the per-user write quota, without Retry-After", async () => {
    const { fake, api } = await setup();
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: { response?: { status: number; data: unknown; headers: Headers } }) => e.response,
      );
    fake.writeQuota = { requests: 2, perSeconds: 60 };
    const write = () =>
      failure(
        api.spreadsheets.values.append(
          {
            spreadsheetId: "1Sheet",
            range: "Loyalty!A1",
            valueInputOption: "RAW",
            requestBody: { values: [["r"]] },
          },
          { retry: false },
        ),
      );
    expect(await write()).toBeUndefined();
    expect(await write()).toBeUndefined();
    const limited = await write();
    expect(limited?.status).toBe(429);
    expect(limited?.data).toMatchObject({
      error: {
        code: 429,
        status: "RESOURCE_EXHAUSTED",
        message: expect.stringMatching(/Write requests per minute per user/),
      },
    });
    expect(limited?.headers.get("retry-after")).toBeNull();
    expect(fake.rows("1Sheet")).toHaveLength(2);
    // Reads have their own quota.
    expect(
      await failure(api.spreadsheets.values.get({ spreadsheetId: "1Sheet", range: "Loyalty!A1" })),
    ).toBeUndefined();
  });

  it("applies and then drops the connection, or drops before applying", async () => {
    const { fake, api } = await setup();
    const append = () =>
      api.spreadsheets.values.append(
        {
          spreadsheetId: "1Sheet",
          range: "Loyalty!A1",
          valueInputOption: "RAW",
          requestBody: { values: [["r"]] },
        },
        { retry: false },
      );
    fake.dropAfterApply(1);
    await expect(append()).rejects.toMatchObject({ code: "ECONNRESET" });
    fake.failNext(1, { drop: true });
    await expect(append()).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(fake.rows("1Sheet")).toEqual([["r"]]);
    const log = fake.requests.filter((r) => r.operation === "append");
    expect(log.map((r) => [r.status, r.dropped, r.applied])).toEqual([
      [0, true, true],
      [0, true, false],
    ]);
    expect(log[0]?.rows).toBe(1);
    expect(log.every((r) => r.answeredAt >= r.at)).toBe(true);
  });

  // Behaviours the Sheets v4 discovery document states (googleapis/google-api-nodejs-client
  // src/apis/sheets/v4.ts; the connector's @googleapis/sheets build/v4.d.ts carries the same text).
  describe("as the Sheets v4 spec says", () => {
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: { response?: { status: number; data: unknown } }) => e.response,
      );

    it("InsertDataOption: INSERT_ROWS inserts rows (the grid grows), OVERWRITE writes into it", async () => {
      const { api } = await setup();
      const append = (insertDataOption: string) =>
        api.spreadsheets.values.append({
          spreadsheetId: "1Sheet",
          range: "Loyalty!A1",
          valueInputOption: "RAW",
          insertDataOption,
          requestBody: { values: [["r"], ["s"]] },
        });
      const whole = async () =>
        (await api.spreadsheets.values.get({ spreadsheetId: "1Sheet", range: "Loyalty!A1:A" })).data.range;
      await append("OVERWRITE");
      expect(await whole()).toBe("Loyalty!A1:A1000");
      await append("INSERT_ROWS");
      expect(await whole()).toBe("Loyalty!A1:A1002");
    });

    it("ValueRange: null values are skipped (not counted as updated), COLUMNS input is transposed", async () => {
      const { fake, api } = await setup();
      const skipped = await api.spreadsheets.values.append({
        spreadsheetId: "1Sheet",
        range: "Loyalty!A1",
        valueInputOption: "RAW",
        requestBody: {
          values: [
            ["a", null, "c"],
            [null, null],
          ],
        },
      });
      // UpdateValuesResponse counts "rows/columns where at least one cell … was updated".
      expect(skipped.data.updates).toEqual({
        spreadsheetId: "1Sheet",
        updatedRange: "Loyalty!A1:C2",
        updatedRows: 1,
        updatedColumns: 2,
        updatedCells: 2,
      });
      const columns = await api.spreadsheets.values.append({
        spreadsheetId: "1Sheet",
        range: "Loyalty!A1",
        valueInputOption: "RAW",
        requestBody: {
          majorDimension: "COLUMNS",
          values: [
            ["x1", "x2"],
            ["y1", "y2"],
          ],
        },
      });
      expect(columns.data.updates).toMatchObject({ updatedRange: "Loyalty!A2:B3", updatedRows: 2 });
      expect(fake.rows("1Sheet")).toEqual([
        ["a", "", "c"],
        ["x1", "y1"],
        ["x2", "y2"],
      ]);
    });

    it("append: updatedData only with includeValuesInResponse, rendered per responseValueRenderOption", async () => {
      const { api } = await setup();
      const append = (extra: Record<string, unknown>) =>
        api.spreadsheets.values.append({
          spreadsheetId: "1Sheet",
          range: "Loyalty!A1",
          valueInputOption: "RAW",
          requestBody: { values: [["a", 2]] },
          ...extra,
        });
      expect((await append({})).data.updates?.updatedData).toBeUndefined();
      const formatted = await append({ includeValuesInResponse: true });
      expect(formatted.data.updates?.updatedData).toEqual({
        range: "Loyalty!A2:B2",
        majorDimension: "ROWS",
        values: [["a", "2"]],
      });
      const raw = await append({
        includeValuesInResponse: true,
        responseValueRenderOption: "UNFORMATTED_VALUE",
      });
      expect(raw.data.updates?.updatedData?.values).toEqual([["a", 2]]);
    });

    it("values.get: enums are checked, and empty trailing rows and columns are left out", async () => {
      const { api } = await setup();
      await api.spreadsheets.values.append({
        spreadsheetId: "1Sheet",
        range: "Loyalty!A1",
        valueInputOption: "RAW",
        requestBody: { values: [["a", "", "c", ""], ["", ""], []] },
      });
      const columns = await api.spreadsheets.values.get({
        spreadsheetId: "1Sheet",
        range: "Loyalty!A1:D",
        majorDimension: "COLUMNS",
      });
      expect(columns.data.values).toEqual([["a"], [], ["c"]]);
      const rows = await api.spreadsheets.values.get({ spreadsheetId: "1Sheet", range: "Loyalty!A1:D" });
      expect(rows.data.values).toEqual([["a", "", "c"]]);
      const bad = await failure(
        api.spreadsheets.values.get({
          spreadsheetId: "1Sheet",
          range: "Loyalty!A1",
          majorDimension: "DIAGONAL",
        }),
      );
      expect(bad).toMatchObject({ status: 400, data: { error: { code: 400, status: "INVALID_ARGUMENT" } } });
      const badRender = await failure(
        api.spreadsheets.values.get({
          spreadsheetId: "1Sheet",
          range: "Loyalty!A1",
          valueRenderOption: "PRETTY",
        }),
      );
      expect(badRender?.status).toBe(400);
    });

    it("errors carry the google.rpc.Code name of their status, also injected ones", async () => {
      const { fake, api } = await setup();
      const statuses: Record<number, string> = {
        500: "INTERNAL",
        503: "UNAVAILABLE",
        504: "DEADLINE_EXCEEDED",
        429: "RESOURCE_EXHAUSTED",
      };
      for (const [code, status] of Object.entries(statuses)) {
        fake.failNext(1, { status: Number(code) }, "get");
        const answer = await failure(
          api.spreadsheets.values.get({ spreadsheetId: "1Sheet", range: "Loyalty!A1" }, { retry: false }),
        );
        expect(answer).toMatchObject({
          status: Number(code),
          data: { error: { code: Number(code), status } },
        });
      }
      fake.failNext(1, { status: 503 }, "token");
      const token = await fetch(fake.tokenUrl, { method: "POST" });
      expect(token.status).toBe(503);
      expect(await token.json()).toMatchObject({ error: expect.any(String) });
    });

    it("values.update sets the cells of its range, skips nulls, and answers UpdateValuesResponse", async () => {
      const { fake, api } = await setup();
      fake.setRows("1Sheet", "Loyalty", [
        ["a", "b"],
        ["1", "2"],
      ]);
      const answer = await api.spreadsheets.values.update({
        spreadsheetId: "1Sheet",
        range: "'Loyalty'!C1:E1",
        valueInputOption: "RAW",
        requestBody: { majorDimension: "ROWS", values: [["=c", null, "e"]] },
      });
      expect(answer.data).toEqual({
        spreadsheetId: "1Sheet",
        updatedRange: "Loyalty!C1:E1",
        updatedRows: 1,
        updatedColumns: 3,
        updatedCells: 2,
      });
      expect(fake.rows("1Sheet")).toEqual([
        ["a", "b", "=c", "", "e"],
        ["1", "2"],
      ]);
      // USER_ENTERED parses like append; updatedData on request; a cell can be overwritten.
      const entered = await api.spreadsheets.values.update({
        spreadsheetId: "1Sheet",
        range: "Loyalty!B2",
        valueInputOption: "USER_ENTERED",
        includeValuesInResponse: true,
        responseValueRenderOption: "FORMULA",
        requestBody: { values: [["=1+1"]] },
      });
      expect(entered.data.updatedData).toEqual({
        range: "Loyalty!B2:B2",
        majorDimension: "ROWS",
        values: [["=1+1"]],
      });
      expect(fake.rows("1Sheet")[1]).toEqual(["1", { formula: "=1+1" }]);
      const log = fake.requests.filter((r) => r.operation === "update");
      expect(log.map((r) => [r.method, r.range, r.status])).toEqual([
        ["PUT", "'Loyalty'!C1:E1", 200],
        ["PUT", "Loyalty!B2", 200],
      ]);
    });

    it("values.update: valueInputOption is required, values must fit the range, writes count against the quota", async () => {
      const { fake, api } = await setup();
      const update = (params: Record<string, unknown>) =>
        failure(
          api.spreadsheets.values.update(
            { spreadsheetId: "1Sheet", range: "Loyalty!A1:B1", ...params },
            { retry: false },
          ),
        );
      expect(await update({ requestBody: { values: [["x"]] } })).toMatchObject({
        status: 400,
        data: {
          error: { status: "INVALID_ARGUMENT", message: "'valueInputOption' is required but not specified" },
        },
      });
      expect(
        await update({ valueInputOption: "RAW", requestBody: { values: [["x", "y", "z"]] } }),
      ).toMatchObject({
        status: 400,
        data: {
          error: {
            status: "INVALID_ARGUMENT",
            message: "Requested writing within range [Loyalty!A1:B1], but tried writing to column [C]",
          },
        },
      });
      expect(
        await update({ valueInputOption: "RAW", requestBody: { range: "Loyalty!A2:B2", values: [["x"]] } }),
      ).toMatchObject({ status: 400, data: { error: { status: "INVALID_ARGUMENT" } } });
      expect(
        await update({ range: "Nope!A1", valueInputOption: "RAW", requestBody: { values: [["x"]] } }),
      ).toMatchObject({ status: 400, data: { error: { message: "Unable to parse range: Nope!A1" } } });
      expect(fake.rows("1Sheet")).toEqual([]);
      fake.writeQuota = { requests: 0, perSeconds: 60 };
      expect(await update({ valueInputOption: "RAW", requestBody: { values: [["x"]] } })).toMatchObject({
        status: 429,
        data: { error: { status: "RESOURCE_EXHAUSTED" } },
      });
    });

    it("401 without a token carries a Bearer challenge (RFC 6750 §3)", async () => {
      const { fake } = await setup();
      const res = await fetch(`${fake.url}/v4/spreadsheets/1Sheet/values/Loyalty!A1`);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
      expect(res.headers.get("www-authenticate")).not.toMatch(/error=/);
    });
  });
});
