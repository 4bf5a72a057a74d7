import { describe, expect, it } from "vitest";
import { z } from "zod";
import { sendgridConfigSchema } from "./config.ts";

const parse = (input: unknown) => sendgridConfigSchema.safeParse(input);
const problems = (input: unknown) => {
  const result = parse(input);
  return result.success ? [] : result.error.issues.map((i) => i.path.join("."));
};

describe("sendgrid config", () => {
  it("fills in the contract's defaults", () => {
    expect(sendgridConfigSchema.parse({ apiKey: "SG.key" })).toEqual({
      apiKey: "SG.key",
      baseUrl: "https://api.sendgrid.com",
    });
  });

  it("takes groupId as a number or a string of digits", () => {
    expect(sendgridConfigSchema.parse({ apiKey: "SG.key", groupId: 4242 }).groupId).toBe(4242);
    expect(sendgridConfigSchema.parse({ apiKey: "SG.key", groupId: "4242" }).groupId).toBe(4242);
    expect(problems({ apiKey: "SG.key", groupId: 0 })).toEqual(["groupId"]);
    expect(problems({ apiKey: "SG.key", groupId: "0" })).toEqual(["groupId"]);
    expect(problems({ apiKey: "SG.key", groupId: 1.5 })).toEqual(["groupId"]);
    expect(problems({ apiKey: "SG.key", groupId: "12a" })).toEqual(["groupId"]);
  });

  it("refuses unknown keys, a missing or unusable key, and non-http base URLs", () => {
    expect(problems({ apiKey: "SG.key", group: 1 })).toEqual([""]);
    expect(problems({})).toEqual(["apiKey"]);
    expect(problems({ apiKey: "" })).toEqual(["apiKey"]);
    expect(problems({ apiKey: "SG.a key" })).toEqual(["apiKey"]);
    expect(problems({ apiKey: "SG.key", baseUrl: "ftp://api.sendgrid.com" })).toEqual(["baseUrl"]);
    expect(problems({ apiKey: "SG.key", baseUrl: "https://api.sendgrid.com/?x=1" })).toEqual(["baseUrl"]);
    expect(problems({ apiKey: "SG.key", baseUrl: "not a url" })).toEqual(["baseUrl"]);
    expect(parse({ apiKey: "SG.key", baseUrl: "http://127.0.0.1:4010" }).success).toBe(true);
  });

  it("converts to JSON Schema for the gateway's config schema", () => {
    const schema = z.toJSONSchema(sendgridConfigSchema, { io: "input", unrepresentable: "any" }) as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(schema.properties).sort()).toEqual(["apiKey", "baseUrl", "groupId"]);
    expect(schema.required).toEqual(["apiKey"]);
  });
});
