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
).describe("A Svix signing secret (`whsec_…`; the prefix is optional).");

const sourceSchema = z
  .strictObject({
    signingSecrets: z
      .array(signingSecret)
      .min(1, "at least one signing secret is required")
      .describe(
        "The Engage endpoint's Svix signing secrets, with or without the `whsec_` prefix. A request is " +
          "accepted when its signature matches any of them, so list the new and the old secret while " +
          "rotating. At least one.",
      ),
    toleranceSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(300)
      .describe(
        "How far a request's `svix-timestamp` may be from the gateway's clock, in seconds, before it is " +
          "refused as stale (401): the replay window. 1–3600, default 300.",
      ),
    allowedIps: z
      .array(
        z
          .string()
          .refine((v) => v === "svix-eu" || isCidrOrIp(v), 'expected "svix-eu", an IP or a CIDR')
          .describe("`svix-eu`, an IP address or a CIDR range."),
      )
      .min(1)
      .optional()
      .describe(
        "Client addresses allowed to post to this source, others get 403: `svix-eu` (Svix's published EU " +
          "addresses, which Engage sends from), IPs and/or CIDRs; absent = any address. Behind a proxy, " +
          "set `server.trustProxy` to a hop count or the proxies' addresses, never `true`.",
      ),
    requiredHeaders: z
      .record(
        z.string().regex(/^[A-Za-z0-9-]+$/, "expected an HTTP header name"),
        secret(z.string().min(1, "must not be empty")).describe(
          "The header's exact expected value (secret: masked when config is printed).",
        ),
      )
      .optional()
      .describe(
        "Headers every request must carry with exactly these values, e.g. a shared token set on the " +
          "Engage side: the key is the header name (case-insensitive), the value is compared in constant " +
          "time. A missing or wrong header answers 403; absent = none required.",
      ),
    rateLimit: rateLimitSchema
      .optional()
      .describe(
        "Limit on webhooks accepted for this source: at most `requests` per `perSeconds` seconds, beyond " +
          "which requests are answered 429 with `Retry-After`. Redeliveries of a stored `svix-id` spend " +
          "nothing; absent = no limit.",
      ),
    payloadKey: secret(z.string().refine(isValidPayloadKey, "must be a 32-character key"))
      .optional()
      .describe(
        "The 32-character key that decrypts the payloads of events Engage sends with `isEncrypted` " +
          "(secret). Without it, or with a key that does not decrypt them, such events are stored as " +
          "`undecryptable` and not delivered.",
      ),
    engageApi: z
      .strictObject({
        baseUrl: z
          .url({ protocol: /^https?$/ })
          .describe(
            "Your Engage instance's base URL, e.g. `https://acme.voyado.com` (http or https); contacts " +
              "are read from `<baseUrl>/api/v3/contacts/<id>`.",
          ),
        apiKey: secret(z.string().min(1)).describe(
          "Engage API key, sent in the `apikey` header (secret: masked when config is printed).",
        ),
      })
      .optional()
      .describe(
        "Voyado Engage API access for contact lookups at delivery time. Makes consent convergent: " +
          "connectors apply Engage's current value whatever the order of events, and get the contact's " +
          "email (connectors that act on an address skip events that carry none). Recommended; without it, the " +
          "payload's value is applied.",
      ),
  })
  .describe(
    "One Engage webhook endpoint, served at `POST /webhooks/<name>`: how its requests are authenticated " +
      "(signature, optional IP allowlist and required headers), rate-limited and decrypted, and how its " +
      "contacts are looked up in Engage.",
  );
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

/** A PostgreSQL timeout: under 15 s, so that a hung server answers Svix well before it gives up. */
const timeoutMs = () => z.number().int().min(100).max(14_000).default(5_000);

export function buildConfigSchema(connectors: ConnectorRegistry, options: ConfigSchemaOptions = {}) {
  return z
    .strictObject({
      server: z
        .strictObject({
          host: z
            .string()
            .min(1)
            .default("0.0.0.0")
            .describe(
              "Address the HTTP server listens on. Default `0.0.0.0` (every IPv4 interface); `127.0.0.1` " +
                "accepts local connections only.",
            ),
          port: z
            .number()
            .int()
            .min(0)
            .max(65535)
            .default(8080)
            .describe(
              "TCP port of the HTTP server (webhooks, health, metrics, admin API), 0–65535. Default 8080; " +
                "the `PORT` environment variable overrides it.",
            ),
          bodyLimit: z
            .union([z.string(), z.number()])
            .refine((v) => parseSize(v) !== undefined, "expected a size such as 1mb, 512kb or bytes")
            .transform((v) => parseSize(v) as number)
            .default(1024 * 1024)
            .describe(
              "Largest webhook body accepted; a bigger one is answered 413. A size such as `1mb` or " +
                "`512kb` (b, kb, mb, gb; 1kb = 1024 bytes) or a number of bytes; default `1mb`.",
            ),
          trustProxy: trustProxySchema
            .default(false)
            .describe(
              "Whose `X-Forwarded-For` to believe for the client address that `allowedIps` checks " +
                '(Express "trust proxy"): `false` (default: the socket\'s address), a hop count (`1` = ' +
                "one proxy in front of the gateway), or the proxies' IPs/CIDRs as a list or a " +
                "comma-separated string. `true`, or a list with `0.0.0.0/0` or `::/0`, trusts every hop, " +
                "so any client can claim any address: refused when a source sets `allowedIps`.",
            ),
          maxInflightBytes: z
            .union([z.string(), z.number()])
            .refine((v) => parseSize(v) !== undefined, "expected a size such as 64mb or bytes")
            .transform((v) => parseSize(v) as number)
            .default(64 * 1024 * 1024)
            .describe(
              "Most request-body bytes held in memory at once, across all connections; a request beyond " +
                "it is answered 503 with `Retry-After` (Svix retries). A size such as `64mb` or a number " +
                "of bytes; default `64mb`.",
            ),
        })
        .prefault({})
        .describe(
          "The HTTP server: listen address and port, request size limits, and which proxies to trust for " +
            "the client address. Every key has a default.",
        ),
      store: storeSchema
        .default("sqlite:./data/engage-bridge.db")
        .describe(
          "Where events and deliveries are kept: `sqlite:<path>` (default " +
            "`sqlite:./data/engage-bridge.db`, relative to the working directory; one gateway process per " +
            "role) or `postgres://user:pass@host:5432/db` (`postgresql://` too) for several gateway " +
            "processes sharing one queue. The URL's password is masked when config is printed.",
        ),
      storeOptions: z
        .strictObject({
          statementTimeoutMs: timeoutMs().describe(
            "PostgreSQL `statement_timeout` and `lock_timeout` of every statement, in milliseconds " +
              "(100–14000, default 5000); the client gives up 2 s later if the server does not answer.",
          ),
          connectTimeoutMs: timeoutMs().describe(
            "How long to wait for a PostgreSQL connection, new or from the pool, in milliseconds " +
              "(100–14000, default 5000).",
          ),
        })
        .prefault({})
        .describe(
          "PostgreSQL timeouts (unused with SQLite): a hung or locked database makes webhooks answer 503, " +
            "which Svix retries, well within Svix's 15 s wait. Optional; both default to 5 s.",
        ),
      sources: z
        .record(
          z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "source names are letters, digits, - and _"),
          sourceSchema,
        )
        .refine((s) => Object.keys(s).length > 0, "at least one source is required")
        .describe(
          "Webhook sources, by name (letters, digits, `-` and `_`; up to 64): one per Engage webhook " +
            "endpoint, served at `POST /webhooks/<name>` and named in connector filters. At least one.",
        ),
      connectors: connectorsSchema(connectors, options.unknownConnectors ?? "refuse").default({}),
      delivery: z
        .strictObject({
          maxAttempts: z
            .number()
            .int()
            .min(1)
            .max(1000)
            .default(15)
            .describe(
              "Attempts before a delivery is `dead` (1–1000, default 15). Attempts a target's rate limit " +
                "turned away do not count.",
            ),
          maxAgeHours: z
            .number()
            .positive()
            .max(24 * 365)
            .default(72)
            .describe(
              "A delivery is `dead` once its next attempt would come more than this many hours after it " +
                "was queued (at most 8760, default 72).",
            ),
          retryBaseSeconds: z
            .number()
            .positive()
            .max(3600)
            .default(5)
            .describe(
              "Backoff base, in seconds (default 5, at most 3600): the n-th retry waits a random time up " +
                "to min(`retryMaxSeconds`, `retryBaseSeconds`·2^(n−1)) (full jitter), never less than the " +
                "target's `Retry-After` or rate-limit reset.",
            ),
          retryMaxSeconds: z
            .number()
            .positive()
            .max(86_400)
            .default(3600)
            .describe("Cap on the backoff between retries, in seconds (default 3600, at most 86400)."),
          attemptTimeoutSeconds: z
            .number()
            .positive()
            .max(600)
            .default(30)
            .describe(
              "A connector's delivery call is aborted and retried after this many seconds (default 30, at " +
                "most 600). A dead worker's batch comes back after twice this plus 10 s.",
            ),
          pollIntervalMs: z
            .number()
            .int()
            .min(10)
            .max(60_000)
            .default(500)
            .describe(
              "How often an idle worker looks for due deliveries, in milliseconds (10–60000, default " +
                "500). New events wake the process's own workers at once; other processes see them on " +
                "their next poll.",
            ),
        })
        .prefault({})
        .describe(
          "Retry policy of deliveries to connectors: backoff between attempts, when a delivery gives up " +
            "as `dead` (re-queue it with `engage-bridge replay`), the attempt timeout and worker polling.",
        ),
      admin: z
        .strictObject({
          token: secret(z.string().min(16, "must be at least 16 characters")).describe(
            "Bearer token for `/admin/*` (`Authorization: Bearer <token>`), at least 16 characters, " +
              "typically from the environment (`ENGAGE_BRIDGE_ADMIN_TOKEN`). Secret: compared in constant " +
              "time, masked.",
          ),
        })
        .optional()
        .describe(
          "The JSON admin API and the operator dashboard, under `/admin/`. Absent = the admin API is off " +
            "(`/admin/*` answers 404).",
        ),
      plugins: z
        .array(
          z
            .string()
            .min(1)
            .describe(
              "A package name, or the path of a module file or directory (relative to the config file).",
            ),
        )
        .default([])
        .describe(
          "Extra connector modules to load: package names, files, or directories with a `package.json`; " +
            "paths (and package lookup) are relative to the config file, `data:` and `http(s):` are " +
            "refused. Default: none.",
        ),
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
