import { createHash, createHmac } from "node:crypto";
import net from "node:net";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import { decodeSecret } from "@engage-bridge/core";
import { SAMPLE_EVENT_TYPES, sampleEvent, signedHeaders } from "@engage-bridge/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ChildGateway,
  freePort,
  OTHER_SECRET,
  spawnGateway,
  TEST_SECRET,
  tempDir,
  writeChildConfig,
} from "../test-support/harness.ts";

/**
 * Hostile-input sweep against the real gateway process: a deterministic (seeded) set of several hundred
 * malformed, forged, stale, oversized or protocol-breaking requests. Every answer must be a 4xx (a JSON
 * `{error, message}` when the gateway produced it), none may echo a secret or the body, nothing may be
 * stored, the process must stay up, keep its heap bounded, and still accept a valid request afterwards.
 */

const SEED = 0x5eedb00c;
const BODY_LIMIT = 64 * 1024;
const TOLERANCE = 300;
const HEAP_GROWTH_LIMIT = 30 * 1024 * 1024;
const HTTP_CONCURRENCY = 8;
const RAW_CONCURRENCY = 4;
const MARK = "HOSTILE-MARK-";

const ALWAYS_FORBIDDEN: readonly string[] = [
  TEST_SECRET,
  TEST_SECRET.slice("whsec_".length),
  OTHER_SECRET,
  OTHER_SECRET.slice("whsec_".length),
];

// ---------------------------------------------------------------------------------------------------
// Deterministic randomness

interface Rng {
  next(): number;
  int(maxExclusive: number): number;
  pick<T>(items: readonly T[]): T;
  bytes(length: number): Buffer;
  alnum(length: number): string;
  printable(length: number): string;
}

/** mulberry32: tiny, fast, good enough to vary test inputs reproducibly. */
function rng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (maxExclusive: number) => Math.floor(next() * maxExclusive);
  const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return {
    next,
    int,
    pick<T>(items: readonly T[]): T {
      const item = items[int(items.length)];
      if (item === undefined) throw new Error("pick from an empty list");
      return item;
    },
    bytes(length: number) {
      const out = Buffer.alloc(length);
      for (let i = 0; i < length; i++) out[i] = int(256);
      return out;
    },
    alnum(length: number) {
      let out = "";
      for (let i = 0; i < length; i++) out += ALNUM.charAt(int(ALNUM.length));
      return out;
    },
    printable(length: number) {
      let out = "";
      for (let i = 0; i < length; i++) out += String.fromCharCode(0x21 + int(0x7e - 0x21));
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Signing helpers (byte-exact, over the exact header strings, so malformed values can carry a "valid" MAC)

function v1(secret: string, id: string, timestamp: string, body: Uint8Array): string {
  const mac = createHmac("sha256", decodeSecret(secret)).update(`${id}.${timestamp}.`).update(body);
  return `v1,${mac.digest("base64")}`;
}

function svix(
  secret: string,
  id: string,
  timestamp: string | number,
  body: Uint8Array,
): Record<string, string> {
  const ts = String(timestamp);
  return { "svix-id": id, "svix-timestamp": ts, "svix-signature": v1(secret, id, ts, body) };
}

function webhookBrand(
  secret: string,
  id: string,
  timestamp: string | number,
  body: Uint8Array,
): Record<string, string> {
  const ts = String(timestamp);
  return { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": v1(secret, id, ts, body) };
}

// ---------------------------------------------------------------------------------------------------
// The hostile set

interface HttpCase {
  kind: "http";
  group: string;
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Stream the body without a content-length (chunked transfer encoding). */
  chunked?: boolean;
  expect: readonly number[];
  /** Rejection reason counted in engage_bridge_webhooks_rejected_total, or null when none is counted. */
  reason: string | null;
  /** Strings that must appear nowhere in the answer (status line aside). */
  forbidden: readonly string[];
}

interface RawCase {
  kind: "raw";
  group: string;
  name: string;
  chunks: readonly Buffer[];
  /** Pause between chunks. */
  gapMs: number;
  /** Close the connection this long after the last chunk instead of waiting for an answer. */
  abortAfterMs?: number;
  /**
   * Acceptable final statuses. Empty: only liveness matters (no answer is fine; any answer must be 4xx).
   */
  expect: readonly number[];
  /** The server may reset the connection (it stops reading an oversized head) before we read the answer. */
  mayReset?: boolean;
  forbidden: readonly string[];
}

type HostileCase = HttpCase | RawCase;

function bodyProbe(body: Buffer | undefined): string[] {
  if (!body) return [];
  const run = /[\x21-\x7e]{12}/.exec(body.subarray(0, 4096).toString("latin1"));
  return run ? [run[0]] : [];
}

function crlf(lines: readonly string[]): string {
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/**
 * Builds the hostile set. The structure and every byte of it come from the seed; only the timestamps
 * (and the MACs over them) depend on `now`, so that "valid but stale" stays stale and "fresh" stays fresh.
 */
function buildCases(now: number): HostileCase[] {
  const r = rng(SEED);
  const cases: HostileCase[] = [];
  let seq = 0;
  const msgId = () => `msg_hostile_${String(++seq).padStart(4, "0")}_${r.alnum(10)}`;
  const mark = () => `${MARK}${r.alnum(16)}`;
  const event = (id = mark()) => Buffer.from(sampleEvent(r.pick(SAMPLE_EVENT_TYPES), { id }));
  const randomBody = () => r.bytes(r.pick([0, 1, 2, r.int(64), r.int(1024), r.int(8192), r.int(60_000)]));
  const contentType = () =>
    r.pick([
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "application/octet-stream",
      "multipart/form-data; boundary=----x",
      "application/x-www-form-urlencoded",
      "application/json; charset=utf-16",
      "*/*",
      ";;;",
    ]);

  const http = (
    group: string,
    name: string,
    spec: {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: Buffer;
      chunked?: boolean;
      expect: number | readonly number[];
      reason: string | null;
      forbidden?: readonly string[];
    },
  ) => {
    const headers: Record<string, string> = { "content-type": "application/json", ...spec.headers };
    const forbidden = [
      ...(spec.forbidden ?? []),
      ...bodyProbe(spec.body),
      ...[headers["svix-signature"], headers["webhook-signature"], headers["svix-id"]].filter(
        (v): v is string => typeof v === "string" && v.length >= 12,
      ),
    ];
    cases.push({
      kind: "http",
      group,
      name,
      method: spec.method ?? "POST",
      path: spec.path ?? "/webhooks/engage",
      headers,
      body: spec.body,
      chunked: spec.chunked,
      expect: typeof spec.expect === "number" ? [spec.expect] : spec.expect,
      reason: spec.reason,
      forbidden,
    });
  };

  const raw = (
    group: string,
    name: string,
    spec: {
      chunks: readonly (string | Buffer)[];
      gapMs?: number;
      abortAfterMs?: number;
      expect: readonly number[];
      mayReset?: boolean;
      forbidden?: readonly string[];
    },
  ) => {
    cases.push({
      kind: "raw",
      group,
      name,
      chunks: spec.chunks.map((c) => (typeof c === "string" ? Buffer.from(c, "latin1") : c)),
      gapMs: spec.gapMs ?? 0,
      abortAfterMs: spec.abortAfterMs,
      expect: spec.expect,
      mayReset: spec.mayReset,
      forbidden: spec.forbidden ?? [],
    });
  };

  // A. random bytes, unsigned.
  for (let i = 0; i < 40; i++) {
    const body = randomBody();
    const junk: Record<string, string> = {};
    if (i % 4 === 0) junk[`x-junk-${r.alnum(5).toLowerCase()}`] = r.printable(1 + r.int(200));
    if (i % 10 === 3) junk["x-request-id"] = `<script>${r.alnum(8)}</script>`;
    if (i % 10 === 7) junk["x-forwarded-for"] = "127.0.0.1, ::1, 10.0.0.1";
    http("random-bytes-unsigned", `random ${body.length} bytes`, {
      headers: { "content-type": contentType(), ...junk },
      body,
      expect: 401,
      reason: "missing_headers",
      forbidden: junk["x-request-id"] ? [junk["x-request-id"]] : [],
    });
  }

  // B. random bytes signed with a wrong secret.
  for (let i = 0; i < 40; i++) {
    const body = randomBody();
    const secret = i < 30 ? OTHER_SECRET : `whsec_${r.bytes(32).toString("base64")}`;
    http("random-bytes-wrong-secret", `random ${body.length} bytes, wrong secret #${i}`, {
      headers: { "content-type": contentType(), ...svix(secret, msgId(), now, body) },
      body,
      expect: 401,
      reason: "no_matching_signature",
    });
  }

  // C. truncated JSON with forged signatures.
  for (let i = 0; i < 36; i++) {
    const full = event();
    const cut = full.subarray(0, 1 + r.int(full.length - 1));
    const id = msgId();
    const kind = i % 3;
    const headers =
      kind === 0
        ? svix(OTHER_SECRET, id, now, cut)
        : kind === 1
          ? svix(TEST_SECRET, id, now, full) // the genuine MAC of the complete body
          : {
              "svix-id": id,
              "svix-timestamp": String(now),
              "svix-signature": `v1,${r.bytes(32).toString("base64")}`,
            };
    http("truncated-json-forged", `truncated at ${cut.length}/${full.length}, forgery ${kind}`, {
      headers,
      body: cut,
      expect: 401,
      reason: "no_matching_signature",
    });
  }

  // D. bodies over the limit (and one exactly at it).
  const big = (size: number) => {
    const filler = Buffer.alloc(size, 0x20);
    const head = Buffer.from(`{"id":"${mark()}","pad":"`);
    head.copy(filler, 0);
    return filler;
  };
  {
    const b1 = big(BODY_LIMIT + 1);
    http("over-limit", "limit+1 unsigned", { body: b1, expect: 413, reason: "payload_too_large" });
    const b2 = big(BODY_LIMIT + 1);
    http("over-limit", "limit+1 validly signed", {
      headers: svix(TEST_SECRET, msgId(), now, b2),
      body: b2,
      expect: 413,
      reason: "payload_too_large",
    });
    for (let i = 0; i < 4; i++) {
      const b = big(BODY_LIMIT + 2 + r.int(250_000));
      http("over-limit", `${b.length} bytes validly signed`, {
        headers: svix(TEST_SECRET, msgId(), now, b),
        body: b,
        expect: 413,
        reason: "payload_too_large",
      });
    }
    const b3 = big(200_000);
    http("over-limit", "200 kB forged", {
      headers: svix(OTHER_SECRET, msgId(), now, b3),
      body: b3,
      expect: 413,
      reason: "payload_too_large",
    });
    const b4 = big(100_000);
    http("over-limit", "100 kB chunked, validly signed", {
      headers: svix(TEST_SECRET, msgId(), now, b4),
      body: b4,
      chunked: true,
      expect: 413,
      reason: "payload_too_large",
    });
    const b5 = big(70_000);
    http("over-limit", "70 kB chunked, unsigned", {
      body: b5,
      chunked: true,
      expect: 413,
      reason: "payload_too_large",
    });
    const b6 = big(200_000);
    http("over-limit", "200 kB validly signed to an unknown source", {
      path: "/webhooks/nope",
      headers: svix(TEST_SECRET, msgId(), now, b6),
      body: b6,
      expect: 404,
      reason: "unknown_source",
    });
    const b7 = big(100_000);
    // Size is checked before anything else about the body, encoding included (contract order).
    http("over-limit", "100 kB declared gzip", {
      headers: { "content-encoding": "gzip", ...svix(TEST_SECRET, msgId(), now, b7) },
      body: b7,
      expect: 413,
      reason: "payload_too_large",
    });
    const b8 = big(BODY_LIMIT);
    http("over-limit", "exactly the limit, forged (not too large: 401)", {
      headers: svix(OTHER_SECRET, msgId(), now, b8),
      body: b8,
      expect: 401,
      reason: "no_matching_signature",
    });
  }

  // E. wrong types in svix-timestamp; the MAC is computed over the exact (bad) string with the right secret.
  {
    const malformed = [
      "hello",
      `${now}abc`,
      `${now}.5`,
      `${now}.0`,
      `-${now}`,
      `+${now}`,
      `${now}e0`,
      `0x${now.toString(16)}`,
      `${now} ${now}`,
      `${now},${now}`,
      "1e9",
      "NaN",
      "Infinity",
      "-0",
      "9".repeat(13),
      `${now * 1000}`,
      `000${now}`,
      `${now}\u00a0`,
      "-1",
    ];
    for (const ts of malformed) {
      const body = event();
      const id = msgId();
      http("timestamp-malformed", `svix-timestamp ${JSON.stringify(ts)}`, {
        headers: { "svix-id": id, "svix-timestamp": ts, "svix-signature": v1(TEST_SECRET, id, ts, body) },
        body,
        expect: 401,
        reason: "malformed_timestamp",
      });
    }
    const body = event();
    const id = msgId();
    http("timestamp-malformed", "svix-timestamp empty", {
      headers: { "svix-id": id, "svix-timestamp": "", "svix-signature": v1(TEST_SECRET, id, "", body) },
      body,
      expect: 401,
      reason: "missing_headers",
    });
    for (const ts of [" ", "\t"]) {
      // fetch trims the value to the current time; the MAC over the untrimmed string no longer matches.
      const b = event();
      const mid = msgId();
      const padded = `${ts}${now}`;
      http("timestamp-malformed", `svix-timestamp with leading ${JSON.stringify(ts)}`, {
        headers: {
          "svix-id": mid,
          "svix-timestamp": padded,
          "svix-signature": v1(TEST_SECRET, mid, padded, b),
        },
        body: b,
        expect: 401,
        reason: "no_matching_signature",
      });
    }
    for (const ts of ["0", "000000000000", "1"]) {
      const b = event();
      const mid = msgId();
      http("timestamp-malformed", `svix-timestamp ${ts}`, {
        headers: { "svix-id": mid, "svix-timestamp": ts, "svix-signature": v1(TEST_SECRET, mid, ts, b) },
        body: b,
        expect: 401,
        reason: "timestamp_too_old",
      });
    }
    const b = event();
    const mid = msgId();
    const times10 = `${now}0`;
    http("timestamp-malformed", "svix-timestamp with a trailing zero (x10)", {
      headers: {
        "svix-id": mid,
        "svix-timestamp": times10,
        "svix-signature": v1(TEST_SECRET, mid, times10, b),
      },
      body: b,
      expect: 401,
      reason: "timestamp_too_new",
    });
  }

  // F. garbage in svix-signature (fresh id and timestamp, genuine MAC known: `good`).
  {
    const body = event();
    const id = msgId();
    const ts = String(now);
    const good = v1(TEST_SECRET, id, ts, body);
    const goodB64 = good.slice(3);
    const firstChar = goodB64.charAt(0) === "A" ? "B" : "A";
    const mac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();
    const bogusEntries = Array.from({ length: 250 }, () => `v1,${r.bytes(32).toString("base64")}`).join(" ");
    const garbage: [string, string][] = [
      ["v1, (empty value)", "v1,"],
      ["v1 (no comma)", "v1"],
      ["lone comma", ","],
      ["v1,,", "v1,,"],
      ["only a v2 entry carrying the genuine MAC", `v2,${goodB64}`],
      ["only v2/v3 entries", `v2,${goodB64} v2,${r.bytes(32).toString("base64")} v3,abc`],
      ["uppercase V1", `V1,${goodB64}`],
      ["bare base64", goodB64],
      ["space instead of comma", `v1 ${goodB64}`],
      ["semicolon instead of comma", `v1;${goodB64}`],
      ["first character altered", `v1,${firstChar}${goodB64.slice(1)}`],
      ["truncated base64 (30 bytes)", `v1,${goodB64.slice(0, 40)}`],
      [
        "33 bytes",
        `v1,${Buffer.concat([Buffer.from(goodB64, "base64"), Buffer.from([0])]).toString("base64")}`,
      ],
      ["hex digest", `v1,${Buffer.from(goodB64, "base64").toString("hex")}`],
      ["invalid base64", "v1,!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"],
      ["all padding", `v1,${"=".repeat(44)}`],
      ["32 zero bytes", `v1,${Buffer.alloc(32).toString("base64")}`],
      ["250 bogus v1 entries", bogusEntries],
      ["base64url alphabet", `v1,${"-_".repeat(21)}AA`],
      [
        "keyed with the whsec_ string",
        `v1,${mac(TEST_SECRET, `${id}.${ts}.${body.toString()}`).toString("base64")}`,
      ],
      [
        "keyed with the base64 text",
        `v1,${mac(TEST_SECRET.slice(6), `${id}.${ts}.${body.toString()}`).toString("base64")}`,
      ],
      ["MAC over the body only", `v1,${mac(decodeSecret(TEST_SECRET), body.toString()).toString("base64")}`],
      [
        "id and timestamp swapped",
        `v1,${mac(decodeSecret(TEST_SECRET), `${ts}.${id}.${body.toString()}`).toString("base64")}`,
      ],
      ["v1 with trailing garbage", `v1,${goodB64}garbage`],
    ];
    for (const [name, signature] of garbage) {
      http("signature-garbage", name, {
        headers: { "svix-id": id, "svix-timestamp": ts, "svix-signature": signature },
        body,
        expect: 401,
        reason: "no_matching_signature",
      });
    }
    http("signature-garbage", "empty signature", {
      headers: { "svix-id": id, "svix-timestamp": ts, "svix-signature": "" },
      body,
      expect: 401,
      reason: "missing_headers",
    });
  }

  // G. svix-id garbage with genuine MACs.
  {
    for (const length of [257, 4096, 10_000]) {
      const body = event();
      const id = `i${"d".repeat(length - 1)}`;
      http("id-garbage", `svix-id of ${length} characters, validly signed`, {
        headers: svix(TEST_SECRET, id, now, body),
        body,
        expect: 401,
        reason: "malformed_id",
      });
    }
    const body = event();
    const id = `w${"x".repeat(300)}`;
    http("id-garbage", "webhook-id of 301 characters, validly signed", {
      headers: webhookBrand(TEST_SECRET, id, now, body),
      body,
      expect: 401,
      reason: "malformed_id",
    });
    const b = event();
    http("id-garbage", "empty svix-id", {
      headers: {
        "svix-id": "",
        "svix-timestamp": String(now),
        "svix-signature": v1(TEST_SECRET, "", String(now), b),
      },
      body: b,
      expect: 401,
      reason: "missing_headers",
    });
  }

  // H. forged: real events signed with another secret.
  for (let i = 0; i < 30; i++) {
    const body = event();
    const brand = i % 6 === 5 ? webhookBrand : svix;
    http("forged", `event signed with OTHER_SECRET #${i}`, {
      headers: brand(OTHER_SECRET, msgId(), now, body),
      body,
      expect: 401,
      reason: "no_matching_signature",
    });
  }

  // I. stale and future timestamps with otherwise valid signatures.
  {
    const stale = [
      now - (TOLERANCE + 1),
      now - 302,
      now - 330,
      now - 3600,
      now - 86_400,
      now - 1_000_000_000,
      1,
      1_000_000_000,
    ];
    for (const ts of stale) {
      const body = event();
      http("stale", `timestamp ${ts} (${now - ts} s old)`, {
        headers: svix(TEST_SECRET, msgId(), ts, body),
        body,
        expect: 401,
        reason: "timestamp_too_old",
      });
    }
    const future = [now + TOLERANCE + 10, now + 600, now + 86_400, now + 86_400 * 365, 999_999_999_999];
    for (const ts of future) {
      const body = event();
      http("future", `timestamp ${ts} (${ts - now} s ahead)`, {
        headers: svix(TEST_SECRET, msgId(), ts, body),
        body,
        expect: 401,
        reason: "timestamp_too_new",
      });
    }
    const b1 = event();
    http("stale", "webhook- brand, 400 s old", {
      headers: webhookBrand(TEST_SECRET, msgId(), now - 400, b1),
      body: b1,
      expect: 401,
      reason: "timestamp_too_old",
    });
    const b2 = event();
    http("future", "webhook- brand, 400 s ahead", {
      headers: webhookBrand(TEST_SECRET, msgId(), now + 400, b2),
      body: b2,
      expect: 401,
      reason: "timestamp_too_new",
    });
  }

  // J. replay: a genuine request captured (never sent as is) and replayed modified.
  {
    const original = event();
    const other = event();
    const id = msgId();
    const captured = svix(TEST_SECRET, id, now, original);
    const text = original.toString();
    const middle = Math.floor(text.length / 2);
    const flipped = `${text.slice(0, middle)}${text.charAt(middle) === "x" ? "y" : "x"}${text.slice(middle + 1)}`;
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const modifiedBodies: [string, Buffer][] = [
      ["trailing space", Buffer.from(`${text} `)],
      ["leading space", Buffer.from(` ${text}`)],
      ["trailing newline", Buffer.from(`${text}\n`)],
      ["one character changed", Buffer.from(flipped)],
      ["last byte dropped", original.subarray(0, original.length - 1)],
      ["re-indented", Buffer.from(JSON.stringify(parsed, null, 2))],
      ["extra field", Buffer.from(JSON.stringify({ ...parsed, replayed: true }))],
      ["other event id", Buffer.from(JSON.stringify({ ...parsed, id: mark(), eventId: mark() }))],
      ["body twice", Buffer.concat([original, original])],
      ["empty body", Buffer.alloc(0)],
      ["upper-cased", Buffer.from(text.toUpperCase())],
      ["UTF-16LE", Buffer.from(text, "utf16le")],
      ["with a BOM", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), original])],
      ["another event", other],
      ["gzip bytes, no content-encoding", gzipSync(original)],
    ];
    for (const [name, body] of modifiedBodies) {
      http("replay-modified", name, {
        headers: captured,
        body,
        expect: 401,
        reason: "no_matching_signature",
        forbidden: [MARK],
      });
    }
    const sig = captured["svix-signature"] ?? "";
    const variants: [string, Record<string, string>][] = [
      ["other svix-id", { ...captured, "svix-id": `${id}x` }],
      ["svix-id upper-cased", { ...captured, "svix-id": id.toUpperCase() }],
      ["timestamp +1", { ...captured, "svix-timestamp": String(now + 1) }],
      ["timestamp -1", { ...captured, "svix-timestamp": String(now - 1) }],
      [
        "signature moved to another id under webhook- brand",
        { "webhook-id": msgId(), "webhook-timestamp": String(now), "webhook-signature": sig },
      ],
      [
        "signature with one base64 character altered",
        {
          ...captured,
          "svix-signature": `${sig.slice(0, 10)}${sig.charAt(10) === "Q" ? "R" : "Q"}${sig.slice(11)}`,
        },
      ],
    ];
    for (const [name, headers] of variants) {
      http("replay-modified", name, {
        headers,
        body: original,
        expect: 401,
        reason: "no_matching_signature",
        forbidden: [MARK],
      });
    }
  }

  // K. missing headers.
  {
    const body = event();
    const id = msgId();
    const full = svix(TEST_SECRET, id, now, body);
    const wb = webhookBrand(TEST_SECRET, id, now, body);
    const without = (name: string) => Object.fromEntries(Object.entries(full).filter(([k]) => k !== name));
    const variants: [string, Record<string, string>][] = [
      ["no svix-id", without("svix-id")],
      ["no svix-timestamp", without("svix-timestamp")],
      ["no svix-signature", without("svix-signature")],
      ["no headers at all", {}],
      [
        "svix-id with webhook- timestamp and signature",
        {
          "svix-id": id,
          "webhook-timestamp": wb["webhook-timestamp"] ?? "",
          "webhook-signature": wb["webhook-signature"] ?? "",
        },
      ],
      [
        "webhook-id with svix- timestamp and signature",
        {
          "webhook-id": id,
          "svix-timestamp": full["svix-timestamp"] ?? "",
          "svix-signature": full["svix-signature"] ?? "",
        },
      ],
      [
        "underscored names",
        { svix_id: id, svix_timestamp: String(now), svix_signature: full["svix-signature"] ?? "" },
      ],
      [
        "x-svix- prefixed names",
        {
          "x-svix-id": id,
          "x-svix-timestamp": String(now),
          "x-svix-signature": full["svix-signature"] ?? "",
        },
      ],
    ];
    for (const [name, headers] of variants) {
      http("missing-headers", name, { headers, body, expect: 401, reason: "missing_headers" });
    }
  }

  // L. unknown sources, validly signed (source is checked first).
  {
    const names = [
      "ENGAGE",
      "Engage",
      "engage2",
      "engage%20",
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "valueOf",
      "engage%00",
      "en%2Fgage",
      "%C3%A9ngage",
      "e".repeat(2000),
      "null",
      "undefined",
      "0",
      "-1",
      "engage.json",
      "*",
      "%25",
    ];
    for (const name of names) {
      const body = event();
      http("unknown-source", `source ${name.length > 40 ? `${name.slice(0, 10)}…(${name.length})` : name}`, {
        path: `/webhooks/${name}`,
        headers: svix(TEST_SECRET, msgId(), now, body),
        body,
        expect: 404,
        reason: "unknown_source",
      });
    }
  }

  // M. wrong methods and paths.
  {
    const body = event();
    for (const method of ["GET", "PUT", "DELETE", "PATCH", "HEAD"]) {
      http("wrong-method-or-path", `${method} /webhooks/engage`, {
        method,
        headers: method === "GET" || method === "HEAD" ? {} : svix(TEST_SECRET, msgId(), now, body),
        body: method === "GET" || method === "HEAD" ? undefined : body,
        expect: 405,
        reason: "method",
      });
    }
    http("wrong-method-or-path", "OPTIONS /webhooks/engage", {
      method: "OPTIONS",
      expect: 405,
      reason: "method",
    });
    const notFound = [
      "/webhooks",
      "/webhooks/",
      "/webhooks/engage/extra",
      "/webhook/engage",
      "/webhooks/engage/..",
      "/webhooks//engage",
      "//webhooks/engage",
      "/healthz",
      "/metrics",
      "/readyz",
      "/admin/events",
      "/",
    ];
    for (const path of notFound) {
      http("wrong-method-or-path", `POST ${path}`, {
        path,
        headers: svix(TEST_SECRET, msgId(), now, body),
        body,
        expect: 404,
        reason: null,
      });
    }
    for (const path of ["/webhooks/%ZZ", "/webhooks/engage%E0%A4%A"]) {
      http("wrong-method-or-path", `POST ${path} (bad percent-encoding)`, {
        path,
        headers: svix(TEST_SECRET, msgId(), now, body),
        body,
        expect: 400,
        reason: null,
      });
    }
    for (const path of [
      "/webhooks/engage/",
      "/WEBHOOKS/engage",
      "/webhooks/engage?svix-id=a&svix-timestamp=1&svix-signature=v1,x",
    ]) {
      http("wrong-method-or-path", `POST ${path} unsigned`, {
        path,
        body,
        expect: 401,
        reason: "missing_headers",
      });
    }
  }

  // N. content encodings (never inflated).
  {
    const encodings = [
      "gzip",
      "deflate",
      "br",
      "gzip, identity",
      "identity, gzip",
      "x-garbage",
      "GZIP",
      "*",
      "zstd",
    ];
    for (const encoding of encodings) {
      const plain = event();
      const body = encoding.toLowerCase().includes("gzip") ? gzipSync(plain) : plain;
      http("content-encoding", `content-encoding ${encoding}`, {
        headers: { "content-encoding": encoding, ...svix(TEST_SECRET, msgId(), now, plain) },
        body,
        expect: 415,
        reason: "encoding",
      });
    }
    const plain = event();
    http("content-encoding", "gzip to an unknown source", {
      path: "/webhooks/other",
      headers: { "content-encoding": "gzip", ...svix(TEST_SECRET, msgId(), now, plain) },
      body: gzipSync(plain),
      expect: 404,
      reason: "unknown_source",
    });
    http("content-encoding", "empty content-encoding, unsigned", {
      headers: { "content-encoding": "" },
      body: plain,
      expect: 401,
      reason: "missing_headers",
    });
  }

  // O. invalid UTF-8.
  {
    const bad = [
      [0xff],
      [0xfe, 0xff],
      [0xc0, 0xaf],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0x80],
      [0xc3],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0xc3, 0x28],
    ];
    for (let i = 0; i < 20; i++) {
      const seqBytes = Buffer.from(r.pick(bad));
      const body =
        i % 2 === 0
          ? Buffer.concat([
              Buffer.from(`{"id":"${mark()}","eventType":"`),
              seqBytes,
              Buffer.from('","payload":{}}'),
            ])
          : Buffer.concat([seqBytes, r.bytes(r.int(32)), seqBytes]);
      http("invalid-utf8", `invalid UTF-8 #${i}${i % 4 < 2 ? " unsigned" : " forged"}`, {
        headers: i % 4 < 2 ? {} : svix(OTHER_SECRET, msgId(), now, body),
        body,
        expect: 401,
        reason: i % 4 < 2 ? "missing_headers" : "no_matching_signature",
      });
    }
  }

  // P. deeply nested JSON, forged.
  {
    for (const depth of [100, 1000, 10_000, 20_000, 32_000]) {
      const body = Buffer.from(`${"[".repeat(depth)}${"]".repeat(depth)}`);
      http("deep-json", `arrays nested ${depth} deep`, {
        headers: svix(OTHER_SECRET, msgId(), now, body),
        body,
        expect: 401,
        reason: "no_matching_signature",
      });
    }
    for (const depth of [100, 1000, 5000, 10_000]) {
      const body = Buffer.from(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
      http("deep-json", `objects nested ${depth} deep`, {
        headers: svix(OTHER_SECRET, msgId(), now, body),
        body,
        expect: 401,
        reason: "no_matching_signature",
      });
    }
    const unbalanced = Buffer.from("[".repeat(60_000));
    http("deep-json", "60000 unclosed brackets, unsigned", {
      body: unbalanced,
      expect: 401,
      reason: "missing_headers",
    });
  }

  // Q. semantically hostile JSON, forged.
  {
    const hostile = [
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"id":"x"}',
      '{"id":1e999999,"eventType":"loyalty.addPoints","payload":{"points":-1e400}}',
      '{"id":"a","id":"b","eventType":"x","eventType":"y"}',
      '{"id":NaN,"eventType":Infinity}',
      JSON.stringify(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]))),
      '{"id":"\\ud800","eventType":"\\u0000\\u0000"}',
    ];
    for (const text of hostile) {
      const body = Buffer.from(text);
      http("hostile-json", `hostile JSON ${text.slice(0, 24)}`, {
        headers: svix(OTHER_SECRET, msgId(), now, body),
        body,
        expect: 401,
        reason: "no_matching_signature",
      });
    }
  }

  // R. raw TCP: what fetch refuses to send, and broken HTTP.
  {
    const body = event();
    const id = msgId();
    const signedLines = Object.entries(svix(TEST_SECRET, id, now, body)).map(([k, v]) => `${k}: ${v}`);
    const post = (extra: readonly string[], payload: Buffer | string = "{}", path = "/webhooks/engage") => {
      const p = typeof payload === "string" ? Buffer.from(payload) : payload;
      return Buffer.concat([
        Buffer.from(
          crlf([
            `POST ${path} HTTP/1.1`,
            "Host: gw",
            "Connection: close",
            ...extra,
            `Content-Length: ${p.length}`,
          ]),
          "latin1",
        ),
        p,
      ]);
    };
    raw("raw-http", "64 KB header value", {
      chunks: [post([`x-big: ${"x".repeat(65_536)}`])],
      expect: [431],
      mayReset: true,
    });
    raw("raw-http", "10000 bogus v1 entries", {
      chunks: [
        post(["svix-id: a", `svix-timestamp: ${now}`, `svix-signature: ${"v1,AAAA ".repeat(10_000)}`]),
      ],
      expect: [431],
      mayReset: true,
    });
    raw("raw-http", "32 KB URL", {
      chunks: [post([], "{}", `/webhooks/${"u".repeat(32_768)}`)],
      expect: [414, 431],
      mayReset: true,
    });
    raw("raw-http", "10 KB URL to an unknown source", {
      chunks: [post([], "{}", `/webhooks/${"u".repeat(10_000)}`)],
      expect: [404],
    });
    // Node's head limit also charges a per-header overhead, so how many fit depends on the Node version.
    raw("raw-http", "600 small headers", {
      chunks: [post(Array.from({ length: 600 }, (_, i) => `x-h${i}: ${i}`))],
      expect: [401, 431],
    });
    raw("raw-http", "garbage request line", { chunks: ["BLAH\r\n\r\n"], expect: [400] });
    raw("raw-http", "unknown method", {
      chunks: [crlf(["FOO /webhooks/engage HTTP/1.1", "Host: gw"])],
      expect: [400],
    });
    raw("raw-http", "TRACE", {
      chunks: [crlf(["TRACE /webhooks/engage HTTP/1.1", "Host: gw", "Connection: close"])],
      expect: [405],
    });
    raw("raw-http", "HTTP/1.1 without Host", {
      chunks: ["POST /webhooks/engage HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"],
      expect: [400],
    });
    raw("raw-http", "Content-Length and Transfer-Encoding", {
      chunks: [
        crlf([
          "POST /webhooks/engage HTTP/1.1",
          "Host: gw",
          "Content-Length: 5",
          "Transfer-Encoding: chunked",
        ]),
        "0\r\n\r\n",
      ],
      expect: [400],
    });
    raw("raw-http", "non-numeric Content-Length", {
      chunks: [`${crlf(["POST /webhooks/engage HTTP/1.1", "Host: gw", "Content-Length: abc"])}{}`],
      expect: [400],
    });
    raw("raw-http", "negative Content-Length", {
      chunks: [`${crlf(["POST /webhooks/engage HTTP/1.1", "Host: gw", "Content-Length: -1"])}{}`],
      expect: [400],
    });
    raw("raw-http", "conflicting Content-Length", {
      chunks: [
        `${crlf(["POST /webhooks/engage HTTP/1.1", "Host: gw", "Content-Length: 2", "Content-Length: 3"])}{}`,
      ],
      expect: [400],
    });
    raw("raw-http", "absurd Content-Length", {
      chunks: [
        `${crlf(["POST /webhooks/engage HTTP/1.1", "Host: gw", "Content-Length: 99999999999999999999999"])}{}`,
      ],
      expect: [400, 413],
    });
    raw("raw-http", "bad chunk size", {
      chunks: [
        `${crlf(["POST /webhooks/engage HTTP/1.1", "Host: gw", "Transfer-Encoding: chunked"])}zz\r\nabc\r\n0\r\n\r\n`,
      ],
      expect: [400],
    });
    raw("raw-http", "control character in a header value", {
      chunks: [post(["svix-id: a\u0001b"])],
      expect: [400],
    });
    raw("raw-http", "space in a header name", { chunks: [post(["svix id: a"])], expect: [400] });
    raw("raw-http", "obsolete line folding", {
      chunks: [post(["svix-signature: v1,abc", " v1,continued"])],
      expect: [400, 401],
    });
    raw("raw-http", "bare LF line endings", {
      chunks: ["POST /webhooks/engage HTTP/1.1\nHost: gw\nConnection: close\nContent-Length: 2\n\n{}"],
      expect: [400, 401],
    });
    raw("raw-http", "HTTP/2 preface", { chunks: ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"], expect: [400] });
    raw("raw-http", "invalid UTF-8 in svix-id", {
      chunks: [
        Buffer.concat([
          Buffer.from(
            "POST /webhooks/engage HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nsvix-timestamp: 1\r\nsvix-signature: v1,x\r\nsvix-id: ",
          ),
          Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
          Buffer.from("\r\nContent-Length: 2\r\n\r\n{}"),
        ]),
      ],
      expect: [401],
    });
    raw("raw-http", "absolute-form request target", {
      chunks: [post([], "{}", "http://evil.example/webhooks/engage")],
      expect: [401],
    });
    raw("raw-http", "pipelined: rejected POST then GET", {
      chunks: [
        `${crlf(["POST /webhooks/engage HTTP/1.1", "Host: gw", "Content-Length: 2"])}{}${crlf(["GET /nope HTTP/1.1", "Host: gw", "Connection: close"])}`,
      ],
      expect: [401, 404],
    });
    raw("raw-http", "body longer than Content-Length", {
      chunks: [
        `${crlf(["POST /webhooks/engage HTTP/1.1", "Host: gw", "Content-Length: 2"])}{}GARBAGE-GARBAGE\r\n\r\n`,
      ],
      expect: [400, 401],
    });
    raw("raw-http", "CONNECT", {
      chunks: [crlf(["CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"])],
      expect: [],
    });
    raw("raw-http", "websocket upgrade on the webhook route", {
      chunks: [
        crlf(["GET /webhooks/engage HTTP/1.1", "Host: gw", "Connection: Upgrade", "Upgrade: websocket"]),
      ],
      abortAfterMs: 100,
      expect: [],
    });
    raw("raw-http", "partial head, closed early", {
      chunks: ["POST /webhooks/engage HTTP/1.1\r\nHost: gw\r\nsvix-"],
      abortAfterMs: 30,
      expect: [],
    });
    const fullHead = crlf([
      "POST /webhooks/engage HTTP/1.1",
      "Host: gw",
      ...signedLines,
      `Content-Length: ${body.length}`,
    ]);
    raw("raw-http", "slowloris: head dribbled then dropped", {
      chunks: Array.from({ length: 20 }, (_, i) => fullHead.slice(i * 8, i * 8 + 8)),
      gapMs: 5,
      abortAfterMs: 20,
      expect: [],
    });
    raw("raw-http", "validly signed, body cut short, closed", {
      chunks: [fullHead, body.subarray(0, Math.floor(body.length / 2))],
      gapMs: 10,
      abortAfterMs: 50,
      expect: [],
    });
    raw("raw-http", "validly signed, all but the last byte, closed", {
      chunks: [Buffer.concat([Buffer.from(fullHead), body.subarray(0, body.length - 1)])],
      abortAfterMs: 50,
      expect: [],
    });
    raw("raw-http", "Expect: 100-continue with a 10 MB Content-Length, no body", {
      chunks: [
        crlf([
          "POST /webhooks/engage HTTP/1.1",
          "Host: gw",
          "Expect: 100-continue",
          "Content-Length: 10000000",
        ]),
      ],
      abortAfterMs: 100,
      expect: [],
    });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------
// Running the set

interface Scrape {
  rejected: Map<string, number>;
  accepted: number;
  heapUsed: number;
}

async function scrape(url: string): Promise<Scrape> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const rejected = new Map<string, number>();
  let accepted = 0;
  let heapUsed = Number.NaN;
  for (const line of text.split("\n")) {
    const rej = /^engage_bridge_webhooks_rejected_total\{([^}]*)\} (\S+)$/.exec(line);
    if (rej) {
      const reason = /reason="([^"]*)"/.exec(rej[1] ?? "")?.[1] ?? "?";
      rejected.set(reason, (rejected.get(reason) ?? 0) + Number(rej[2]));
      continue;
    }
    const acc = /^engage_bridge_webhooks_accepted_total\{[^}]*\} (\S+)$/.exec(line);
    if (acc) accepted += Number(acc[1]);
    const heap = /^engage_bridge_nodejs_heap_size_used_bytes (\S+)$/.exec(line);
    if (heap) heapUsed = Number(heap[1]);
  }
  return { rejected, accepted, heapUsed };
}

function leaks(text: string, forbidden: readonly string[]): string | undefined {
  return [...ALWAYS_FORBIDDEN, ...forbidden].find((f) => f.length > 0 && text.includes(f));
}

function checkErrorBody(text: string): string | undefined {
  try {
    const json = JSON.parse(text) as unknown;
    if (
      typeof json === "object" &&
      json !== null &&
      typeof (json as { error?: unknown }).error === "string" &&
      typeof (json as { message?: unknown }).message === "string" &&
      Object.keys(json).length === 2
    ) {
      return undefined;
    }
    return `error body is not {error, message}: ${text.slice(0, 120)}`;
  } catch {
    return `error body is not JSON: ${text.slice(0, 120)}`;
  }
}

async function runHttp(base: string, c: HttpCase): Promise<string[]> {
  const label = `[${c.group}] ${c.name}`;
  let body: RequestInit["body"];
  if (c.body && c.chunked) {
    const bytes = c.body;
    body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 16_384)
          controller.enqueue(new Uint8Array(bytes.subarray(i, i + 16_384)));
        controller.close();
      },
    });
  } else if (c.body) {
    body = new Uint8Array(c.body);
  }
  let res: Response;
  try {
    res = await fetch(`${base}${c.path}`, {
      method: c.method,
      headers: c.headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
      ...(c.chunked ? { duplex: "half" as const } : {}),
    });
  } catch (error) {
    return [
      `${label}: no answer (${(error as Error).message}; ${String((error as { cause?: unknown }).cause)})`,
    ];
  }
  const text = await res.text();
  const problems: string[] = [];
  if (!c.expect.includes(res.status))
    problems.push(`${label}: status ${res.status}, expected ${c.expect.join("|")}`);
  if (res.status < 400 || res.status >= 500) problems.push(`${label}: ${res.status} is not a 4xx`);
  if (res.status === 405 && !(res.headers.get("allow") ?? "").includes("POST"))
    problems.push(`${label}: no Allow header`);
  if (c.method !== "HEAD") {
    if (!(res.headers.get("content-type") ?? "").startsWith("application/json")) {
      problems.push(`${label}: content-type ${res.headers.get("content-type")}`);
    }
    const bad = checkErrorBody(text);
    if (bad) problems.push(`${label}: ${bad}`);
  }
  const headerText = [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
  const leaked = leaks(`${headerText}\n${text}`, c.forbidden);
  if (leaked !== undefined) problems.push(`${label}: answer echoes ${JSON.stringify(leaked.slice(0, 40))}`);
  return problems;
}

interface RawResult {
  data: Buffer;
  error?: string;
  timedOut: boolean;
}

function rawExchange(port: number, c: RawCase): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    let error: string | undefined;
    let settled = false;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      socket.destroy();
      resolve({ data: Buffer.concat(received), error, timedOut });
    };
    const watchdog = setTimeout(() => finish(true), 8_000);
    socket.on("data", (d: Buffer) => received.push(d));
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on("close", () => finish(false));
    socket.on("connect", async () => {
      for (const [i, chunk] of c.chunks.entries()) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (c.gapMs > 0 && i < c.chunks.length - 1) await sleep(c.gapMs);
      }
      if (c.abortAfterMs !== undefined) setTimeout(() => finish(false), c.abortAfterMs);
    });
  });
}

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Splits what came back into responses (Content-Length framed; anything else ends the parse). */
function parseResponses(data: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let offset = 0;
  while (offset < data.length) {
    const end = data.indexOf("\r\n\r\n", offset);
    if (end < 0) break;
    const head = data.subarray(offset, end).toString("latin1").split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "");
    if (!status) break;
    const headers = new Map<string, string>();
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get("content-length") ?? "0");
    const body = data.subarray(end + 4, end + 4 + length);
    out.push({ status: Number(status[1]), headers, body });
    if (headers.has("transfer-encoding")) break;
    offset = end + 4 + length;
  }
  return out;
}

async function runRaw(port: number, c: RawCase): Promise<string[]> {
  const label = `[${c.group}] ${c.name}`;
  const result = await rawExchange(port, c);
  const problems: string[] = [];
  const responses = parseResponses(result.data).filter((r) => r.status >= 200); // 100 Continue is interim
  if (result.timedOut) problems.push(`${label}: no answer within 8 s (hang)`);
  if (c.expect.length > 0 && !result.timedOut) {
    const last = responses.at(-1);
    if (!last) {
      if (!(c.mayReset && result.error === "ECONNRESET")) {
        problems.push(`${label}: no answer (${result.error ?? "closed"})`);
      }
    } else if (!c.expect.includes(last.status)) {
      problems.push(`${label}: status ${last.status}, expected ${c.expect.join("|")}`);
    }
  }
  for (const res of responses) {
    if (res.status < 400 || res.status >= 500) problems.push(`${label}: ${res.status} is not a 4xx`);
    // Node's own answers to unparseable HTTP carry no body; the gateway's carry {error, message}.
    if ((res.headers.get("content-type") ?? "").startsWith("application/json")) {
      const bad = checkErrorBody(res.body.toString("utf8"));
      if (bad) problems.push(`${label}: ${bad}`);
    }
  }
  const leaked = leaks(result.data.toString("latin1"), c.forbidden);
  if (leaked !== undefined) problems.push(`${label}: answer echoes ${JSON.stringify(leaked.slice(0, 40))}`);
  return problems;
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (;;) {
        const item = items[next++];
        if (item === undefined) return;
        await fn(item);
      }
    }),
  );
}

interface RoundResult {
  cases: HostileCase[];
  failures: string[];
}

async function hostileRound(gw: ChildGateway, port: number): Promise<RoundResult> {
  const cases = buildCases(Math.floor(Date.now() / 1000));
  const httpCases = cases.filter((c): c is HttpCase => c.kind === "http");
  const rawCases = cases.filter((c): c is RawCase => c.kind === "raw");
  const failures: string[] = [];

  const before = await scrape(gw.url);
  await pool(httpCases, HTTP_CONCURRENCY, async (c) => {
    failures.push(...(await runHttp(gw.url, c)));
  });
  const afterHttp = await scrape(gw.url);

  // The gateway must have refused each request for the reason the case was built for.
  const expected = new Map<string, number>();
  for (const c of httpCases) if (c.reason) expected.set(c.reason, (expected.get(c.reason) ?? 0) + 1);
  const reasons = new Set([...expected.keys(), ...afterHttp.rejected.keys()]);
  for (const reason of reasons) {
    const delta = (afterHttp.rejected.get(reason) ?? 0) - (before.rejected.get(reason) ?? 0);
    const want = expected.get(reason) ?? 0;
    if (delta !== want)
      failures.push(`rejected_total{reason="${reason}"} grew by ${delta}, expected ${want}`);
  }
  if (afterHttp.accepted !== before.accepted) failures.push("accepted_total grew during the hostile round");

  await pool(rawCases, RAW_CONCURRENCY, async (c) => {
    failures.push(...(await runRaw(port, c)));
  });
  const afterRaw = await scrape(gw.url);
  if (afterRaw.accepted !== before.accepted) failures.push("accepted_total grew during the raw round");
  return { cases, failures };
}

// ---------------------------------------------------------------------------------------------------

/** A digest of every case (bodies included), to show that two builds are identical. */
function fingerprint(cases: readonly HostileCase[]): string {
  const hash = createHash("sha256");
  for (const c of cases) {
    const { body, chunks, ...rest } = { body: undefined, chunks: undefined, ...c };
    hash.update(JSON.stringify(rest));
    if (body) hash.update(body);
    for (const chunk of chunks ?? []) hash.update(chunk);
  }
  return hash.digest("hex");
}

function countRows(dbPath: string, table: "events" | "deliveries"): number {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    const row = db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number } | undefined;
    return Number(row?.n ?? -1);
  } finally {
    db.close();
  }
}

async function healthy(url: string): Promise<number> {
  try {
    return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) })).status;
  } catch {
    return 0;
  }
}

describe("hostile input against the gateway process", () => {
  const dir = tempDir("engage-hostile-");
  const dbPath = join(dir.path, "gw.db");
  let gw: ChildGateway;
  let port: number;
  let warmupHeap = Number.NaN;

  beforeAll(async () => {
    const { configFile } = writeChildConfig(dir.path, { server: { bodyLimit: "64kb" } });
    port = await freePort();
    // A small young generation keeps short-lived garbage out of "heap used", so the leak check measures
    // what is retained rather than when the scavenger last ran.
    const nodeOptions = [process.env.NODE_OPTIONS, "--max-semi-space-size=1"].filter(Boolean).join(" ");
    gw = await spawnGateway(configFile, port, { LOG_LEVEL: "info", NODE_OPTIONS: nodeOptions });
  }, 30_000);

  afterAll(async () => {
    if (gw && gw.child.exitCode === null && gw.child.signalCode === null) {
      gw.child.kill("SIGTERM");
      const code = await Promise.race([gw.exited, sleep(12_000, "timeout")]);
      if (code === "timeout") gw.child.kill("SIGKILL");
    }
    dir.remove();
  }, 20_000);

  it("builds a deterministic set of several hundred hostile requests", () => {
    const a = buildCases(1_800_000_000);
    const b = buildCases(1_800_000_000);
    expect(a.length).toBeGreaterThanOrEqual(300);
    expect(fingerprint(a)).toBe(fingerprint(b));
    // The signing helper agrees with Svix's own signer, so the forgeries are forged for the reason intended.
    const body = '{"hello":"world"}';
    const reference = signedHeaders(TEST_SECRET, "msg_x", body, { timestamp: 1_800_000_000 });
    expect(svix(TEST_SECRET, "msg_x", 1_800_000_000, Buffer.from(body))).toEqual(reference);
  });

  it("answers every hostile request with a 4xx, stores nothing, and stays up (warm-up round)", {
    timeout: 60_000,
  }, async () => {
    const { failures } = await hostileRound(gw, port);
    expect(failures).toEqual([]);
    expect(countRows(dbPath, "events")).toBe(0);
    expect(countRows(dbPath, "deliveries")).toBe(0);
    expect(gw.child.exitCode).toBeNull();
    expect(await healthy(gw.url)).toBe(200);
    warmupHeap = (await scrape(gw.url)).heapUsed;
    expect(Number.isFinite(warmupHeap)).toBe(true);
  });

  it("keeps its heap bounded over three more rounds", { timeout: 90_000 }, async () => {
    for (let round = 0; round < 3; round++) {
      const { failures } = await hostileRound(gw, port);
      expect(failures, `round ${round + 2}`).toEqual([]);
    }
    const heapAfter = (await scrape(gw.url)).heapUsed;
    expect(heapAfter - warmupHeap).toBeLessThan(HEAP_GROWTH_LIMIT);
    expect(countRows(dbPath, "events")).toBe(0);
    expect(gw.child.exitCode).toBeNull();
    expect(await healthy(gw.url)).toBe(200);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  });

  it("still accepts and stores a valid signed request afterwards", async () => {
    const body = sampleEvent("contact.acceptsEmail.changed", { id: "evt-after-hostile" });
    const id = `msg_after_hostile_${Date.now()}`;
    const res = await fetch(`${gw.url}/webhooks/engage`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signedHeaders(TEST_SECRET, id, body) },
      body,
    });
    expect(res.status).toBe(204);
    expect(countRows(dbPath, "events")).toBe(1);
    const db = new DatabaseSync(dbPath, { readOnly: true });
    try {
      const row = db.prepare("SELECT svix_id, event_id, status FROM events").get() as
        | { svix_id: string; event_id: string; status: string }
        | undefined;
      expect(row).toEqual({ svix_id: id, event_id: "evt-after-hostile", status: "accepted" });
    } finally {
      db.close();
    }
  });

  it("stores validly signed but hostile bodies as ignored rather than failing", async () => {
    const bodies: [string, Buffer][] = [
      ["arrays nested 32000 deep", Buffer.from(`${"[".repeat(32_000)}${"]".repeat(32_000)}`)],
      ["objects nested 10000 deep", Buffer.from(`${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`)],
      [
        "payload nested 10000 deep",
        Buffer.from(
          `{"id":"signed-deep","eventType":"contact.acceptsEmail.changed","payload":${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}`,
        ),
      ],
      ["invalid UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d])],
      [
        "prototype keys",
        Buffer.from('{"__proto__":{"x":1},"constructor":{"prototype":{"y":2}},"id":{"a":1}}'),
      ],
      [
        "wrong field types",
        Buffer.from('{"id":123,"eventType":42,"tenant":{},"payload":"str","isEncrypted":"yes"}'),
      ],
      [
        "huge numbers",
        Buffer.from('{"id":1e999999,"eventType":"loyalty.addPoints","payload":{"points":1e400}}'),
      ],
      [
        "encrypted without a key",
        Buffer.from(
          '{"id":"e1","eventType":"contact.acceptsEmail.changed","isEncrypted":true,"payload":"!!"}',
        ),
      ],
      ["empty", Buffer.alloc(0)],
      ["random bytes", rng(SEED + 1).bytes(4096)],
    ];
    const before = countRows(dbPath, "events");
    for (const [name, body] of bodies) {
      const id = `msg_signed_hostile_${bodies.findIndex(([n]) => n === name)}_${Date.now()}`;
      const res = await fetch(`${gw.url}/webhooks/engage`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...svix(TEST_SECRET, id, Math.floor(Date.now() / 1000), body),
        },
        body: new Uint8Array(body),
      });
      expect(res.status, name).toBe(204);
    }
    expect(countRows(dbPath, "events")).toBe(before + bodies.length);
    expect(await healthy(gw.url)).toBe(200);
  });

  it("never logged a secret, a hostile body or an unhandled error", () => {
    const output = gw.output();
    expect(output).not.toContain(TEST_SECRET.slice("whsec_".length));
    expect(output).not.toContain(OTHER_SECRET.slice("whsec_".length));
    expect(output).not.toContain(MARK);
    expect(output).not.toMatch(/"level":(50|60)/);
  });
});
