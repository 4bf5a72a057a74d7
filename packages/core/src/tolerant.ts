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
 * The copy inherits nothing: keys such as `__proto__` or `constructor` are plain data here, never
 * inherited members (a payload naming them must neither vanish nor reach Object.prototype).
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
const TRUE = new Set(["true", "1", "yes", "y"]);
const FALSE = new Set(["false", "0", "no", "n"]);

/** What a reader returns for a value it does not accept. */
const INVALID: unique symbol = Symbol("invalid");
type Reader<T> = (value: unknown) => T | typeof INVALID;

/** Each tolerant schema's reader and message, for {@link optionalOf}. */
const READERS = new WeakMap<z.ZodType, { read: Reader<unknown>; message: string }>();

/**
 * A schema made of one reader function. Each tolerant field is parsed for every webhook: a union of
 * zod schemas (one per accepted form) cost ~3 times the work and memory of one transform that tries
 * the forms itself (docs/benchmarks.md). A value no form accepts is one issue with `message`.
 */
function tolerant<T>(read: Reader<T>, message: string): z.ZodTransform<T, unknown> {
  const schema = z.transform((value: unknown, ctx): T => {
    const out = read(value);
    if (out !== INVALID) return out;
    ctx.issues.push({ code: "custom", message, input: value });
    return z.NEVER;
  });
  READERS.set(schema, { read, message });
  return schema;
}

const readNumber: Reader<number> = (value) => {
  if (typeof value === "number") return Number.isFinite(value) ? value : INVALID;
  return typeof value === "string" && NUMERIC.test(value) ? Number(value) : INVALID;
};

const readString: Reader<string> = (value) => {
  if (typeof value === "string") return value;
  return typeof value === "number" && Number.isFinite(value) ? String(value) : INVALID;
};

const readTrimmed: Reader<string> = (value) => {
  const text = readString(value);
  if (text === INVALID) return INVALID;
  const trimmed = text.trim();
  return trimmed.length > 0 ? trimmed : INVALID;
};

const readBoolean: Reader<boolean> = (value) => {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value === 1 ? true : value === 0 ? false : INVALID;
  if (typeof value !== "string") return INVALID;
  const word = value.trim().toLowerCase();
  return TRUE.has(word) ? true : FALSE.has(word) ? false : INVALID;
};

const readDate: Reader<Date> = (value) => {
  if (typeof value === "string") return Number.isNaN(Date.parse(value)) ? INVALID : new Date(value);
  if (typeof value === "number" && Number.isFinite(value) && value > 0)
    return new Date(value > 1e12 ? value : value * 1000);
  return INVALID;
};

/** A finite number, or text that spells one. */
export const tolerantNumber = tolerant(readNumber, "expected a number");

/** Text, or a finite number as text. */
export const tolerantString = tolerant(readString, "expected a string");

/** {@link tolerantString}, trimmed and not empty, refused with the message given (an event type, say). */
export const nonEmptyText = (message: string): z.ZodTransform<string, unknown> =>
  tolerant(readTrimmed, message);

/** {@link nonEmptyText} for ids. */
export const tolerantId = nonEmptyText("expected a non-empty id");

/** A boolean, 1 or 0, or text (any case, spaces around): true/false, yes/no, y/n, 1/0. */
export const tolerantBoolean = tolerant(readBoolean, "expected a boolean");

/** ISO 8601 text or Unix seconds/milliseconds, to a Date. */
export const tolerantDate = tolerant(readDate, "expected a date-time");

/**
 * `schema` (one of the tolerant schemas above), where null, "" and an absent value all mean
 * absent: an optional key of the object, as `.optional()` makes it.
 */
export function optionalOf<T>(
  schema: z.ZodTransform<T, unknown>,
): z.ZodOptional<z.ZodTransform<T | undefined, unknown>> {
  const reader = READERS.get(schema);
  if (!reader) throw new TypeError("optionalOf takes a tolerant schema");
  const read = reader.read as Reader<T>;
  return tolerant<T | undefined>(
    (value) => (value === undefined || value === null || value === "" ? undefined : read(value)),
    reader.message,
  ).optional();
}

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
