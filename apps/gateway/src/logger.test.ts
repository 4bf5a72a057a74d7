import { createHash } from "node:crypto";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { createLogger, maskContactId, preparedLine } from "./logger.ts";

function capture(level = "info") {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level,
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

const SECRET_KEYS = [
  "headers",
  "body",
  "payload",
  "email",
  "contactId",
  "secret",
  "signingSecrets",
  "apiKey",
  "accessToken",
  "token",
  "payloadKey",
  "authorization",
];

describe("log redaction", () => {
  it("censors every sensitive key at the top of a line and keeps the rest", () => {
    const { logger, lines } = capture();
    const fields = Object.fromEntries(SECRET_KEYS.map((key) => [key, `value-of-${key}`]));
    logger.info({ source: "engage", eventId: "e-1", deliveries: 2, ...fields }, "webhook stored");
    const line = lines[0] ?? {};
    for (const key of SECRET_KEYS) expect(line[key], key).toBe("[redacted]");
    expect(line).toMatchObject({ source: "engage", eventId: "e-1", deliveries: 2, msg: "webhook stored" });
    expect(JSON.stringify(lines)).not.toContain("value-of-");
  });

  it("censors them one level down, in objects and errors, without touching the caller's values", () => {
    const { logger, lines } = capture();
    const req = { method: "POST", headers: { authorization: "Bearer s3cret" } };
    const error = Object.assign(new TypeError("target refused"), {
      status: 401,
      headers: { "set-cookie": "session=s3cret" },
      body: "customer@example.com",
    });
    logger.warn({ req, err: error, nested: { deeper: { kept: "ok" } } }, "failed");
    const line = lines[0] as Record<string, Record<string, unknown>>;
    expect(line.req).toEqual({ method: "POST", headers: "[redacted]" });
    expect(line.err).toMatchObject({
      type: "TypeError",
      message: "target refused",
      status: 401,
      headers: "[redacted]",
      body: "[redacted]",
    });
    expect(String(line.err?.stack)).toContain("target refused");
    expect(line.nested).toEqual({ deeper: { kept: "ok" } });
    expect(JSON.stringify(lines)).not.toMatch(/s3cret|customer@/);
    expect(req.headers.authorization).toBe("Bearer s3cret");
    expect(error.body).toBe("customer@example.com");
  });

  it("censors child bindings too", () => {
    const { logger, lines } = capture();
    logger.child({ connector: "crm", token: "s3cret" }).info("bound");
    expect(lines[0]).toMatchObject({ connector: "crm", token: "[redacted]", service: "engage-bridge" });
  });

  it("serializes an error that has nothing to censor as pino would", () => {
    const { logger, lines } = capture();
    logger.error({ err: new RangeError("out of range") }, "boom");
    expect(lines[0]?.err).toMatchObject({ type: "RangeError", message: "out of range" });
  });
});

describe("maskContactId", () => {
  it("is a stable 10-hex-digit pseudonym of the id, never the id", () => {
    const id = "1c9b35d6-28d8-4520-8900-a89555f7f0c5";
    const expected = createHash("sha256").update(`engage-bridge:${id}`).digest("hex").slice(0, 10);
    expect(maskContactId(id)).toBe(`c_${expected}`);
    expect(maskContactId(id)).toBe(maskContactId(id));
    expect(maskContactId("other")).not.toBe(maskContactId(id));
    expect(maskContactId(undefined)).toBeUndefined();
    expect(maskContactId("")).toBeUndefined();
  });
});

describe("preparedLine", () => {
  function raw(level = "info") {
    const lines: string[] = [];
    const logger = createLogger({ level, destination: { write: (line: string) => lines.push(line) } });
    return { logger, lines };
  }
  const sameTime = (line: string | undefined) => String(line).replace(/"time":"[^"]*"/, '"time":"T"');
  const KEYS = [
    "reqId",
    "eventId",
    "eventType",
    "statusReason",
    "deliveries",
    "flag",
    "none",
    "nothing",
  ] as const;
  const FIELDS = {
    reqId: "a1b2_3",
    // What a verified but odd body may carry: quotes, control characters, non-ASCII, a lone surrogate.
    eventId: 'id "with" \\ back\nslash\u0001 ünï \ud800',
    eventType: "x".repeat(300),
    statusReason: undefined,
    deliveries: 3,
    flag: true,
    none: null,
    nothing: Number.NaN,
  };

  it("writes byte for byte what pino writes for the same fields, time aside", () => {
    const { logger, lines } = raw();
    preparedLine(logger, "info", "webhook stored", KEYS)(FIELDS);
    logger.info(FIELDS, "webhook stored");
    expect(lines).toHaveLength(2);
    expect(sameTime(lines[0])).toBe(sameTime(lines[1]));
    expect(JSON.parse(String(lines[0]))).toMatchObject({
      level: "info",
      service: "engage-bridge",
      deliveries: 3,
    });
    expect(lines[0]).not.toContain("statusReason");
  });

  it("carries a child logger's bindings, as pino does", () => {
    const { logger, lines } = raw();
    const child = logger.child({ worker: "w-1" });
    preparedLine(child, "warn", "slow", ["ms"])({ ms: 12 });
    child.warn({ ms: 12 }, "slow");
    expect(sameTime(lines[0])).toBe(sameTime(lines[1]));
    expect(JSON.parse(String(lines[0]))).toMatchObject({ level: "warn", worker: "w-1", ms: 12, msg: "slow" });
  });

  it("writes nothing when its level is off", () => {
    const { logger, lines } = raw("warn");
    preparedLine(logger, "info", "webhook stored", ["reqId"])({ reqId: "r" });
    expect(lines).toEqual([]);
  });

  it("refuses a key that the redaction net censors", () => {
    const { logger } = raw();
    expect(() => preparedLine(logger, "info", "x", ["contactId"])).toThrow(/censored/);
  });

  it("falls back to pino's own call for a logger it was not made for", () => {
    const lines: string[] = [];
    const logger = pino({ mixin: () => ({ mixed: true }) }, { write: (line: string) => lines.push(line) });
    preparedLine(logger, "info", "webhook stored", ["reqId"])({ reqId: "r" });
    expect(JSON.parse(String(lines[0]))).toMatchObject({
      level: 30,
      mixed: true,
      reqId: "r",
      msg: "webhook stored",
    });
  });
});
