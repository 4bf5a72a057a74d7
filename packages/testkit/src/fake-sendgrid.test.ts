import { afterEach, describe, expect, it } from "vitest";
import {
  type FakeSendGrid,
  type FakeSendGridOptions,
  type FakeSendGridUnknownGroup,
  startFakeSendGrid,
} from "./fake-sendgrid.ts";

/**
 * The fake against the published spec (`twilio/sendgrid-oai` `spec/json/tsg_suppressions_v3.json`):
 * the documented statuses and bodies, and each of the answers it can give where SendGrid documents
 * none (a malformed address, an unknown group).
 */

const fakes: FakeSendGrid[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close();
});

async function fake(options: FakeSendGridOptions = {}) {
  const f = await startFakeSendGrid(options);
  fakes.push(f);
  return f;
}

async function call(f: FakeSendGrid, method: string, path: string, body?: unknown) {
  const res = await fetch(`${f.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${f.apiKey}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

const GLOBAL = "/v3/asm/suppressions/global";

describe("fake SendGrid: documented answers", () => {
  it("global suppressions: POST 201 echo, GET {recipient_email} or {}, DELETE 204 listed or not", async () => {
    const sg = await fake();
    expect(await call(sg, "POST", GLOBAL, { recipient_emails: ["A@example.com", "b@example.com"] })).toEqual({
      status: 201,
      body: { recipient_emails: ["A@example.com", "b@example.com"] },
    });
    expect([...sg.globalSuppressions]).toEqual(["a@example.com", "b@example.com"]);
    expect(await call(sg, "GET", `${GLOBAL}/a%40example.com`)).toEqual({
      status: 200,
      body: { recipient_email: "a@example.com" },
    });
    // Any address not listed, well-formed or not, answers `{}`.
    expect(await call(sg, "GET", `${GLOBAL}/nobody%40example.com`)).toEqual({ status: 200, body: {} });
    expect(await call(sg, "GET", `${GLOBAL}/not-an-address`)).toEqual({ status: 200, body: {} });
    expect(await call(sg, "DELETE", `${GLOBAL}/a%40example.com`)).toEqual({ status: 204, body: undefined });
    expect(await call(sg, "DELETE", `${GLOBAL}/a%40example.com`)).toEqual({ status: 204, body: undefined });
    expect([...sg.globalSuppressions]).toEqual(["b@example.com"]);
  });

  it("groups: GET 200 with the group's id, POST 201 echo, list, search, DELETE 204; an unknown group's POST lands on the global list", async () => {
    const sg = await fake({ groups: [4242] });
    expect(await call(sg, "GET", "/v3/asm/groups/4242")).toEqual({
      status: 200,
      body: {
        id: 4242,
        name: "Group 4242",
        description: "Unsubscribe group of the fake SendGrid",
        is_default: false,
        unsubscribes: 0,
      },
    });
    const base = "/v3/asm/groups/4242/suppressions";
    expect(await call(sg, "POST", base, { recipient_emails: ["a@example.com", "b@example.com"] })).toEqual({
      status: 201,
      body: { recipient_emails: ["a@example.com", "b@example.com"] },
    });
    expect(await call(sg, "GET", base)).toEqual({ status: 200, body: ["a@example.com", "b@example.com"] });
    expect(
      await call(sg, "POST", `${base}/search`, { recipient_emails: ["B@example.com", "c@example.com"] }),
    ).toEqual({ status: 200, body: ["b@example.com"] });
    expect(await call(sg, "DELETE", `${base}/a%40example.com`)).toEqual({ status: 204, body: undefined });
    expect([...sg.groupList(4242)]).toEqual(["b@example.com"]);

    expect(
      (await call(sg, "POST", "/v3/asm/groups/7/suppressions", { recipient_emails: ["x@example.com"] }))
        .status,
    ).toBe(201);
    expect([...sg.globalSuppressions]).toEqual(["x@example.com"]);
    expect(sg.groupSuppressions.has(7)).toBe(false);
  });

  it("errors carry {errors:[{field, message}]}; an injected answer can carry any body", async () => {
    const sg = await fake();
    const noAuth = await fetch(`${sg.url}${GLOBAL}`, { method: "POST", body: "{}" });
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toEqual({ errors: [{ field: null, message: "authorization required" }] });
    expect(await call(sg, "POST", GLOBAL, { recipient_emails: [] })).toEqual({
      status: 400,
      body: {
        errors: [
          {
            field: "recipient_emails",
            message: "recipient_emails is required and must be a non-empty array",
          },
        ],
      },
    });
    sg.failNext(1, { status: 201, body: { recipient_emails: [] } });
    expect(await call(sg, "POST", GLOBAL, { recipient_emails: ["a@example.com"] })).toEqual({
      status: 201,
      body: { recipient_emails: [] },
    });
    sg.failNext(1, { status: 201, body: "" });
    expect(await call(sg, "POST", GLOBAL, { recipient_emails: ["a@example.com"] })).toEqual({
      status: 201,
      body: undefined,
    });
    // Injected answers store nothing, and the log still shows what was sent.
    expect(sg.globalSuppressions.size).toBe(0);
    expect(sg.requests.slice(-2).map((r) => r.emails)).toEqual([["a@example.com"], ["a@example.com"]]);
  });
});

describe("fake SendGrid: each plausible answer where SendGrid documents none", () => {
  const sent = ["a@example.com", "user@localhost", "b@example.com"];

  it("invalidAddress reject: 400 for the whole request, nothing stored", async () => {
    const sg = await fake();
    expect(await call(sg, "POST", GLOBAL, { recipient_emails: sent })).toEqual({
      status: 400,
      body: {
        errors: [{ field: "recipient_emails", message: "user@localhost is not a valid email address" }],
      },
    });
    expect(sg.globalSuppressions.size).toBe(0);
  });

  it("invalidAddress omit: 201, the malformed address neither stored nor echoed (global and group, and left out of a search)", async () => {
    const sg = await fake({ invalidAddress: "omit", groups: [4242] });
    const echo = { status: 201, body: { recipient_emails: ["a@example.com", "b@example.com"] } };
    expect(await call(sg, "POST", GLOBAL, { recipient_emails: sent })).toEqual(echo);
    expect(await call(sg, "POST", "/v3/asm/groups/4242/suppressions", { recipient_emails: sent })).toEqual(
      echo,
    );
    expect([...sg.globalSuppressions]).toEqual(["a@example.com", "b@example.com"]);
    expect([...sg.groupList(4242)]).toEqual(["a@example.com", "b@example.com"]);
    expect(
      await call(sg, "POST", "/v3/asm/groups/4242/suppressions/search", { recipient_emails: sent }),
    ).toEqual({
      status: 200,
      body: ["a@example.com", "b@example.com"],
    });
  });

  it("invalidAddress omit-all: 201 with an empty echo, nothing stored", async () => {
    const sg = await fake({ invalidAddress: "omit-all" });
    expect(await call(sg, "POST", GLOBAL, { recipient_emails: sent })).toEqual({
      status: 201,
      body: { recipient_emails: [] },
    });
    expect(sg.globalSuppressions.size).toBe(0);
    // Without a malformed address, the documented answer.
    expect((await call(sg, "POST", GLOBAL, { recipient_emails: ["a@example.com"] })).body).toEqual({
      recipient_emails: ["a@example.com"],
    });
  });

  it("unknownGroup: 404, 400, or a 200 that does not show the group's id", async () => {
    const sg = await fake({ groups: [4242] });
    const answers: Record<FakeSendGridUnknownGroup, { status: number; body: unknown }> = {
      "not-found": { status: 404, body: { errors: [{ field: null, message: "Group not found" }] } },
      "bad-request": {
        status: 400,
        body: { errors: [{ field: "group_id", message: "group 7 is not a valid group id" }] },
      },
      empty: { status: 200, body: {} },
      "other-group": {
        status: 200,
        body: { id: 0, name: "Default", description: "The account's default group", is_default: true },
      },
      list: {
        status: 200,
        body: [
          {
            id: 4242,
            name: "Group 4242",
            description: "Unsubscribe group of the fake SendGrid",
            is_default: false,
            unsubscribes: 0,
          },
        ],
      },
    };
    for (const [unknownGroup, answer] of Object.entries(answers)) {
      sg.unknownGroup = unknownGroup as FakeSendGridUnknownGroup;
      expect(await call(sg, "GET", "/v3/asm/groups/7")).toEqual(answer);
      expect((await call(sg, "GET", "/v3/asm/groups/4242")).body).toMatchObject({ id: 4242 });
    }
  });
});
