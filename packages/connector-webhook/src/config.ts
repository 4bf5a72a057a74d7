import { decodeSecret, secret } from "@engage-bridge/core";
import { z } from "zod";

/**
 * Headers the connector writes itself: the body's type and length, the host, and the Standard
 * Webhooks headers (a receiver verifies the signature with them). A custom header must not replace one.
 */
export const RESERVED_HEADERS: readonly string[] = [
  "content-type",
  "content-length",
  "host",
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
];

/** Connection-level headers: HTTP (and fetch) manage them, a request cannot set them. */
const CONNECTION_HEADERS: readonly string[] = [
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "expect",
  "te",
  "trailer",
  "proxy-connection",
];

/** An HTTP field name (RFC 9110 §5.1: a token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What a field value may hold (RFC 9110 §5.5, as a fetch ByteString): no control characters but tab. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const LOOPBACK_NAMES = new Set(["localhost", "[::1]"]);
const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** Whether `hostname` (as `URL` normalizes it) names this machine: `localhost`, `127.0.0.0/8` or `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return LOOPBACK_NAMES.has(host) || LOOPBACK_V4.test(host);
}

const urlSchema = z
  .url()
  .superRefine((value, ctx) => {
    const url = URL.parse(value);
    if (url === null) return; // z.url() has said so already
    if (url.protocol === "http:") {
      if (!isLoopbackHost(url.hostname)) {
        ctx.addIssue({
          code: "custom",
          message:
            "must be https: events carry personal data and the receiver's credentials; plain http is " +
            "accepted only for a loopback host (localhost, 127.0.0.1, [::1])",
        });
      }
    } else if (url.protocol !== "https:") {
      ctx.addIssue({ code: "custom", message: `must be an https URL (not ${url.protocol})` });
    }
    if (url.hash !== "" || value.includes("#")) {
      ctx.addIssue({ code: "custom", message: "must not have a #fragment (it is never sent)" });
    }
  })
  .describe(
    "Where events are POSTed: an https URL (http only for a loopback host: localhost, 127.0.0.1, [::1]). " +
      "Redirects are not followed. Credentials in the URL (`https://user:password@host/…`) are sent as " +
      "`Authorization: Basic`; such a password, or a query parameter named like a credential (`token`, " +
      "`key`, …), is masked when config is printed.",
  );

const secretSchema = secret(
  z.string().superRefine((value, ctx) => {
    try {
      decodeSecret(value);
    } catch (error) {
      // "signing secret #1 is not base64 …": say what is wrong without the value.
      const problem = (error as Error).message.replace(/^signing secret #\d+ /, "");
      ctx.addIssue({
        code: "custom",
        message:
          "must be a Standard Webhooks secret: whsec_ followed by the base64 of at least 24 random bytes " +
          `(e.g. "whsec_$(openssl rand -base64 32)"); this one ${problem}`,
      });
    }
  }),
).describe(
  "Signing secret shared with the receiver: `whsec_` + the base64 of at least 24 random bytes " +
    "(32 recommended), as the Svix and Standard Webhooks libraries take it. Every request carries `webhook-id`, `webhook-timestamp` and " +
    "`webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`).",
);

const headersSchema = z
  .record(
    z.string().regex(HEADER_NAME, "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"),
    secret(
      z
        .string()
        .min(1, "must not be empty")
        .regex(HEADER_VALUE, "must not contain line breaks or other control characters"),
    ).describe("Header value (secret: masked when config is printed)."),
  )
  .superRefine((headers, ctx) => {
    const seen = new Map<string, string>();
    for (const name of Object.keys(headers)) {
      const lower = name.toLowerCase();
      if (RESERVED_HEADERS.includes(lower)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `${lower} is set by the connector (body type and length, host, Standard Webhooks signature) and cannot be overridden`,
        });
      } else if (CONNECTION_HEADERS.includes(lower)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `${lower} is a connection header that HTTP manages; a request cannot set it`,
        });
      }
      const other = seen.get(lower);
      if (other !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `is the same header as ${other} (header names are case-insensitive)`,
        });
      }
      seen.set(lower, name);
    }
  })
  .optional()
  .describe(
    "Extra request headers, name → value: e.g. an `x-api-key` or an `authorization` the receiver checks. Values are secrets (masked when config is printed, never logged). Cannot " +
      `replace ${RESERVED_HEADERS.join(", ")}.`,
  );

/** `connectors.webhook` (without `enabled`, `filter` and `rateLimit`, which the gateway handles). */
export const webhookConfigSchema = z
  .strictObject({
    url: urlSchema,
    secret: secretSchema,
    headers: headersSchema,
    batch: z
      .boolean()
      .default(false)
      .describe(
        "false (default): one POST per event, its body one JSON object, `webhook-id` = the event id. " +
          "true: up to 100 events per POST as a JSON array, `webhook-id` = `batch_` + a hash of the " +
          "deliveries (deduplicate by each element's `id`).",
      ),
  })
  .superRefine((config, ctx) => {
    const url = URL.parse(config.url);
    const hasAuthorization = Object.keys(config.headers ?? {}).some(
      (n) => n.toLowerCase() === "authorization",
    );
    if (url && (url.username !== "" || url.password !== "") && hasAuthorization) {
      ctx.addIssue({
        code: "custom",
        path: ["headers"],
        message:
          "sets authorization while url carries credentials (user:password@), which are sent as " +
          "Authorization: Basic: keep one of them",
      });
    }
  })
  .describe(
    "Webhook: forwards the events it handles (every known Engage type; narrow them with `filter`) to any " +
      "HTTPS endpoint, signed per Standard Webhooks (verify with the `svix` or `standardwebhooks` " +
      "libraries). The receiver gets the payload as received, after decryption. Every event is sent as it " +
      "was received, under its own id: preference changes are not reordered or skipped.",
  );

/** The config as written in the file. */
export type WebhookConfigInput = z.input<typeof webhookConfigSchema>;
/** The config after validation and defaults, as the connector receives it. */
export type WebhookConfig = z.output<typeof webhookConfigSchema>;
