import { describe, expect, it } from "vitest";
import { lowerKeys } from "./tolerant.ts";

describe("lowerKeys", () => {
  it("copies an object with its keys lower-cased, the first of two case variants winning", () => {
    const copy = lowerKeys({ ContactId: "a", contactid: "b", Value: false, nested: { Keep: 1 } });
    expect(copy).toEqual({ contactid: "a", value: false, nested: { Keep: 1 } });
    expect(Object.keys(copy ?? {})).toEqual(["contactid", "value", "nested"]);
  });

  it("gives undefined for anything but a plain object", () => {
    for (const value of [null, undefined, "text", 1, true, ["a"]]) expect(lowerKeys(value)).toBeUndefined();
  });

  it("inherits nothing: Object.prototype's members are not there, and data keys named like them are data", () => {
    const copy = lowerKeys({ A: 1 }) as Record<string, unknown>;
    for (const member of ["toString", "constructor", "hasOwnProperty", "valueOf", "__proto__"])
      expect(copy[member]).toBeUndefined();
    const named = lowerKeys({ Constructor: "c", toString: "t", HasOwnProperty: "h" }) as Record<
      string,
      unknown
    >;
    expect(named.constructor).toBe("c");
    expect(named.tostring).toBe("t");
    expect(Object.hasOwn(named, "hasownproperty")).toBe(true);
  });

  it("keeps a `__proto__` key as data and never changes a prototype", () => {
    const copy = lowerKeys(JSON.parse('{"__proto__": {"polluted": true}, "A": 1}')) as Record<
      string,
      unknown
    >;
    expect(Object.hasOwn(copy, "__proto__")).toBe(true);
    expect(copy.__proto__).toEqual({ polluted: true });
    expect(copy.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(copy)).toEqual(["__proto__", "a"]);
  });
});
