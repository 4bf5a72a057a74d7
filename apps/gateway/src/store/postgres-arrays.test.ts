import { describe, expect, it } from "vitest";
import { postgresSuite } from "../test-support/postgres.ts";
import { int4Array, int8Array, textArray } from "./postgres-arrays.ts";

const suite = postgresSuite();

const TEXTS = [
  "",
  "a",
  null,
  "åäö",
  "😀 astral",
  'quotes " and \\ backslashes, {braces}, commas',
  "NULL",
  " padded ",
  "x".repeat(70_000),
  undefined,
  "\u0001 control",
];
const INT4S = [0, 1, -1, 2_147_483_647, -2_147_483_648];
const INT8S = [
  0,
  1,
  -1,
  2 ** 32,
  -(2 ** 32),
  2 ** 32 + 7,
  1_796_027_505_236,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
];

describe("binary array parameters: layout", () => {
  it("writes array_send's header: one dimension, the null flag, the element type, length, lower bound 1", () => {
    const buf = textArray(["ab", null]);
    expect([0, 4, 8, 12, 16].map((offset) => buf.readInt32BE(offset))).toEqual([1, 1, 25, 2, 1]);
    expect(buf.readInt32BE(20)).toBe(2);
    expect(buf.subarray(24, 26).toString()).toBe("ab");
    expect(buf.readInt32BE(26)).toBe(-1);
    expect(buf.length).toBe(30);
    expect(int4Array([7]).readUInt32BE(8)).toBe(23);
    expect(int8Array([7]).readUInt32BE(8)).toBe(20);
    expect(textArray([]).readInt32BE(12)).toBe(0);
  });

  it("refuses numbers the element type cannot hold", () => {
    expect(() => int4Array([1.5])).toThrow(RangeError);
    expect(() => int4Array([2 ** 31])).toThrow(RangeError);
    expect(() => int8Array([2 ** 53])).toThrow(RangeError);
    expect(() => int8Array([Number.NaN])).toThrow(RangeError);
  });
});

describe.skipIf(suite.skip !== undefined)(
  suite.skip
    ? `binary array parameters on a server (${suite.skip})`
    : "binary array parameters on a real server",
  () => {
    suite.hooks();

    it("the server reads each array as the same values as pg's own text literal of it", async () => {
      const url = await suite.server().freshUrl();
      const [row] = await suite.server().query<Record<string, unknown>>(
        url,
        `SELECT $1::text[] AS texts, $1::text[] IS NOT DISTINCT FROM $2::text[] AS texts_same,
                $3::int4[] AS int4s, $3::int4[] = $4::int4[] AS int4s_same,
                $5::int8[]::text[] AS int8s, $5::int8[] = $6::int8[] AS int8s_same,
                cardinality($7::text[]) AS empty`,
        [
          textArray(TEXTS),
          TEXTS,
          int4Array(INT4S),
          INT4S,
          int8Array(INT8S),
          INT8S.map(String),
          textArray([]),
        ],
      );
      expect(row).toEqual({
        texts: TEXTS.map((t) => t ?? null),
        texts_same: true,
        int4s: INT4S,
        int4s_same: true,
        int8s: INT8S.map(String),
        int8s_same: true,
        empty: 0,
      });
    });
  },
);
