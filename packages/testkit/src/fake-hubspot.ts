import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { closer, listenLocal } from "./local-server.ts";

/**
 * A local stand-in for the parts of HubSpot that engage-bridge uses, for tests and sandbox mode.
 * Same paths, status codes, bodies and rate-limit headers as the real service. Sources, cited again
 * beside each route:
 *
 * - [spec] = HubSpot's OpenAPI specs in the repository `HubSpot/HubSpot-public-api-spec-collection`:
 *   - SUBSCRIPTIONS_SPEC: `PublicApiSpecs/Communication Preferences/Subscriptions/Rollouts/176901/2026-03/subscriptions.json`
 *   - CONTACTS_SPEC: `PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json`
 *   - PROPERTIES_SPEC: `PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json`
 *   Every operation's `security` there names the OAuth scopes it accepts (see `ROUTE_SCOPES`); every
 *   error answer is the `Error` schema `{category, correlationId, message, context?, errors?, links?}`.
 * - [doc] = HubSpot's documentation pages: errors `{status:"error", message, correlationId, category}`
 *   (https://developers.hubspot.com/docs/faq/api-error-responses), rate limits and their 429 body and
 *   `X-HubSpot-RateLimit-*` headers (https://developers.hubspot.com/docs/api/usage-details).
 * - [reports] = bodies other integrators have posted (issues, forums), not in a spec.
 * - [guess] = not published anywhere; chosen to be plausible, and said so beside the code.
 *
 * What it serves (details beside each route):
 * - Communication Preferences, date-versioned (`/communication-preferences/<version>/…`, default
 *   version `2026-03`; another version → 404): definitions, one status read/write, batch write, batch read.
 * - CRM: `PATCH /crm/v3/objects/contacts/{email}?idProperty=email` (unknown or read-only properties and
 *   values a property refuses → 400 "Property values were not valid"), and
 *   `GET /crm/v3/properties/contacts/{propertyName}` over the account's contact properties (HubSpot's
 *   usual default ones, plus `engage_accepts_sms` / `engage_accepts_postal` as `bool` unless
 *   `contactProperties` says otherwise).
 * - Bearer auth: a wrong or missing token → 401 `INVALID_AUTHENTICATION`; a token without a scope the
 *   route's spec requires (`scopes` option) → 403 `MISSING_SCOPES`.
 * - Rate limit: a rolling window (default 100 requests per 10 s, Free/Starter) counted over
 *   authenticated requests; over it → 429 with the real body and headers [doc]. A refused request
 *   does not use up the window [guess].
 *
 * State: the status per (email, subscription id), the contact properties per email (emails
 * lower-cased: HubSpot matches them case-insensitively) and the contact property definitions. Every
 * request is logged with its arrival and answer times; the next answers can be replaced by faults
 * (`failNext`).
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

/**
 * The OAuth scopes each route accepts, copied from its operation's `security` in the spec (any one
 * inner list suffices). The properties read lists ~100 alternatives in PROPERTIES_SPEC, one per
 * object type's read/write scope, because `{objectType}` is a path parameter; only the contact ones
 * apply to `contacts`, and only those are accepted here [guess about how HubSpot matches them].
 */
export const HUBSPOT_ROUTE_SCOPES = {
  definitions: [["communication_preferences.read_write"], ["communication_preferences.read"]],
  statusRead: [["communication_preferences.read_write"], ["communication_preferences.read"]],
  statusWrite: [["communication_preferences.read_write"], ["communication_preferences.write"]],
  batchWrite: [["communication_preferences.statuses.batch.write"]],
  batchRead: [["communication_preferences.statuses.batch.read"]],
  contactPatch: [["crm.objects.contacts.write"]],
  propertyRead: [
    ["crm.schemas.contacts.read"],
    ["crm.objects.contacts.read"],
    ["crm.objects.contacts.write"],
  ],
} as const satisfies Record<string, readonly (readonly string[])[]>;

/** Every scope some route accepts: the default grant, with which every route works. */
export const FAKE_HUBSPOT_SCOPES: readonly string[] = [
  ...new Set(Object.values(HUBSPOT_ROUTE_SCOPES).flatMap((alternatives) => alternatives.flat())),
];

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

/** `type` of a property: the enum of `PropertyCreate.type` in PROPERTIES_SPEC. */
export type FakePropertyType =
  | "bool"
  | "date"
  | "datetime"
  | "enumeration"
  | "number"
  | "phone_number"
  | "string";

/** A contact property definition of the fake account (the fields of PROPERTIES_SPEC's `Property` that matter). */
export interface FakeContactProperty {
  name: string;
  type: FakePropertyType;
  /**
   * How HubSpot shows it; `PropertyCreate.fieldType`'s enum: booleancheckbox, calculation_equation,
   * checkbox (several options, `;`-separated), date, file, html, number, phonenumber, radio, select,
   * text, textarea.
   */
  fieldType: string;
  /** The allowed values of an `enumeration` (default for `bool`: "true" and "false"). */
  options?: readonly { label: string; value: string; hidden?: boolean }[];
  label?: string;
  /** `modificationMetadata.readOnlyValue`: the value cannot be written through the API. */
  readOnlyValue?: boolean;
  calculated?: boolean;
}

/** A `bool` property's options as HubSpot lists them [reports: label Yes/No, value true/false]. */
const BOOL_OPTIONS = [
  { label: "Yes", value: "true" },
  { label: "No", value: "false" },
] as const;

/**
 * Custom contact properties of the default fake account: the two the README's example config mirrors
 * into, as `bool` checkboxes, so that a config written from the README works against the fake.
 */
export const FAKE_HUBSPOT_CUSTOM_PROPERTIES: readonly FakeContactProperty[] = [
  { name: "engage_accepts_sms", label: "Accepts SMS (Engage)", type: "bool", fieldType: "booleancheckbox" },
  {
    name: "engage_accepts_postal",
    label: "Accepts postal (Engage)",
    type: "bool",
    fieldType: "booleancheckbox",
  },
];

/** A few of HubSpot's built-in contact properties (present in every account; not removable). */
const BUILT_IN_PROPERTIES: readonly FakeContactProperty[] = [
  { name: "email", label: "Email", type: "string", fieldType: "text" },
  { name: "firstname", label: "First Name", type: "string", fieldType: "text" },
  { name: "lastname", label: "Last Name", type: "string", fieldType: "text" },
  { name: "phone", label: "Phone Number", type: "string", fieldType: "phonenumber" },
  { name: "mobilephone", label: "Mobile Phone Number", type: "string", fieldType: "phonenumber" },
  { name: "city", label: "City", type: "string", fieldType: "text" },
  { name: "zip", label: "Postal Code", type: "string", fieldType: "text" },
  { name: "country", label: "Country/Region", type: "string", fieldType: "text" },
  {
    name: "hs_object_id",
    label: "Record ID",
    type: "number",
    fieldType: "number",
    readOnlyValue: true,
  },
  { name: "createdate", label: "Create Date", type: "datetime", fieldType: "date", readOnlyValue: true },
];

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
  /** 403 `MISSING_SCOPES`, naming the route's scopes. */
  | { type: "forbidden" }
  /** 400 `VALIDATION_ERROR` with `message` and a correlation id. */
  | { type: "validation"; message?: string }
  /** 429 `policyName: "DAILY"` (the daily quota is used up). */
  | { type: "daily-limit" }
  /** 429 `policyName: "TEN_SECONDLY_ROLLING"`, whatever the window says. */
  | { type: "rate-limit" }
  /**
   * A 2xx that applies nothing and lists every input in `errors` (category `INTERNAL_ERROR` unless
   * given), named as `batchWrite.errors` says: 207 on a batch write, 200 elsewhere.
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

/**
 * How `statuses/batch/write` reports the inputs it did not apply. SUBSCRIPTIONS_SPEC documents only
 * a 200 whose `BatchResponsePublicStatus` body may carry `errors` (`StandardError`: status, category,
 * message, context `{key: [string]}`, errors, links, id) next to `results` [spec]. Which status a
 * partial failure gets and how an error names its input are not specified [guess], so each plausible
 * answer can be chosen.
 */
export interface FakeBatchWriteAnswer {
  /**
   * Status when some inputs failed: 207 (default; HubSpot's batch reads document it) or 200 (the
   * only status the write's spec lists).
   */
  partialStatus?: 200 | 207;
  /**
   * How an error names its input: `context.subscriberIdString` (default), the error's `id`, only its
   * `message`, only a nested `errors[].context` (`ErrorDetail`), not at all (`unattributed`: a generic
   * message), or no error at all (`omitted`: the input is simply missing from `results`).
   */
  errors?: "context" | "id" | "message" | "detail" | "unattributed" | "omitted";
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
  /** Contacts that exist in the CRM, by email (properties optional, not validated). */
  contacts?: Iterable<string> | Record<string, Record<string, string>>;
  /**
   * The account's custom contact properties (HubSpot's built-in ones always exist); default
   * `FAKE_HUBSPOT_CUSTOM_PROPERTIES`.
   */
  contactProperties?: readonly FakeContactProperty[];
  /** Scopes granted to the token; default `FAKE_HUBSPOT_SCOPES` (all the routes need). */
  scopes?: readonly string[];
  batchWrite?: FakeBatchWriteAnswer;
  latencyMs?: number;
}

export interface FakeHubSpot {
  /** Base URL, e.g. `http://127.0.0.1:43123` (no trailing slash): the connector's `baseUrl`. */
  readonly url: string;
  /** The token accepted as `Authorization: Bearer <token>`. */
  readonly accessToken: string;
  /** Scopes granted to the token; change them at any time. */
  readonly scopes: Set<string>;
  readonly subscriptions: FakeSubscriptionDefinition[];
  /** Every request, in arrival order. */
  readonly requests: FakeHubSpotRequest[];
  /** The rolling window; change it at any time. */
  rateLimit: FakeHubSpotRateLimit;
  gdpr: boolean;
  /** How batch writes report failed inputs; change it at any time. */
  batchWrite: FakeBatchWriteAnswer;
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
  /** Creates or replaces a contact property definition. */
  defineContactProperty(property: FakeContactProperty): void;
  /** Deletes a custom contact property definition (as archiving it in HubSpot would). */
  deleteContactProperty(name: string): void;
  /** The definition of a contact property, undefined when the account has none by that name. */
  contactProperty(name: string): FakeContactProperty | undefined;
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
const PROPERTY_ONE = /^\/crm\/v3\/properties\/([^/]+)\/([^/]+)$/;
/** HubSpot publishes no maximum for `statuses/batch/write` [guess: 100, its usual batch size]. */
const MAX_BATCH = 100;

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A request matched to a route: the scopes it needs, and how it is answered once allowed. */
interface Route {
  scopes: readonly (readonly string[])[];
  answer: () => Answer;
}

interface StatusInput {
  subscriberIdString?: unknown;
  channel?: unknown;
  statusState?: unknown;
  subscriptionId?: unknown;
  legalBasis?: unknown;
  legalBasisExplanation?: unknown;
}

/** The spec's `Error` body [spec], with `status:"error"` as HubSpot adds it [doc]. */
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

interface PropertyProblem {
  name: string;
  /** HubSpot's code for it: PROPERTY_DOESNT_EXIST and INVALID_OPTION [reports]; the others [guess]. */
  code: string;
  message: string;
}

/** Why `value` cannot be written to `property`, or undefined when it can. */
function propertyProblem(
  name: string,
  property: FakeContactProperty | undefined,
  value: unknown,
): PropertyProblem | undefined {
  if (!property) return { name, code: "PROPERTY_DOESNT_EXIST", message: `Property "${name}" does not exist` };
  if (property.readOnlyValue || property.calculated)
    return { name, code: "READ_ONLY_VALUE", message: `Property "${name}" is a read only property` };
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
    return { name, code: "INVALID_PROPERTY_VALUE", message: `${JSON.stringify(value)} is not a valid value` };
  const text = String(value);
  // An empty string clears any property [spec: CONTACTS_SPEC, PATCH description].
  if (text === "") return undefined;
  switch (property.type) {
    case "bool":
    case "enumeration": {
      const allowed = (property.options ?? (property.type === "bool" ? BOOL_OPTIONS : [])).map(
        (o) => o.value,
      );
      const values = property.fieldType === "checkbox" ? text.split(";") : [text];
      if (values.every((v) => allowed.includes(v))) return undefined;
      return {
        name,
        code: "INVALID_OPTION",
        message: `${text} was not one of the allowed options: [${allowed.join(", ")}]`,
      };
    }
    case "number":
      return /^-?\d+(\.\d+)?$/.test(text)
        ? undefined
        : { name, code: "INVALID_LONG", message: `${text} is not a valid number` };
    case "date":
    case "datetime":
      return /^\d+$/.test(text) || !Number.isNaN(Date.parse(text))
        ? undefined
        : { name, code: "INVALID_DATE", message: `${text} is not a valid date` };
    default:
      return undefined;
  }
}

/**
 * HubSpot's 400 for property values it refuses [reports]: category `VALIDATION_ERROR`, the message
 * "Property values were not valid: " followed by the JSON list of failed validations (`isValid`,
 * `message`, `error` = the code, `name` = the property). The `errors` list (spec `ErrorDetail`: code,
 * message, context) is the same information in the spec's shape [guess: not every answer reported
 * has it].
 */
function invalidProperties(problems: readonly PropertyProblem[]): Answer {
  const validations = problems.map((p) => ({
    isValid: false,
    message: p.message,
    error: p.code,
    name: p.name,
    localizedErrorMessage: p.message,
  }));
  return error(400, "VALIDATION_ERROR", `Property values were not valid: ${JSON.stringify(validations)}`, {
    errors: problems.map((p) => ({ message: p.message, code: p.code, context: { propertyName: [p.name] } })),
  });
}

export async function startFakeHubSpot(options: FakeHubSpotOptions = {}): Promise<FakeHubSpot> {
  const accessToken = options.accessToken ?? FAKE_HUBSPOT_TOKEN;
  const versions = new Set(options.apiVersions ?? [FAKE_HUBSPOT_API_VERSION]);
  const subscriptions: FakeSubscriptionDefinition[] = (
    options.subscriptions ?? [{ id: FAKE_HUBSPOT_SUBSCRIPTION_ID, name: "Marketing Information" }]
  ).map((s) => ({ ...s, id: String(s.id) }));
  const statuses = new Map<string, FakeSubscriptionStatus>();
  const contacts = new Map<string, { id: string; properties: Record<string, string> }>();
  const builtIn = new Set(BUILT_IN_PROPERTIES.map((p) => p.name));
  const properties = new Map<string, FakeContactProperty>(
    [...BUILT_IN_PROPERTIES, ...(options.contactProperties ?? FAKE_HUBSPOT_CUSTOM_PROPERTIES)].map((p) => [
      p.name,
      { ...p },
    ]),
  );
  const requests: FakeHubSpotRequest[] = [];
  const faults: FakeHubSpotFault[] = [];
  const windowLog: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let nextContactId = 1001;

  const key = (email: string, subscriptionId: string | number) =>
    `${email.toLowerCase()}\u0000${String(subscriptionId)}`;

  const addContact = (email: string, props: Record<string, string> = {}) => {
    const existing = contacts.get(email.toLowerCase());
    contacts.set(email.toLowerCase(), {
      id: existing?.id ?? String(nextContactId++),
      properties: { ...props, email: email.toLowerCase() },
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
    scopes: new Set(options.scopes ?? FAKE_HUBSPOT_SCOPES),
    subscriptions,
    requests,
    rateLimit: { ...(options.rateLimit ?? { max: 100, intervalMs: 10_000 }) },
    gdpr: options.gdpr ?? false,
    batchWrite: { ...options.batchWrite },
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
    defineContactProperty(property) {
      properties.set(property.name, { ...property });
    },
    deleteContactProperty(name) {
      if (!builtIn.has(name)) properties.delete(name);
    },
    contactProperty: (name) => {
      const found = properties.get(name);
      return found ? { ...found } : undefined;
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

  // [doc] https://developers.hubspot.com/docs/api/usage-details: 429 body with errorType RATE_LIMIT
  // and policyName; the message and groupName texts follow answers seen in reports.
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

  // The scopes a refused call lacks, in an ErrorDetail's `context.missingScopes`: the key of the
  // spec's own example of `ErrorDetail.context` [spec]; the texts follow reported answers [reports].
  const missingScopes = (scopes: Route["scopes"]): Answer =>
    error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call.", {
      errors: [
        {
          message: "One or more of the following scopes are required.",
          context: { missingScopes: [...new Set(scopes.flat())] },
        },
      ],
    });

  /** What a status looks like in an answer: the spec's `PublicStatus`. */
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
    // The email stays out of the message so that `batchWrite.errors` alone decides where it is named.
    if (!EMAIL.test(email)) return { problem: "Invalid email address" };
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

  /** The spec's batch/action envelope (`BatchResponsePublicStatus`, `ActionResponseWithResults…`). */
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

  /**
   * One failed input as a `StandardError` [spec: its required fields], naming the input as
   * `batchWrite.errors` says [guess: the spec does not say how]; undefined for `omitted`.
   */
  const inputError = (email: string, message: string, category = "VALIDATION_ERROR") => {
    const base = { status: "error", category, message, context: {}, errors: [], links: {} };
    switch (fake.batchWrite.errors ?? "context") {
      case "context":
        return { ...base, context: { subscriberIdString: [email] } };
      case "id":
        return { ...base, id: email };
      case "message":
        return { ...base, message: `${message} (subscriber ${email})` };
      case "detail":
        return { ...base, errors: [{ message, context: { subscriberIdString: [email] } }] };
      case "unattributed":
        return { ...base, message: "Invalid input (details will vary based on the error)" };
      case "omitted":
        return undefined;
    }
  };

  /** The emails a request is about (for faults that list every input). */
  const emailsOf = (path: string, body: unknown): string[] => {
    const inputs = (body as { inputs?: unknown })?.inputs;
    if (Array.isArray(inputs))
      return inputs.map((i) => String(typeof i === "string" ? i : (i as StatusInput)?.subscriberIdString));
    const segment = path.split("?")[0]?.split("/").at(-1) ?? "";
    return [decode(segment) ?? segment];
  };

  const faultAnswer = (
    fault: FakeHubSpotFault,
    route: Route,
    path: string,
    method: string,
    body: unknown,
  ): Answer => {
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
        return missingScopes(route.scopes);
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
        const errors = emailsOf(path, body).flatMap(
          (email) =>
            inputError(
              email,
              fault.message ?? "The write could not be applied",
              fault.category ?? "INTERNAL_ERROR",
            ) ?? [],
        );
        const batch = path.includes("/batch/") && method === "POST";
        return { status: batch ? (fake.batchWrite.partialStatus ?? 207) : 200, body: envelope([], errors) };
      }
      case "empty-results":
        return { status: 200, body: path.startsWith("/crm/") ? {} : envelope([]) };
      case "network":
        return { status: 0 };
    }
  };

  /** The route a request asks for; unknown paths answer 404 whatever the token may do. */
  const resolve = (method: string, url: URL, body: unknown): Route => {
    const path = url.pathname;
    const open = (answer: () => Answer): Route => ({ scopes: [], answer });
    // [guess] HubSpot's answer for a path or method it does not serve: 404 OBJECT_NOT_FOUND.
    const notFound = open(() => error(404, "OBJECT_NOT_FOUND", `No route for ${method} ${path}`));
    const prefs = PREFS.exec(path);
    if (prefs) {
      const [, version = "", rest = ""] = prefs;
      // [doc] only the published date versions exist; the body of the 404 is a [guess].
      if (!versions.has(version))
        return open(() => error(404, "OBJECT_NOT_FOUND", `Unknown API version ${version}`));

      // [spec] HubSpot/HubSpot-public-api-spec-collection
      // PublicApiSpecs/Communication Preferences/Subscriptions/Rollouts/176901/2026-03/subscriptions.json,
      // operation get-/communication-preferences/2026-03/definitions → 200 ActionResponseWithResultsSubscriptionDefinition.
      if (rest === "/definitions" && method === "GET")
        return {
          scopes: HUBSPOT_ROUTE_SCOPES.definitions,
          answer: () => ({
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
          }),
        };

      // [spec] HubSpot/HubSpot-public-api-spec-collection
      // PublicApiSpecs/Communication Preferences/Subscriptions/Rollouts/176901/2026-03/subscriptions.json,
      // operation post-/communication-preferences/2026-03/statuses/batch/write: body
      // BatchInputPublicStatusRequest, answer 200 BatchResponsePublicStatus {status, results: PublicStatus[],
      // errors?: StandardError[], numErrors?}. [guess] everything about failed inputs: the 207 (documented
      // only for batch reads), how an error names its input, or leaving it out (see FakeBatchWriteAnswer);
      // the 400 for an empty list or more than 100 inputs (no maximum is published).
      if (rest === "/statuses/batch/write" && method === "POST")
        return {
          scopes: HUBSPOT_ROUTE_SCOPES.batchWrite,
          answer: () => {
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
            let failed = 0;
            for (const raw of inputs as StatusInput[]) {
              const email = typeof raw?.subscriberIdString === "string" ? raw.subscriberIdString : "";
              const outcome = write(email, raw ?? {});
              if ("result" in outcome) results.push(outcome.result);
              else {
                failed++;
                const entry = inputError(email, outcome.problem);
                if (entry) errors.push(entry);
              }
            }
            return {
              status: failed > 0 ? (fake.batchWrite.partialStatus ?? 207) : 200,
              body: envelope(results, errors),
            };
          },
        };

      // [spec] HubSpot/HubSpot-public-api-spec-collection
      // PublicApiSpecs/Communication Preferences/Subscriptions/Rollouts/176901/2026-03/subscriptions.json,
      // operation post-/communication-preferences/2026-03/statuses/batch/read: query `channel`, body
      // BatchInputString {inputs: [email]}, answer 200 BatchResponsePublicStatusBulkResponse (207 with
      // errors is documented; this fake never needs it). [guess] the 400 texts.
      if (rest === "/statuses/batch/read" && method === "POST")
        return {
          scopes: HUBSPOT_ROUTE_SCOPES.batchRead,
          answer: () => {
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
          },
        };

      const one = STATUS_ONE.exec(rest);
      if (!one?.[1]) return notFound;
      const email = decode(one[1]);
      // [guess] the answer to a path segment that is not valid percent-encoding.
      if (email === undefined) return open(() => error(400, "VALIDATION_ERROR", "Malformed subscriber id"));

      // [spec] HubSpot/HubSpot-public-api-spec-collection
      // PublicApiSpecs/Communication Preferences/Subscriptions/Rollouts/176901/2026-03/subscriptions.json,
      // operation get-/communication-preferences/2026-03/statuses/{subscriberIdString}: query `channel`
      // (required), answer 200 ActionResponseWithResultsPublicStatus. [guess] the 400 text.
      if (method === "GET")
        return {
          scopes: HUBSPOT_ROUTE_SCOPES.statusRead,
          answer: () =>
            url.searchParams.get("channel") !== "EMAIL"
              ? error(400, "VALIDATION_ERROR", "channel query parameter is required")
              : { status: 200, body: envelope(subscriptions.map((def) => publicStatus(email, def))) },
        };

      // [spec] HubSpot/HubSpot-public-api-spec-collection
      // PublicApiSpecs/Communication Preferences/Subscriptions/Rollouts/176901/2026-03/subscriptions.json,
      // operation post-/communication-preferences/2026-03/statuses/{subscriberIdString}: body
      // PartialPublicStatusRequest, answer 200 ActionResponseWithResultsPublicStatus; an invalid input
      // is a 400 VALIDATION_ERROR (the `default` Error response) [guess: its message texts].
      if (method === "POST")
        return {
          scopes: HUBSPOT_ROUTE_SCOPES.statusWrite,
          answer: () => {
            const outcome = write(email, (body ?? {}) as StatusInput);
            if ("problem" in outcome) return error(400, "VALIDATION_ERROR", outcome.problem);
            return { status: 200, body: envelope([outcome.result]) };
          },
        };
      return notFound;
    }

    // [spec] HubSpot/HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json,
    // operation patch-/crm/v3/objects/contacts/{contactId}_update: `idProperty=email` puts the email in
    // the path; body SimplePublicObjectInput {properties}; answer 200 SimplePublicObject; "Read-only
    // and non-existent properties will result in an error" and an empty string clears a value (the
    // operation's description). [reports] that error's body (see invalidProperties) and the 404
    // OBJECT_NOT_FOUND for an unknown email; [guess] the fake never creates contacts on PATCH, and
    // checks the values against the property's type and options.
    const contactPath = CONTACT_ONE.exec(path);
    if (contactPath?.[1] && method === "PATCH") {
      const segment = contactPath[1];
      return {
        scopes: HUBSPOT_ROUTE_SCOPES.contactPatch,
        answer: () => {
          const id = decode(segment);
          if (id === undefined) return error(400, "VALIDATION_ERROR", "Malformed contact id");
          const byEmail = url.searchParams.get("idProperty") === "email";
          const entry = byEmail
            ? contacts.get(id.toLowerCase())
            : [...contacts.values()].find((c) => c.id === id);
          if (!entry) return error(404, "OBJECT_NOT_FOUND", "resource not found");
          const values = (body as { properties?: unknown })?.properties;
          if (!values || typeof values !== "object" || Array.isArray(values))
            return error(400, "VALIDATION_ERROR", "properties must be an object");
          if (Object.keys(values).length === 0)
            return error(
              400,
              "VALIDATION_ERROR",
              "No properties found to update, please provide at least one.",
            );
          const problems = Object.entries(values).flatMap(
            ([name, value]) => propertyProblem(name, properties.get(name), value) ?? [],
          );
          // All or nothing: one refused value and no property of the contact changes [guess].
          if (problems.length > 0) return invalidProperties(problems);
          for (const [name, value] of Object.entries(values)) entry.properties[name] = String(value);
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
        },
      };
    }

    // [spec] HubSpot/HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json,
    // operation get-/crm/v3/properties/{objectType}/{propertyName}_getByName: answer 200 Property
    // (name, label, type, fieldType, options, groupName, description, modificationMetadata, …); any
    // other answer is the `default` Error. [guess] the 404 OBJECT_NOT_FOUND and its message for an
    // unknown property, and the 400 for an object type other than contacts.
    const propertyPath = PROPERTY_ONE.exec(path);
    if (propertyPath?.[1] && propertyPath[2] && method === "GET") {
      const [, objectType, segment = ""] = propertyPath;
      return {
        scopes: HUBSPOT_ROUTE_SCOPES.propertyRead,
        answer: () => {
          if (objectType !== "contacts" && objectType !== "0-1")
            return error(400, "VALIDATION_ERROR", `Unable to infer object type from: ${objectType}`);
          const name = decode(segment) ?? segment;
          const found = properties.get(name);
          if (!found) return error(404, "OBJECT_NOT_FOUND", `Property ${name} does not exist`);
          const hubspotDefined = builtIn.has(name);
          const options = found.options ?? (found.type === "bool" ? BOOL_OPTIONS : []);
          return {
            status: 200,
            body: {
              name: found.name,
              label: found.label ?? found.name,
              type: found.type,
              fieldType: found.fieldType,
              description: "",
              groupName: "contactinformation",
              options: options.map((o, i) => ({
                label: o.label,
                value: o.value,
                hidden: ("hidden" in o && o.hidden) || false,
                displayOrder: i,
              })),
              displayOrder: -1,
              calculated: found.calculated ?? false,
              externalOptions: false,
              hasUniqueValue: name === "email",
              hidden: false,
              hubspotDefined,
              formField: true,
              dataSensitivity: "non_sensitive",
              archived: false,
              modificationMetadata: {
                archivable: !hubspotDefined,
                readOnlyDefinition: hubspotDefined,
                readOnlyValue: found.readOnlyValue ?? false,
              },
              createdAt: "2024-01-01T00:00:00Z",
              updatedAt: "2024-01-01T00:00:00Z",
            },
          };
        },
      };
    }
    return notFound;
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

    const route = resolve(method, url, body);
    const fault = faults.shift();
    if (fault) return faultAnswer(fault, route, url.pathname, method, body);
    // [doc] Bearer token (private app access token); the 401 body follows reported answers.
    if (req.headers.authorization !== `Bearer ${accessToken}`)
      return error(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
      );
    // [spec] each operation's `security`: a token without one of its scope sets is refused.
    if (route.scopes.length > 0 && !route.scopes.some((set) => set.every((s) => fake.scopes.has(s))))
      return missingScopes(route.scopes);
    const now = Date.now();
    while (windowLog.length > 0 && (windowLog[0] ?? 0) <= now - fake.rateLimit.intervalMs) windowLog.shift();
    if (windowLog.length >= fake.rateLimit.max) return rateLimited("TEN_SECONDLY_ROLLING");
    windowLog.push(now);
    record.counted = true;
    const answer = route.answer();
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
