import { decodeSecret, isValidPayloadKey, secret } from "@engage-bridge/core";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import type { ConnectorRegistry } from "../connectors/registry.ts";
import { connectorsSchema, rateLimitSchema } from "./connectors-schema.ts";

const SIZE = /^(\d+)\s*(b|kb|mb|gb)?$/i;
const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024, gb: 1024 * 1024 * 1024 };

export function parseSize(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) && value > 0 ? value : undefined;
  const match = SIZE.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * (UNITS[(match[2] ?? "b").toLowerCase()] ?? 1);
}

export function isCidrOrIp(value: string): boolean {
  try {
    if (value.includes("/")) ipaddr.parseCIDR(value);
    else ipaddr.parse(value);
    return true;
  } catch {
    return false;
  }
}

export { rateLimitSchema };

const signingSecret = secret(
  z.string().superRefine((value, ctx) => {
    try {
      decodeSecret(value);
    } catch (error) {
      // The message names the problem, never the secret.
      ctx.addIssue({
        code: "custom",
        message: (error as Error).message.replace(/^signing secret #1 /, "secret "),
      });
    }
  }),
);

const sourceSchema = z.strictObject({
  signingSecrets: z.array(signingSecret).min(1, "at least one signing secret is required"),
  toleranceSeconds: z.number().int().min(1).max(3600).default(300),
  allowedIps: z
    .array(z.string().refine((v) => v === "svix-eu" || isCidrOrIp(v), 'expected "svix-eu", an IP or a CIDR'))
    .min(1)
    .optional(),
  requiredHeaders: z
    .record(
      z.string().regex(/^[A-Za-z0-9-]+$/, "expected an HTTP header name"),
      secret(z.string().min(1, "must not be empty")),
    )
    .optional(),
  rateLimit: rateLimitSchema.optional(),
  payloadKey: secret(z.string().refine(isValidPayloadKey, "must be a 32-character key")).optional(),
  engageApi: z
    .strictObject({
      baseUrl: z.url({ protocol: /^https?$/ }),
      apiKey: secret(z.string().min(1)),
    })
    .optional(),
});
export type SourceConfig = z.output<typeof sourceSchema>;

const trustProxySchema = z.union([
  z.boolean(),
  z.number().int().min(0),
  z.array(z.string().refine(isCidrOrIp, "expected an IP or a CIDR")).min(1),
  z
    .string()
    .refine((v) => v.split(",").every((p) => isCidrOrIp(p.trim())), "expected a list of IPs or CIDRs"),
]);

const storeSchema = z
  .string()
  .refine(
    (v) => /^sqlite:.+/.test(v) || /^postgres(ql)?:\/\/.+/.test(v),
    "expected sqlite:<path> or postgres://…",
  );

/** `true`, or a list naming every address (`0.0.0.0/0`, `::/0`): any client can claim any address. */
function trustsEveryHop(trustProxy: boolean | number | string | readonly string[]): boolean {
  if (trustProxy === true) return true;
  const list =
    typeof trustProxy === "string" ? trustProxy.split(",") : Array.isArray(trustProxy) ? trustProxy : [];
  return list.some((entry) => /^(0\.0\.0\.0|::)\/0$/.test(String(entry).trim()));
}

export interface ConfigSchemaOptions {
  /**
   * Accept connector blocks no registered connector claims, unvalidated: `check-config` without
   * `--load-plugins` cannot know the plugins' connectors (it does not run their code).
   */
  unknownConnectors?: "refuse" | "accept";
}

export function buildConfigSchema(connectors: ConnectorRegistry, options: ConfigSchemaOptions = {}) {
  return z
    .strictObject({
      server: z
        .strictObject({
          host: z.string().min(1).default("0.0.0.0"),
          port: z.number().int().min(0).max(65535).default(8080),
          bodyLimit: z
            .union([z.string(), z.number()])
            .refine((v) => parseSize(v) !== undefined, "expected a size such as 1mb, 512kb or bytes")
            .transform((v) => parseSize(v) as number)
            .default(1024 * 1024),
          trustProxy: trustProxySchema.default(false),
          maxInflightBytes: z
            .union([z.string(), z.number()])
            .refine((v) => parseSize(v) !== undefined, "expected a size such as 64mb or bytes")
            .transform((v) => parseSize(v) as number)
            .default(64 * 1024 * 1024),
        })
        .prefault({}),
      store: storeSchema.default("sqlite:./data/engage-bridge.db"),
      storeOptions: z
        .strictObject({
          statementTimeoutMs: z.number().int().min(100).max(14_000).default(5_000),
          connectTimeoutMs: z.number().int().min(100).max(14_000).default(5_000),
        })
        .prefault({}),
      sources: z
        .record(
          z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "source names are letters, digits, - and _"),
          sourceSchema,
        )
        .refine((s) => Object.keys(s).length > 0, "at least one source is required"),
      connectors: connectorsSchema(connectors, options.unknownConnectors ?? "refuse").default({}),
      delivery: z
        .strictObject({
          maxAttempts: z.number().int().min(1).max(1000).default(15),
          maxAgeHours: z
            .number()
            .positive()
            .max(24 * 365)
            .default(72),
          /** Backoff: the n-th retry waits up to min(retryMaxSeconds, retryBaseSeconds·2^(n−1)), full jitter. */
          retryBaseSeconds: z.number().positive().max(3600).default(5),
          retryMaxSeconds: z.number().positive().max(86_400).default(3600),
          /** A deliver() call is aborted (and retried) after this long. */
          attemptTimeoutSeconds: z.number().positive().max(600).default(30),
          /** How often an idle worker looks for due deliveries (it is also woken by new events). */
          pollIntervalMs: z.number().int().min(10).max(60_000).default(500),
        })
        .prefault({}),
      admin: z
        .strictObject({ token: secret(z.string().min(16, "must be at least 16 characters")) })
        .optional(),
      /** Extra connector modules: package names, or paths relative to the config file. */
      plugins: z.array(z.string().min(1)).default([]),
    })
    .superRefine((config, ctx) => {
      for (const [name, instance] of Object.entries(config.connectors)) {
        for (const source of instance.filter?.sources ?? []) {
          if (!Object.hasOwn(config.sources, source)) {
            ctx.addIssue({
              code: "custom",
              path: ["connectors", name, "filter", "sources"],
              message: `no source is named ${source} (sources: ${Object.keys(config.sources).join(", ")})`,
            });
          }
        }
      }
      // `true` trusts every X-Forwarded-For hop, so any client can claim an allowed address.
      const listed = Object.entries(config.sources).filter(([, source]) => source.allowedIps);
      if (trustsEveryHop(config.server.trustProxy) && listed.length > 0) {
        ctx.addIssue({
          code: "custom",
          path: ["server", "trustProxy"],
          message:
            `this trusts every proxy hop, so any client can forge an allowed address (allowedIps is set for ` +
            `${listed.map(([name]) => name).join(", ")}): give the number of proxies in front of the gateway ` +
            "(e.g. 1) or their addresses/CIDRs",
        });
      }
    });
}

export type GatewayConfig = z.output<ReturnType<typeof buildConfigSchema>>;
export type { EnabledConnectorConfig } from "./connectors-schema.ts";
