import { z } from "zod";

/**
 * Engage documents some fields as numbers and sends strings (and the reverse), and mixes
 * PascalCase and camelCase keys. These schemas accept both; the guesses live here, in one place.
 */

/**
 * The prototype of {@link lowerKeys}' copies: an object with no prototype of its own. Keys such as
 * `__proto__` or `constructor` are then plain data, never inherited members (a payload naming them
 * must neither vanish nor reach Object.prototype), as with `Object.create(null)`. Unlike
 * `Object.create(null)`, whose objects V8 keeps as hash tables, objects made by a constructor stay
 * in V8's fast mode: ~3 times less memory per copy and faster reads for the schemas that follow
 * (docs/benchmarks.md).
 */
function LowerCased(this: object) {}
LowerCased.prototype = Object.create(null);

/**
 * Copies an object with every key lower-cased; the first of two keys differing only by case wins.
 * The copy inherits nothing (see `LowerCased`).
 */
export function lowerKeys(value: unknown): Record<string, unknown> | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const out = new (LowerCased as unknown as new () => Record<string, unknown>)();
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const lower = key.toLowerCase();
    if (!Object.hasOwn(out, lower)) out[lower] = record[key];
  }
  return out;
}

const NUMERIC = /^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/;

export const tolerantNumber = z.union([
  z.number().finite(),
  z
    .string()
    .regex(NUMERIC, "expected a number")
    .transform((s) => Number(s)),
]);

export const tolerantString = z.union([
  z.string(),
  z
    .number()
    .finite()
    .transform((n) => String(n)),
]);

export const tolerantId = tolerantString.pipe(z.string().trim().min(1, "expected a non-empty id"));

const TRUE = new Set(["true", "1", "yes", "y"]);
const FALSE = new Set(["false", "0", "no", "n"]);

export const tolerantBoolean = z.union([
  z.boolean(),
  z
    .number()
    .refine((n) => n === 0 || n === 1, "expected a boolean")
    .transform((n) => n === 1),
  z
    .string()
    .refine(
      (s) => TRUE.has(s.trim().toLowerCase()) || FALSE.has(s.trim().toLowerCase()),
      "expected a boolean",
    )
    .transform((s) => TRUE.has(s.trim().toLowerCase())),
]);

/** ISO 8601 text or Unix seconds/milliseconds, to a Date. */
export const tolerantDate = z.union([
  z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), "expected a date-time")
    .transform((s) => new Date(s)),
  z
    .number()
    .finite()
    .positive()
    .transform((n) => new Date(n > 1e12 ? n : n * 1000)),
]);

/** Keys that may carry the time a preference changed. Not published by Voyado: a guess. */
export const CHANGE_TIME_KEYS = [
  "changedat",
  "changedon",
  "changed",
  "occurredat",
  "modifiedat",
  "updatedat",
  "timestamp",
];

export function firstKey(record: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const key of keys) {
    if (!Object.hasOwn(record, key)) continue;
    if (record[key] !== undefined && record[key] !== null && record[key] !== "") return record[key];
  }
  return undefined;
}

/** JSON text as some producers write it: a leading byte-order mark is not part of the value. */
export function parseJsonText(text: string): unknown {
  return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
}
