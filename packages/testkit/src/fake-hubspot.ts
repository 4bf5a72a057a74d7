import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { closer, listenLocal } from "./local-server.ts";

/**
 * A local stand-in for the parts of HubSpot that engage-bridge uses, for tests and sandbox mode.
 * Same paths, status codes, bodies and rate-limit headers as the real service ([doc] = HubSpot
 * documentation, [guess] = not published, chosen to be plausible):
 *
 * - Communication Preferences, date-versioned (`/communication-preferences/<version>/…`, default
 *   version `2026-03`; another version → 404) [doc]:
 *   - `GET …/definitions` → `{status, results:[{id, name, isActive, …}], startedAt, completedAt}`
 *   - `GET …/statuses/{email}?channel=EMAIL` → the email's status for every subscription type
 *   - `POST …/statuses/{email}` `{channel, statusState, subscriptionId, legalBasis?, legalBasisExplanation?}`
 *     → `{status:"COMPLETE", results:[status]}` with `setStatusSuccessReason`
 *   - `POST …/statuses/batch/write` `{inputs:[{subscriberIdString, …}]}` → valid inputs applied, one
 *     result each; invalid ones in `errors` (`category: VALIDATION_ERROR`, `context.subscriberIdString`),
 *     answered 207 when there are errors [doc; the error's `context` key is a guess]; more than 100
 *     inputs → 400 [guess]
 *   - `POST …/statuses/batch/read?channel=EMAIL` `{inputs:[email, …]}`
 * - CRM: `PATCH /crm/v3/objects/contacts/{email}?idProperty=email` `{properties:{…}}` → the contact, or
 *   404 when no contact has that email (the fake never creates contacts on PATCH) [doc]
 * - Bearer auth: a wrong or missing token → 401 `INVALID_AUTHENTICATION` [doc]
 * - Rate limit: a rolling window (default 100 requests per 10 s, Free/Starter) counted over
 *   authenticated requests; over it → 429 with the real body (`errorType:"RATE_LIMIT"`,
 *   `policyName:"TEN_SECONDLY_ROLLING"`) and `X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds`
 *   on every authenticated answer [doc]. A refused request does not use up the window [guess].
 * - Errors are `{status:"error", message, correlationId, category, …}` [doc].
 *
 * State: the status per (email, subscription id) and the contact properties per email, both with
 * emails lower-cased (HubSpot matches emails case-insensitively). Every request is logged with its
 * arrival and answer times; the next answers can be replaced by faults (`failNext`).
 */

export const FAKE_HUBSPOT_TOKEN = "pat-eu1-fake-hubspot-token";
export const FAKE_HUBSPOT_API_VERSION = "2026-03";
export const FAKE_HUBSPOT_SUBSCRIPTION_ID = "123456";

export const HUBSPOT_LEGAL_BASES = [
  "CONSENT_WITH_NOTICE",
  "LEGITIMATE_INTEREST_PQL",
  "LEGITIMATE_INTEREST_CLIENT",
  "LEGITIMATE_INTEREST_OTHER",
  "PERFORMANCE_OF_CONTRACT",
  "NON_GDPR",
  "PROCESS_AND_STORE",
] as const;

export type StatusState = "SUBSCRIBED" | "UNSUBSCRIBED" | "NOT_SPECIFIED";

export interface FakeSubscriptionDefinition {
  id: string;
  name: string;
  isActive?: boolean;
}

export interface FakeSubscriptionStatus {
  statusState: StatusState;
  legalBasis: string | undefined;
  legalBasisExplanation: string | undefined;
  /** `Date.now()` of the write that set it. */
  updatedAt: number;
}

export interface FakeHubSpotRequest {
  /** `Date.now()` when the request arrived (before any latency). */
  at: number;
  /** `Date.now()` when the answer was sent; 0 while pending. */
  answeredAt: number;
  method: string;
  /** Path and query as received (emails still percent-encoded). */
  path: string;
  /** Status answered; 0 while pending or when the connection was dropped. */
  status: number;
  /** The parsed JSON body, when there was one. */
  body: unknown;
  /** True when the request used up a place in the rolling window (authenticated, no fault, not refused). */
  counted: boolean;
}

export type FakeHubSpotFault =
  /** 500 by default (any 5xx): `{status:"error", category:"INTERNAL_ERROR"}`. */
  | { type: "server-error"; status?: number }
  /** 401 `INVALID_AUTHENTICATION` (token revoked or expired). */
  | { type: "unauthorized" }
  /** 403 `MISSING_SCOPES`. */
  | { type: "forbidden" }
  /** 400 `VALIDATION_ERROR` with `message` and a correlation id. */
  | { type: "validation"; message?: string }
  /** 429 `policyName: "DAILY"` (the daily quota is used up). */
  | { type: "daily-limit" }
  /** 429 `policyName: "TEN_SECONDLY_ROLLING"`, whatever the window says. */
  | { type: "rate-limit" }
  /**
   * A 2xx that applies nothing and lists every input in `errors` (category `INTERNAL_ERROR` unless
   * given): 207 on a batch write, 200 elsewhere.
   */
  | { type: "errors-in-2xx"; category?: string; message?: string }
  /** A 200 that applies nothing: `results: []` (on a CRM patch: `{}`). */
  | { type: "empty-results" }
  /** The connection is closed without an answer. */
  | { type: "network" };

export interface FakeHubSpotRateLimit {
  max: number;
  intervalMs: number;
}

export interface FakeHubSpotOptions {
  accessToken?: string;
  /** Date versions answered; default `["2026-03"]`. */
  apiVersions?: readonly string[];
  /** Subscription types of the account; default one, id `123456`. */
  subscriptions?: readonly FakeSubscriptionDefinition[];
  /** Default 100 requests per 10 s (Free/Starter). */
  rateLimit?: FakeHubSpotRateLimit;
  /** GDPR-enabled portal: writes without `legalBasis` and `legalBasisExplanation` → validation error. */
  gdpr?: boolean;
  /** Contacts that exist in the CRM, by email (properties optional). */
  contacts?: Iterable<string> | Record<string, Record<string, string>>;
  latencyMs?: number;
}

export interface FakeHubSpot {
  /** Base URL, e.g. `http://127.0.0.1:43123` (no trailing slash): the connector's `baseUrl`. */
  readonly url: string;
  /** The token accepted as `Authorization: Bearer <token>`. */
  readonly accessToken: string;
  readonly subscriptions: FakeSubscriptionDefinition[];
  /** Every request, in arrival order. */
  readonly requests: FakeHubSpotRequest[];
  /** The rolling window; change it at any time. */
  rateLimit: FakeHubSpotRateLimit;
  gdpr: boolean;
  /** Delay before every answer, in milliseconds. */
  latencyMs: number;
  /** Status of `email` for a subscription type (default: the first one), undefined when never written. */
  status(email: string, subscriptionId?: string | number): FakeSubscriptionStatus | undefined;
  /** Sets a status directly (no request, no log). */
  setStatus(email: string, subscriptionId: string | number, statusState: StatusState): void;
  /** Creates (or replaces) a CRM contact. */
  addContact(email: string, properties?: Record<string, string>): void;
  /** The properties of the CRM contact with `email`, undefined when no contact has it. */
  contact(email: string): Record<string, string> | undefined;
  /** The next `count` requests are answered with `fault` (nothing applied); queued after earlier ones. */
  failNext(count: number, fault: FakeHubSpotFault): void;
  /** The most requests (of any kind) that arrived within any `intervalMs` (default: the window's). */
  maxRequestsInWindow(intervalMs?: number): number;
  close(): Promise<void>;
}

/** The most timestamps that fall within any half-open interval of `windowMs` (sorted input not required). */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PREFS = /^\/communication-preferences\/([^/]+)(\/.*)$/;
const STATUS_ONE = /^\/statuses\/([^/]+)$/;
const CONTACT_ONE = /^\/crm\/v3\/objects\/contacts\/([^/]+)$/;
const MAX_BATCH = 100;

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface StatusInput {
  subscriberIdString?: unknown;
  channel?: unknown;
  statusState?: unknown;
  subscriptionId?: unknown;
  legalBasis?: unknown;
  legalBasisExplanation?: unknown;
}

const error = (
  status: number,
  category: string,
  message: string,
  extra: Record<string, unknown> = {},
): Answer => ({
  status,
  body: { status: "error", message, correlationId: randomUUID(), category, ...extra },
});

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export async function startFakeHubSpot(options: FakeHubSpotOptions = {}): Promise<FakeHubSpot> {
  const accessToken = options.accessToken ?? FAKE_HUBSPOT_TOKEN;
  const versions = new Set(options.apiVersions ?? [FAKE_HUBSPOT_API_VERSION]);
  const subscriptions: FakeSubscriptionDefinition[] = (
    options.subscriptions ?? [{ id: FAKE_HUBSPOT_SUBSCRIPTION_ID, name: "Marketing Information" }]
  ).map((s) => ({ ...s, id: String(s.id) }));
  const statuses = new Map<string, FakeSubscriptionStatus>();
  const contacts = new Map<string, { id: string; properties: Record<string, string> }>();
  const requests: FakeHubSpotRequest[] = [];
  const faults: FakeHubSpotFault[] = [];
  const windowLog: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let nextContactId = 1001;

  const key = (email: string, subscriptionId: string | number) =>
    `${email.toLowerCase()}\u0000${String(subscriptionId)}`;

  const addContact = (email: string, properties: Record<string, string> = {}) => {
    const existing = contacts.get(email.toLowerCase());
    contacts.set(email.toLowerCase(), {
      id: existing?.id ?? String(nextContactId++),
      properties: { ...properties, email: email.toLowerCase() },
    });
  };
  if (options.contacts) {
    if (Symbol.iterator in options.contacts)
      for (const email of options.contacts as Iterable<string>) addContact(email);
    else
      for (const [email, props] of Object.entries(options.contacts as Record<string, Record<string, string>>))
        addContact(email, props);
  }

  const fake: FakeHubSpot = {
    url: "",
    accessToken,
    subscriptions,
    requests,
    rateLimit: { ...(options.rateLimit ?? { max: 100, intervalMs: 10_000 }) },
    gdpr: options.gdpr ?? false,
    latencyMs: options.latencyMs ?? 0,
    status: (email, subscriptionId = subscriptions[0]?.id ?? "") => statuses.get(key(email, subscriptionId)),
    setStatus(email, subscriptionId, statusState) {
      statuses.set(key(email, subscriptionId), {
        statusState,
        legalBasis: undefined,
        legalBasisExplanation: undefined,
        updatedAt: Date.now(),
      });
    },
    addContact,
    contact: (email) => {
      const found = contacts.get(email.toLowerCase());
      return found ? { ...found.properties } : undefined;
    },
    failNext(count, fault) {
      for (let i = 0; i < count; i++) faults.push(fault);
    },
    maxRequestsInWindow(intervalMs) {
      return maxInWindow(
        requests.map((r) => r.at),
        intervalMs ?? fake.rateLimit.intervalMs,
      );
    },
    close: async () => {},
  };

  const rateHeaders = (remaining: number): Record<string, string> => ({
    "x-hubspot-ratelimit-max": String(fake.rateLimit.max),
    "x-hubspot-ratelimit-remaining": String(Math.max(0, remaining)),
    "x-hubspot-ratelimit-interval-milliseconds": String(fake.rateLimit.intervalMs),
  });

  const rateLimited = (policyName: "TEN_SECONDLY_ROLLING" | "DAILY"): Answer => ({
    status: 429,
    body: {
      status: "error",
      message:
        policyName === "DAILY"
          ? "You have reached your daily limit."
          : "You have reached your ten_secondly_rolling limit.",
      errorType: "RATE_LIMIT",
      correlationId: randomUUID(),
      policyName,
      groupName: "publicapi:app-id:fake",
    },
    headers: rateHeaders(0),
  });

  /** What a status looks like in an answer. */
  const publicStatus = (email: string, def: FakeSubscriptionDefinition, reason?: string) => {
    const s = statuses.get(key(email, def.id));
    return {
      subscriberIdString: email,
      subscriptionId: Number(def.id),
      subscriptionName: def.name,
      channel: "EMAIL",
      status: s?.statusState ?? "NOT_SPECIFIED",
      source: "PUBLIC_STATUS_API",
      ...(s?.legalBasis ? { legalBasis: s.legalBasis } : {}),
      ...(s?.legalBasisExplanation ? { legalBasisExplanation: s.legalBasisExplanation } : {}),
      timestamp: new Date(s?.updatedAt ?? Date.now()).toISOString(),
      ...(reason ? { setStatusSuccessReason: reason } : {}),
    };
  };

  /** Validates one status write; returns the problem, or applies it and returns the result. */
  const write = (email: string, input: StatusInput): { result: unknown } | { problem: string } => {
    if (!EMAIL.test(email)) return { problem: `Invalid email address: ${email}` };
    if (input.channel !== "EMAIL") return { problem: `Invalid channel: ${String(input.channel)}` };
    const state = input.statusState;
    if (state !== "SUBSCRIBED" && state !== "UNSUBSCRIBED" && state !== "NOT_SPECIFIED")
      return { problem: `Invalid statusState: ${String(state)}` };
    const def = subscriptions.find((s) => s.id === String(input.subscriptionId));
    if (!def) return { problem: `Subscription ${String(input.subscriptionId)} does not exist` };
    if (
      input.legalBasis !== undefined &&
      !(HUBSPOT_LEGAL_BASES as readonly unknown[]).includes(input.legalBasis)
    )
      return { problem: `Invalid legalBasis: ${String(input.legalBasis)}` };
    if (fake.gdpr && (!input.legalBasis || !input.legalBasisExplanation))
      return { problem: "Legal basis and explanation are required because GDPR is enabled for this account" };
    const k = key(email, def.id);
    const before = statuses.get(k)?.statusState ?? "NOT_SPECIFIED";
    statuses.set(k, {
      statusState: state,
      legalBasis: typeof input.legalBasis === "string" ? input.legalBasis : undefined,
      legalBasisExplanation:
        typeof input.legalBasisExplanation === "string" ? input.legalBasisExplanation : undefined,
      updatedAt: Date.now(),
    });
    const reason =
      before === state
        ? "NO_STATUS_CHANGE"
        : before === "UNSUBSCRIBED" && state === "SUBSCRIBED"
          ? "RESUBSCRIBE_OCCURRED"
          : "REQUESTED_CHANGE_OCCURRED";
    return { result: publicStatus(email, def, reason) };
  };

  const envelope = (results: unknown[], errors: unknown[] = []) => {
    const now = new Date().toISOString();
    return {
      status: "COMPLETE",
      results,
      ...(errors.length > 0 ? { errors, numErrors: errors.length } : {}),
      requestedAt: now,
      startedAt: now,
      completedAt: now,
    };
  };

  const inputError = (email: string, message: string, category = "VALIDATION_ERROR") => ({
    status: "error",
    category,
    message,
    context: { subscriberIdString: [email] },
  });

  /** The emails a request is about (for faults that list every input). */
  const emailsOf = (path: string, body: unknown): string[] => {
    const inputs = (body as { inputs?: unknown })?.inputs;
    if (Array.isArray(inputs))
      return inputs.map((i) => String(typeof i === "string" ? i : (i as StatusInput)?.subscriberIdString));
    const segment = path.split("?")[0]?.split("/").at(-1) ?? "";
    return [decode(segment) ?? segment];
  };

  const faultAnswer = (fault: FakeHubSpotFault, path: string, method: string, body: unknown): Answer => {
    switch (fault.type) {
      case "server-error":
        return error(fault.status ?? 500, "INTERNAL_ERROR", "An internal error occurred.");
      case "unauthorized":
        return error(
          401,
          "INVALID_AUTHENTICATION",
          "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
        );
      case "forbidden":
        return error(
          403,
          "MISSING_SCOPES",
          "This app hasn't been granted all required scopes to make this call.",
          {
            errors: [{ message: "One or more of the following scopes are required.", context: {} }],
          },
        );
      case "validation":
        return error(
          400,
          "VALIDATION_ERROR",
          fault.message ?? "Invalid input (details will vary based on the error)",
        );
      case "daily-limit":
        return rateLimited("DAILY");
      case "rate-limit":
        return rateLimited("TEN_SECONDLY_ROLLING");
      case "errors-in-2xx": {
        const errors = emailsOf(path, body).map((email) =>
          inputError(
            email,
            fault.message ?? "The write could not be applied",
            fault.category ?? "INTERNAL_ERROR",
          ),
        );
        const batch = path.includes("/batch/") && method === "POST";
        return { status: batch ? 207 : 200, body: envelope([], errors) };
      }
      case "empty-results":
        return { status: 200, body: path.startsWith("/crm/") ? {} : envelope([]) };
      case "network":
        return { status: 0 };
    }
  };

  const route = (method: string, url: URL, body: unknown): Answer => {
    const path = url.pathname;
    const prefs = PREFS.exec(path);
    if (prefs) {
      const [, version = "", rest = ""] = prefs;
      if (!versions.has(version)) return error(404, "OBJECT_NOT_FOUND", `Unknown API version ${version}`);
      if (rest === "/definitions" && method === "GET")
        return {
          status: 200,
          body: envelope(
            subscriptions.map((s) => ({
              id: s.id,
              name: s.name,
              description: `${s.name} (fake)`,
              isActive: s.isActive ?? true,
              isDefault: false,
              isInternal: false,
              communicationMethod: "EMAIL",
              purpose: "Marketing",
              createdAt: "2024-01-01T00:00:00Z",
              updatedAt: "2024-01-01T00:00:00Z",
            })),
          ),
        };
      if (rest === "/statuses/batch/write" && method === "POST") {
        const inputs = (body as { inputs?: unknown })?.inputs;
        if (!Array.isArray(inputs) || inputs.length === 0)
          return error(400, "VALIDATION_ERROR", "inputs must be a non-empty list");
        if (inputs.length > MAX_BATCH)
          return error(
            400,
            "VALIDATION_ERROR",
            `Batch size ${inputs.length} exceeds the maximum of ${MAX_BATCH}`,
          );
        const results: unknown[] = [];
        const errors: unknown[] = [];
        for (const raw of inputs as StatusInput[]) {
          const email = typeof raw?.subscriberIdString === "string" ? raw.subscriberIdString : "";
          const outcome = write(email, raw ?? {});
          if ("result" in outcome) results.push(outcome.result);
          else errors.push(inputError(email, outcome.problem));
        }
        return { status: errors.length > 0 ? 207 : 200, body: envelope(results, errors) };
      }
      if (rest === "/statuses/batch/read" && method === "POST") {
        if (url.searchParams.get("channel") !== "EMAIL")
          return error(400, "VALIDATION_ERROR", "channel query parameter is required");
        const inputs = (body as { inputs?: unknown })?.inputs;
        if (!Array.isArray(inputs)) return error(400, "VALIDATION_ERROR", "inputs must be a list");
        return {
          status: 200,
          body: envelope(
            inputs.map((email) => ({
              subscriberIdString: String(email),
              statuses: subscriptions.map((def) => publicStatus(String(email), def)),
            })),
          ),
        };
      }
      const one = STATUS_ONE.exec(rest);
      const email = one?.[1] === undefined ? undefined : decode(one[1]);
      if (one && email === undefined) return error(400, "VALIDATION_ERROR", "Malformed subscriber id");
      if (email !== undefined && method === "GET") {
        if (url.searchParams.get("channel") !== "EMAIL")
          return error(400, "VALIDATION_ERROR", "channel query parameter is required");
        return { status: 200, body: envelope(subscriptions.map((def) => publicStatus(email, def))) };
      }
      if (email !== undefined && method === "POST") {
        const outcome = write(email, (body ?? {}) as StatusInput);
        if ("problem" in outcome) return error(400, "VALIDATION_ERROR", outcome.problem);
        return { status: 200, body: envelope([outcome.result]) };
      }
      return error(404, "OBJECT_NOT_FOUND", `No route for ${method} ${path}`);
    }

    const contactPath = CONTACT_ONE.exec(path);
    if (contactPath?.[1] && method === "PATCH") {
      const id = decode(contactPath[1]);
      if (id === undefined) return error(400, "VALIDATION_ERROR", "Malformed contact id");
      const byEmail = url.searchParams.get("idProperty") === "email";
      const entry = byEmail
        ? contacts.get(id.toLowerCase())
        : [...contacts.values()].find((c) => c.id === id);
      if (!entry) return error(404, "OBJECT_NOT_FOUND", "resource not found");
      const properties = (body as { properties?: unknown })?.properties;
      if (!properties || typeof properties !== "object" || Array.isArray(properties))
        return error(400, "VALIDATION_ERROR", "properties must be an object");
      for (const [name, value] of Object.entries(properties)) {
        if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
          return error(400, "VALIDATION_ERROR", `Property values were not valid: ${name}`);
      }
      for (const [name, value] of Object.entries(properties)) entry.properties[name] = String(value);
      const now = new Date().toISOString();
      return {
        status: 200,
        body: {
          id: entry.id,
          properties: { ...entry.properties },
          createdAt: now,
          updatedAt: now,
          archived: false,
        },
      };
    }
    return error(404, "OBJECT_NOT_FOUND", `No route for ${method} ${path}`);
  };

  const send = (res: ServerResponse, answer: Answer) => {
    if (answer.status === 0) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(answer.status, { "content-type": "application/json;charset=utf-8", ...answer.headers });
    res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
  };

  const handle = (req: IncomingMessage, raw: string, record: FakeHubSpotRequest): Answer => {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const method = req.method ?? "GET";
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        return error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1");
      }
    }
    record.body = body;

    const fault = faults.shift();
    if (fault) return faultAnswer(fault, url.pathname, method, body);
    if (req.headers.authorization !== `Bearer ${accessToken}`)
      return error(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
      );
    const now = Date.now();
    while (windowLog.length > 0 && (windowLog[0] ?? 0) <= now - fake.rateLimit.intervalMs) windowLog.shift();
    if (windowLog.length >= fake.rateLimit.max) return rateLimited("TEN_SECONDLY_ROLLING");
    windowLog.push(now);
    record.counted = true;
    const answer = route(method, url, body);
    return {
      ...answer,
      headers: { ...rateHeaders(fake.rateLimit.max - windowLog.length), ...answer.headers },
    };
  };

  const server = createServer((req, res) => {
    const record: FakeHubSpotRequest = {
      at: Date.now(),
      answeredAt: 0,
      method: req.method ?? "GET",
      path: req.url ?? "/",
      status: 0,
      body: undefined,
      counted: false,
    };
    requests.push(record);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      let answer: Answer;
      try {
        answer = handle(req, Buffer.concat(chunks).toString("utf8"), record);
      } catch {
        answer = error(500, "INTERNAL_ERROR", "Fake HubSpot error.");
      }
      const respond = () => {
        record.status = answer.status;
        record.answeredAt = Date.now();
        send(res, answer);
      };
      if (fake.latencyMs > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          respond();
        }, fake.latencyMs);
        timers.add(timer);
      } else respond();
    });
  });
  (fake as { url: string }).url = await listenLocal(server);
  fake.close = closer(server, timers);
  return fake;
}
