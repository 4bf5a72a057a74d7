import { hash } from "node:crypto";
import pino, { type DestinationStream, type Logger } from "pino";
import { stdoutTurnDestination } from "./log-destination.ts";

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

/**
 * The gateway's logger: JSON lines with the level's label and an ISO time, the redaction net, and by
 * default standard output written once per event-loop turn (log-destination.ts).
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? "info",
      base: { service: "engage-bridge" },
      serializers: censorSerializers,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: redactLine },
    },
    options.destination ?? stdoutTurnDestination(),
  );
}

/** A prepared line's field values: what pino writes as plain JSON (undefined: left out, as pino does). */
export type LineFields<K extends string> = Readonly<Record<K, string | number | boolean | null | undefined>>;

const { chindingsSym, endSym, formattersSym, hooksSym, lsCacheSym, messageKeySym, mixinSym, nestedKeySym } =
  pino.symbols;
const { errorKeySym, needsMetadataGsym, serializersSym, streamSym, stringifiersSym, timeSym } = pino.symbols;

/**
 * One log line of a fixed shape for the hottest path (a line per webhook), formatted as a template:
 * its keys are known, so it skips what pino does per line for any object (the redaction net's
 * walk, a serializer lookup and a character scan per key). It writes what `logger[level](fields,
 * msg)` writes, to the same destination (tested against pino's own line): pino's level prefix,
 * time, bindings and message key. A logger this was not made for (another formatter, a mixin, a
 * hook, a destination that wants metadata) simply gets the ordinary call.
 */
export function preparedLine<K extends string>(
  logger: Logger,
  level: "info" | "warn",
  msg: string,
  keys: readonly K[],
): (fields: LineFields<K>) => void {
  for (const key of keys)
    if (REDACTED_KEYS.has(key))
      throw new Error(`"${key}" is censored on every line: not a field of a prepared line`);
  const internals = logger as unknown as Record<symbol, unknown>;
  const formatters = internals[formattersSym] as { log?: unknown };
  const stream = internals[streamSym] as DestinationStream & Record<symbol, unknown>;
  const hooks = internals[hooksSym] as { streamWrite?: unknown } | undefined;
  const special = new Set([
    internals[errorKeySym],
    ...Object.keys(internals[serializersSym] as object),
    ...Object.keys(internals[stringifiersSym] as object),
  ]);
  const plain =
    formatters.log === redactLine &&
    !internals[mixinSym] &&
    !internals[nestedKeySym] &&
    !hooks?.streamWrite &&
    stream[needsMetadataGsym] !== true &&
    keys.every((key) => !special.has(key));
  const fallback = (fields: LineFields<K>) => logger[level](fields as object, msg);
  if (!plain) return fallback;

  const levelPrefix = (internals[lsCacheSym] as Record<number, string>)[
    logger.levels.values[level] as number
  ];
  const time = internals[timeSym] as () => string;
  const end = `,${JSON.stringify(internals[messageKeySym])}:${JSON.stringify(msg)}${internals[endSym] as string}`;
  const names = keys.map((key) => `,${JSON.stringify(key)}:`);
  return (fields) => {
    if (!logger.isLevelEnabled(level)) return;
    let line = levelPrefix + time() + (internals[chindingsSym] as string);
    for (let i = 0; i < keys.length; i++) {
      const value = fields[keys[i] as K];
      if (value === undefined) continue;
      line += (names[i] as string) + JSON.stringify(value);
    }
    stream.write(line + end);
  };
}

/**
 * A stable pseudonym for a contact id, so that log lines about one contact can be correlated
 * without printing the id itself.
 */
export function maskContactId(contactId: string | undefined | null): string | undefined {
  if (!contactId) return undefined;
  return `c_${hash("sha256", `engage-bridge:${contactId}`).slice(0, 10)}`;
}
