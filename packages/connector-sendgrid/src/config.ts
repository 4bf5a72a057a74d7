import { secret } from "@engage-bridge/core";
import { z } from "zod";

/** Visible ASCII without spaces: anything else cannot travel in an `Authorization` header. */
const HEADER_TOKEN = /^[\x21-\x7e]+$/;

/** `connectors.sendgrid` (without `enabled` and `rateLimit`, which the gateway handles). */
export const sendgridConfigSchema = z
  .strictObject({
    apiKey: secret(
      z
        .string()
        .min(1, "must be set")
        .refine(
          (value) => value === "" || HEADER_TOKEN.test(value),
          "must be printable ASCII without spaces (a SendGrid API key starts with SG.)",
        ),
    ).describe(
      "SendGrid API key (`SG.…`, secret) with Suppressions access: create, read and delete suppressions, " +
        "and read unsubscribe groups when `groupId` is set.",
    ),
    baseUrl: z
      .url()
      .default("https://api.sendgrid.com")
      .refine((value) => {
        const url = URL.parse(value);
        return url === null || (/^https?:$/.test(url.protocol) && url.search === "" && url.hash === "");
      }, "must be an http(s) URL without query or fragment")
      .describe(
        "SendGrid API root, http(s) without query or fragment: default `https://api.sendgrid.com`, " +
          "`https://api.eu.sendgrid.com` for EU regional subusers.",
      ),
    groupId: z
      .union([z.number(), z.string().regex(/^\d+$/, "must be a number").transform(Number)])
      .pipe(z.number().int().positive().max(Number.MAX_SAFE_INTEGER))
      .optional()
      .describe(
        "Unsubscribe group id (a number or a digit string) that opt-outs go to; absent = global " +
          "unsubscribes. Checked at start-up: SendGrid silently puts addresses sent to an unknown group " +
          "on the global list.",
      ),
  })
  .describe(
    "SendGrid: a contact that stops accepting email in Engage is added to the global unsubscribes (or to " +
      "the `groupId` unsubscribe group), and removed when it accepts again. The source needs `engageApi`, " +
      "which gives the address; without it every event is skipped.",
  );

/** The config as written in the file. */
export type SendGridConfigInput = z.input<typeof sendgridConfigSchema>;
/** The config after validation and defaults, as the connector receives it. */
export type SendGridConfig = z.output<typeof sendgridConfigSchema>;
