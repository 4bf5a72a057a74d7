import { isSecretJsonSchema } from "@engage-bridge/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isLoopbackHost, RESERVED_HEADERS, webhookConfigSchema } from "./config.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const URL_ = "https://erp.example.com/engage";

const parse = (input: unknown) => webhookConfigSchema.safeParse(input);
const problems = (input: unknown) => {
  const result = parse(input);
  return result.success
    ? []
    : result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
};
const paths = (input: unknown) => problems(input).map((p) => p.path);

describe("webhook config", () => {
  it("fills in the defaults: one request per event, no extra headers", () => {
    expect(webhookConfigSchema.parse({ url: URL_, secret: SECRET })).toEqual({
      url: URL_,
      secret: SECRET,
      batch: false,
    });
    expect(
      webhookConfigSchema.parse({ url: URL_, secret: SECRET, batch: true, headers: { "X-Api-Key": "k-1" } }),
    ).toEqual({ url: URL_, secret: SECRET, batch: true, headers: { "X-Api-Key": "k-1" } });
  });

  it("takes https anywhere, and plain http only for a loopback host", () => {
    for (const url of [
      "https://erp.example.com/engage?tenant=acme",
      "https://10.0.0.5:8443/hook",
      "http://127.0.0.1:4010/webhook",
      "http://127.0.0.9/x",
      "http://localhost:8080/webhook",
      "http://[::1]:9000/",
    ]) {
      expect(parse({ url, secret: SECRET }).success, url).toBe(true);
    }
    for (const url of [
      "http://erp.example.com/engage",
      "http://10.0.0.5/hook",
      "http://[::2]/",
      "http://localhost.evil.com/",
    ]) {
      expect(problems({ url, secret: SECRET }), url).toEqual([
        {
          path: "url",
          message: expect.stringMatching(/^must be https: .*plain http is accepted only for a loopback host/),
        },
      ]);
    }
    expect(problems({ url: "ftp://erp.example.com/x", secret: SECRET })).toEqual([
      { path: "url", message: "must be an https URL (not ftp:)" },
    ]);
    expect(paths({ url: "https://erp.example.com/x#part", secret: SECRET })).toEqual(["url"]);
    expect(paths({ url: "not a url", secret: SECRET })).toEqual(["url"]);
    expect(paths({ secret: SECRET })).toEqual(["url"]);
    expect(isLoopbackHost("LOCALHOST")).toBe(true);
    expect(isLoopbackHost("127.0.0.1")).toBe(true);
    expect(isLoopbackHost("128.0.0.1")).toBe(false);
  });

  it("refuses a secret that does not decode like a Svix / Standard Webhooks secret, without echoing it", () => {
    for (const secret of ["whsec_c2hvcnQ=", "whsec_not base64!", "", "hunter2hunter2"]) {
      const found = problems({ url: URL_, secret });
      expect(found, secret).toEqual([
        {
          path: "secret",
          message: expect.stringMatching(/^must be a Standard Webhooks secret: whsec_ followed by/),
        },
      ]);
      if (secret.length > 6) expect(found[0]?.message).not.toContain(secret.slice(6));
    }
    expect(problems({ url: URL_, secret: "whsec_c2hvcnQ=" })[0]?.message).toMatch(
      /this one decodes to 5 bytes; at least 24 are required/,
    );
    // The prefix is conventional: Svix's libraries take the bare base64 too.
    expect(parse({ url: URL_, secret: SECRET.slice("whsec_".length) }).success).toBe(true);
    expect(paths({ url: URL_ })).toEqual(["secret"]);
  });

  it("refuses custom headers that would replace the connector's own, in any case", () => {
    for (const name of RESERVED_HEADERS) {
      for (const spelled of [name, name.toUpperCase()]) {
        expect(problems({ url: URL_, secret: SECRET, headers: { [spelled]: "x" } }), spelled).toEqual([
          {
            path: `headers.${spelled}`,
            message: expect.stringMatching(/is set by the connector .*cannot be overridden/),
          },
        ]);
      }
    }
    expect(problems({ url: URL_, secret: SECRET, headers: { "Transfer-Encoding": "chunked" } })).toEqual([
      { path: "headers.Transfer-Encoding", message: expect.stringMatching(/connection header/) },
    ]);
    expect(problems({ url: URL_, secret: SECRET, headers: { "x-key": "a", "X-Key": "b" } })).toEqual([
      { path: "headers.X-Key", message: "is the same header as x-key (header names are case-insensitive)" },
    ]);
    // A user-agent, an authorization or svix-* headers are the operator's to set.
    expect(
      parse({
        url: URL_,
        secret: SECRET,
        headers: { "user-agent": "acme/1", authorization: "Bearer t", "svix-id": "x" },
      }).success,
    ).toBe(true);
  });

  it("refuses header names and values that cannot travel in HTTP", () => {
    expect(paths({ url: URL_, secret: SECRET, headers: { "x key": "a" } })).toEqual(["headers.x key"]);
    expect(paths({ url: URL_, secret: SECRET, headers: { "x-key": "a\r\nx-evil: 1" } })).toEqual([
      "headers.x-key",
    ]);
    expect(paths({ url: URL_, secret: SECRET, headers: { "x-key": "" } })).toEqual(["headers.x-key"]);
    expect(paths({ url: URL_, secret: SECRET, headers: { "x-key": "€" } })).toEqual(["headers.x-key"]);
    expect(parse({ url: URL_, secret: SECRET, headers: { "x-key": "a b\tc" } }).success).toBe(true);
  });

  it("refuses credentials in the URL together with an authorization header", () => {
    expect(
      problems({
        url: "https://u:p@erp.example.com/x",
        secret: SECRET,
        headers: { Authorization: "Bearer t" },
      }),
    ).toEqual([
      {
        path: "headers",
        message: expect.stringMatching(/^sets authorization while url carries credentials/),
      },
    ]);
    expect(parse({ url: "https://u:p@erp.example.com/x", secret: SECRET }).success).toBe(true);
  });

  it("refuses unknown keys and wrong types (timeouts are the gateway's: attempt timeout and abort signal)", () => {
    expect(paths({ url: URL_, secret: SECRET, timeoutMs: 5000 })).toEqual([""]);
    expect(paths({ url: URL_, secret: SECRET, batch: "yes" })).toEqual(["batch"]);
    expect(paths({ url: URL_, secret: SECRET, headers: ["x"] })).toEqual(["headers"]);
  });

  it("converts to JSON Schema with a description on every key, the secret and header values marked secret", () => {
    const schema = z.toJSONSchema(webhookConfigSchema, { io: "input", unrepresentable: "any" }) as {
      description?: string;
      properties: Record<string, { description?: string; additionalProperties?: unknown }>;
      required: string[];
    };
    expect(Object.keys(schema.properties).sort()).toEqual(["batch", "headers", "secret", "url"]);
    expect(schema.required).toEqual(["url", "secret"]);
    expect(schema.description).toMatch(/Standard Webhooks/);
    for (const [key, node] of Object.entries(schema.properties)) expect(node.description, key).toBeTruthy();
    expect(isSecretJsonSchema(schema.properties.secret)).toBe(true);
    expect(isSecretJsonSchema(schema.properties.headers?.additionalProperties)).toBe(true);
    expect(isSecretJsonSchema(schema.properties.url)).toBe(false);
  });
});
