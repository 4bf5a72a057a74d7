import { hash } from "node:crypto";
import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * Keys whose values are removed from every log line, whoever logs them, at the top level of a line
 * and one level down (`{ err: { headers } }`, `{ req: { headers } }`). Our own code logs neither
 * secrets nor personal data; this is the net under it (connectors and future code included).
 */
const REDACTED_KEYS: ReadonlySet<string> = new Set([
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
]);
const CENSOR = "[redacted]";

/** A copy of an object with the same prototype (an error still serializes as its class). */
function copyOf(record: object): Record<string, unknown> {
  const copy = Object.create(Object.getPrototypeOf(record)) as Record<string, unknown>;
  // Values, not descriptors: an error's `stack` is an accessor that only works on the original.
  for (const name of Object.getOwnPropertyNames(record)) {
    Object.defineProperty(copy, name, {
      value: (record as Record<string, unknown>)[name],
      enumerable: Object.prototype.propertyIsEnumerable.call(record, name),
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

/** `record` with its redacted keys censored: a copy, or `record` itself when it has nothing to censor. */
function censorKeys(record: object): object {
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    if (!REDACTED_KEYS.has(key) || !Object.hasOwn(record, key)) continue;
    copy ??= copyOf(record);
    copy[key] = CENSOR;
  }
  return copy ?? record;
}

/**
 * The redaction net for a line, as pino's `formatters.log`: it runs on every line, so it allocates
 * only for a line that holds something to censor, one level down included. (pino's own `redact`
 * option, with wildcard paths, ran its path engine on every value of every line: ~5 % of the
 * gateway's CPU at `info` under load, docs/benchmarks.md.)
 */
function redactLine(line: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in line) {
    if (!Object.hasOwn(line, key)) continue;
    const value = line[key];
    let next = value;
    if (REDACTED_KEYS.has(key)) next = CENSOR;
    else if (typeof value === "object" && value !== null && !Array.isArray(value)) next = censorKeys(value);
    if (next === value) continue;
    out ??= { ...line };
    out[key] = next;
  }
  return out ?? line;
}

/**
 * pino applies serializers by key to lines and to child bindings alike (which `formatters.log` never
 * sees): a child logger bound to `{ token }` logs it censored.
 */
const censorSerializers = Object.fromEntries([...REDACTED_KEYS].map((key) => [key, () => CENSOR]));

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? "info",
      base: { service: "engage-bridge" },
      serializers: censorSerializers,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: redactLine },
    },
    options.destination,
  );
}

/**
 * A stable pseudonym for a contact id, so that log lines about one contact can be correlated
 * without printing the id itself.
 */
export function maskContactId(contactId: string | undefined | null): string | undefined {
  if (!contactId) return undefined;
  return `c_${hash("sha256", `engage-bridge:${contactId}`).slice(0, 10)}`;
}
