import { createHash } from "node:crypto";
import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * Paths removed from every log line, whoever logs them. Our own code logs neither secrets nor
 * personal data; this is the net under it (connectors and future code included).
 */
const REDACT = [
  "req.headers",
  "headers",
  "*.headers",
  "body",
  "*.body",
  "payload",
  "*.payload",
  "email",
  "*.email",
  "contactId",
  "*.contactId",
  "secret",
  "*.secret",
  "signingSecrets",
  "*.signingSecrets",
  "apiKey",
  "*.apiKey",
  "accessToken",
  "*.accessToken",
  "token",
  "*.token",
  "payloadKey",
  "*.payloadKey",
  "authorization",
  "*.authorization",
];

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? "info",
      base: { service: "engage-bridge" },
      redact: { paths: REDACT, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
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
  return `c_${createHash("sha256").update(`engage-bridge:${contactId}`).digest("hex").slice(0, 10)}`;
}
