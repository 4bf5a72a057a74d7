import { secret } from "@engage-bridge/core";
import { z } from "zod";

/** Visible ASCII without spaces: anything else cannot travel in an `Authorization` header. */
const HEADER_TOKEN = /^[\x21-\x7e]+$/;

/**
 * `connectors.sendgrid` (without `enabled` and `rateLimit`, which the gateway handles). Keys and
 * defaults are those of the contract: `apiKey`, `baseUrl` (default `https://api.sendgrid.com`),
 * `groupId` (optional; absent = global unsubscribes).
 */
export const sendgridConfigSchema = z.strictObject({
  apiKey: secret(
    z
      .string()
      .min(1, "must be set")
      .refine(
        (value) => value === "" || HEADER_TOKEN.test(value),
        "must be printable ASCII without spaces (a SendGrid API key starts with SG.)",
      ),
  ),
  baseUrl: z
    .url()
    .default("https://api.sendgrid.com")
    .refine((value) => {
      const url = URL.parse(value);
      return url === null || (/^https?:$/.test(url.protocol) && url.search === "" && url.hash === "");
    }, "must be an http(s) URL without query or fragment"),
  groupId: z
    .union([z.number(), z.string().regex(/^\d+$/, "must be a number").transform(Number)])
    .pipe(z.number().int().positive().max(Number.MAX_SAFE_INTEGER))
    .optional(),
});

/** The config as written in the file. */
export type SendGridConfigInput = z.input<typeof sendgridConfigSchema>;
/** The config after validation and defaults, as the connector receives it. */
export type SendGridConfig = z.output<typeof sendgridConfigSchema>;
