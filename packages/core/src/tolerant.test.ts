import fc from "fast-check";
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import type { AddPointsData, PreferenceData } from "./events-core.ts";
import {
  lowerKeys,
  optionalOf,
  tolerantBoolean,
  tolerantDate,
  tolerantId,
  tolerantNumber,
  tolerantString,
} from "./tolerant.ts";

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
    expect(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value).toEqual({ polluted: true });
    expect(copy.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(copy)).toEqual(["__proto__", "a"]);
  });
});

/**
 * The tolerant schemas were zod unions (one schema per accepted form) until they became one reader
 * each, for speed. These are those unions, kept as the reference the readers must agree with.
 */
const NUMERIC = /^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/;
const TRUE = new Set(["true", "1", "yes", "y"]);
const FALSE = new Set(["false", "0", "no", "n"]);
const asUnions = (() => {
  const number = z.union([z.number(), z.string().regex(NUMERIC).transform(Number)]);
  const string = z.union([z.string(), z.number().transform(String)]);
  const id = string.pipe(z.string().trim().min(1));
  const word = (s: string) => s.trim().toLowerCase();
  const boolean = z.union([
    z.boolean(),
    z
      .number()
      .refine((n) => n === 0 || n === 1)
      .transform((n) => n === 1),
    z
      .string()
      .refine((s) => TRUE.has(word(s)) || FALSE.has(word(s)))
      .transform((s) => TRUE.has(word(s))),
  ]);
  const date = z.union([
    z
      .string()
      .refine((s) => !Number.isNaN(Date.parse(s)))
      .transform((s) => new Date(s)),
    z
      .number()
      .positive()
      .transform((n) => new Date(n > 1e12 ? n : n * 1000)),
  ]);
  const optional = <T extends z.ZodType>(schema: T) =>
    z.preprocess((v) => (v === null || v === "" ? undefined : v), schema.optional());
  return { number, string, id, boolean, date, optional };
})();

describe("tolerant schemas", () => {
  const pairs = [
    ["number", tolerantNumber, asUnions.number],
    ["string", tolerantString, asUnions.string],
    ["id", tolerantId, asUnions.id],
    ["boolean", tolerantBoolean, asUnions.boolean],
    ["date", tolerantDate, asUnions.date],
    ["optional number", optionalOf(tolerantNumber), asUnions.optional(asUnions.number)],
    ["optional id", optionalOf(tolerantId), asUnions.optional(asUnions.id)],
    ["optional boolean", optionalOf(tolerantBoolean), asUnions.optional(asUnions.boolean)],
    ["optional date", optionalOf(tolerantDate), asUnions.optional(asUnions.date)],
  ] as const;
  const tricky = fc.constantFrom(
    "",
    " ",
    " 12 ",
    "1e3",
    "-0",
    "0x10",
    "1.",
    ".5",
    "NaN",
    "Infinity",
    " YES ",
    "y",
    "N",
    "2026-11-30T10:00:00Z",
    "2026-02-30",
    "not a date",
    0,
    -0,
    1,
    2,
    -1,
    0.5,
    1e12,
    1e12 + 1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    false,
    null,
    undefined,
    [],
    {},
  );
  const values = fc.oneof(tricky, fc.string(), fc.double(), fc.integer(), fc.anything());
  const outcome = (result: { success: boolean; data?: unknown }) =>
    result.success ? { ok: result.data instanceof Date ? result.data.getTime() : result.data } : "invalid";

  it.each(pairs)("%s accepts and gives what the union of its forms did", (_, schema, reference) => {
    fc.assert(
      fc.property(values, (value) => {
        expect(outcome(schema.safeParse(value))).toEqual(outcome(reference.safeParse(value)));
      }),
      { numRuns: 1500 },
    );
  });

  it("in an object, absent and null optional fields come out as before", () => {
    const now = z.looseObject({ a: optionalOf(tolerantId), b: tolerantNumber });
    const before = z.looseObject({ a: asUnions.optional(asUnions.id), b: asUnions.number });
    for (const input of [{ b: 1 }, { a: null, b: "2" }, { a: "", b: 3 }, { a: " x ", b: 4, extra: true }]) {
      const [mine, theirs] = [now.safeParse(input), before.safeParse(input)];
      expect(mine.success).toBe(true);
      expect(mine.data).toStrictEqual(theirs.data);
    }
  });

  it("names the field and what was expected when a value is refused, never the value", () => {
    const result = z.looseObject({ amount: tolerantNumber }).safeParse({ amount: "secret@example.com" });
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ path: ["amount"], message: "expected a number" }),
    ]);
    expect(JSON.stringify(result.error?.issues.map((i) => i.message))).not.toContain("secret");
  });
});

describe("the parsed data's types", () => {
  it("keep optional fields optional keys, as the unions' `.optional()` made them", () => {
    expectTypeOf<PreferenceData>().toEqualTypeOf<{ contactId: string; value?: boolean; changedAt?: Date }>();
    expectTypeOf<AddPointsData["pointDefinitionId"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<AddPointsData["amount"]>().toEqualTypeOf<number>();
  });
});
