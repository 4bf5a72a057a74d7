import { describe, expect, it } from "vitest";
import { mapContact, toBoolean } from "./map.ts";

describe("mapContact", () => {
  it("reads attributes and preferences as documented", () => {
    const body = {
      id: "c1",
      attributes: { email: "a@example.com", mobilePhone: "+4670" },
      preferences: { acceptsEmail: true, acceptsSms: false, acceptsPostal: true },
    };
    expect(mapContact("c1", body)).toEqual({
      id: "c1",
      email: "a@example.com",
      mobilePhone: "+4670",
      preferences: { acceptsEmail: true, acceptsSms: false, acceptsPostal: true },
      raw: body,
    });
  });

  it("accepts preferences under attributes, string booleans and PascalCase keys", () => {
    const contact = mapContact("c2", {
      Id: "c2",
      Attributes: { Email: " b@example.com ", MobilePhone: "", AcceptsEmail: "TRUE", acceptsSms: "false" },
      Preferences: { acceptsPostal: "true" },
    });
    expect(contact).toMatchObject({
      id: "c2",
      email: "b@example.com",
      mobilePhone: undefined,
      preferences: { acceptsEmail: true, acceptsSms: false, acceptsPostal: true },
    });
  });

  it("prefers preferences over attributes and falls back to top-level fields", () => {
    const contact = mapContact("c3", {
      email: "top@example.com",
      mobilePhone: "+4671",
      attributes: { email: null, acceptsEmail: true },
      preferences: { acceptsEmail: false, acceptsSms: null },
    });
    expect(contact).toMatchObject({
      id: "c3",
      email: "top@example.com",
      mobilePhone: "+4671",
      preferences: { acceptsEmail: false, acceptsSms: undefined, acceptsPostal: undefined },
    });
  });

  it("never guesses: junk becomes undefined and the requested id is kept", () => {
    const body = { attributes: "nope", preferences: [true], email: 42 };
    expect(mapContact("c4", body)).toEqual({
      id: "c4",
      email: undefined,
      mobilePhone: undefined,
      preferences: { acceptsEmail: undefined, acceptsSms: undefined, acceptsPostal: undefined },
      raw: body,
    });
  });

  it("reads booleans tolerantly but strictly", () => {
    expect([true, false, "true", " False ", "yes", 1, 0, null, undefined].map(toBoolean)).toEqual([
      true,
      false,
      true,
      false,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
