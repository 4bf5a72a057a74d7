/**
 * One-dimensional arrays as PostgreSQL's binary array format (`array_send` / `array_recv` in
 * src/backend/utils/adt/arrayfuncs.c), for query parameters. `pg` sends a `Buffer` parameter in
 * binary format, and the server reads it as the type the statement casts it to (`$1::text[]`).
 *
 * Why: `pg` sends a JS array as a text literal, quoting and escaping every element, and the server
 * then tokenizes it again. For the ingest statement's thirteen arrays that was the largest part of
 * the client's work per group (docs/benchmarks.md). The binary form is a header and a
 * length-prefixed value per element: no escaping on either side.
 *
 * Layout: int32 dimensions (1), int32 has-nulls flag, uint32 element type OID, then per dimension
 * int32 length and int32 lower bound (1); then per element an int32 byte length (-1 for NULL)
 * followed by the value in the element type's binary form.
 */

const TEXT_OID = 25;
const INT4_OID = 23;
const INT8_OID = 20;
const HEADER = 20;

function writeHeader(buf: Buffer, hasNulls: boolean, elementOid: number, length: number): void {
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(hasNulls ? 1 : 0, 4);
  buf.writeUInt32BE(elementOid, 8);
  buf.writeInt32BE(length, 12);
  buf.writeInt32BE(1, 16);
}

/** `text[]`: `null` and `undefined` are SQL NULL. Strings are sent as UTF-8. */
export function textArray(values: readonly (string | null | undefined)[]): Buffer {
  const lengths = new Array<number>(values.length);
  let size = HEADER;
  let hasNulls = false;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value == null) {
      hasNulls = true;
      lengths[i] = -1;
      size += 4;
    } else {
      const length = Buffer.byteLength(value, "utf8");
      lengths[i] = length;
      size += 4 + length;
    }
  }
  const buf = Buffer.allocUnsafe(size);
  writeHeader(buf, hasNulls, TEXT_OID, values.length);
  let offset = HEADER;
  for (let i = 0; i < values.length; i++) {
    const length = lengths[i] as number;
    buf.writeInt32BE(length, offset);
    offset += 4;
    if (length > 0) offset += buf.write(values[i] as string, offset, length, "utf8");
  }
  return buf;
}

/** `int4[]` (no NULLs). Throws for a value that is not a 32-bit integer. */
export function int4Array(values: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + values.length * 8);
  writeHeader(buf, false, INT4_OID, values.length);
  let offset = HEADER;
  for (const value of values) {
    if (!Number.isInteger(value)) throw new RangeError(`not an integer: ${value}`);
    buf.writeInt32BE(4, offset);
    buf.writeInt32BE(value, offset + 4);
    offset += 8;
  }
  return buf;
}

/** `int8[]` (no NULLs) of safe integers, such as epoch milliseconds. */
export function int8Array(values: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + values.length * 12);
  writeHeader(buf, false, INT8_OID, values.length);
  let offset = HEADER;
  for (const value of values) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
    buf.writeInt32BE(8, offset);
    // Two's complement in two halves, without a BigInt per value.
    const high = Math.floor(value / 2 ** 32);
    buf.writeInt32BE(high, offset + 4);
    buf.writeUInt32BE(value >>> 0, offset + 8);
    offset += 12;
  }
  return buf;
}
