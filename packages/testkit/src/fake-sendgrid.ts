import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { closer, listenLocal } from "./local-server.ts";

/**
 * A local stand-in for the SendGrid v3 suppression API (Advanced Suppression Manager), for tests
 * and sandbox mode. It follows the vendor's published OpenAPI spec, `twilio/sendgrid-oai`
 * `spec/json/tsg_suppressions_v3.json` (named [spec] below, with the operationId), and SendGrid's
 * documentation pages ([doc]). Whatever neither publishes is marked [guess]; where several answers
 * are plausible the fake can give each (options `invalidAddress`, `unknownGroup`), so that the
 * connector is tested against every one instead of against the one the fake happens to pick.
 *
 * - `POST /v3/asm/suppressions/global` `{recipient_emails:[…]}` → 201 `{recipient_emails}` [spec]
 * - `GET /v3/asm/suppressions/global/{email}` → 200 `{recipient_email}` or `{}` [spec]
 * - `DELETE /v3/asm/suppressions/global/{email}` → 204 [spec]; also when the address is not listed
 *   [guess: 204 is the only answer documented]
 * - `GET /v3/asm/groups/{id}` → 200 group [spec]; an unknown group: see `unknownGroup` [guess]
 * - `POST /v3/asm/groups/{id}/suppressions` → 201 `{recipient_emails}`; **an unknown or deleted group
 *   puts the addresses on the global list**, silently [spec, operation description]
 * - `GET /v3/asm/groups/{id}/suppressions` → 200 `[email, …]` [spec]
 * - `POST /v3/asm/groups/{id}/suppressions/search` `{recipient_emails}` → 200 `[email, …]`, the
 *   given addresses that are in the group [spec]
 * - `DELETE /v3/asm/groups/{id}/suppressions/{email}` → 204 [spec] (listed or not, as above)
 * - A malformed address in a POST's `recipient_emails`: see `invalidAddress` [guess]
 * - Bearer auth [spec `BearerAuth`]: a wrong key → 401 `{"errors":[{"message":"The provided
 *   authorization grant is invalid, expired, or revoked","field":null}]}` [doc: SendGrid support,
 *   "4XX API Errors and Troubleshooting Suggestions"]; no header → 401 "authorization required" [guess]
 * - Every authenticated answer carries `X-RateLimit-Limit/-Remaining/-Reset`; each endpoint has its own
 *   fixed window; over it → 429 `{"errors":[{"field":null,"message":"too many requests"}]}` [doc:
 *   twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits]. Reset is
 *   written as epoch seconds (documented) or, with `resetStyle: "seconds"`, as seconds until the
 *   reset (what some specs say), so that clients can be tested against both readings.
 * - Error bodies `{errors:[{field, message}]}` [spec `ErrorResponse`; doc: …/how-to-use-the-sendgrid-v3-api/errors]
 *
 * Addresses are stored lower-cased (SendGrid matches suppressions case-insensitively [guess]).
 * Requests are logged with their arrival and answer times; faults can be injected (`failNext`,
 * `failAlways`) and answers delayed (`latencyMs`).
 */

export const FAKE_SENDGRID_API_KEY = "SG.fake-sendgrid-api-key";

export type ResetStyle = "epoch" | "seconds";

/**
 * How the fake answers a `POST …/suppressions` (global or group) whose `recipient_emails` holds an
 * address it finds malformed. SendGrid documents only the 201 [guess for all three]:
 * - `reject`: 400 `{errors:[{field:"recipient_emails", message}]}` for the whole request; nothing stored;
 * - `omit`: 201; the malformed address is neither stored nor named in the echoed `recipient_emails`,
 *   the others are;
 * - `omit-all`: 201 `{recipient_emails: []}`; nothing of that request is stored.
 */
export type FakeSendGridInvalidAddress = "reject" | "omit" | "omit-all";

/**
 * How the fake answers `GET /v3/asm/groups/{id}` for a group that does not exist. The spec documents
 * only the 200 of an existing group [guess for all]:
 * - `not-found`: 404 `{errors:[{field:null, message:"Group not found"}]}`;
 * - `bad-request`: 400 `{errors:[{field:"group_id", message}]}`;
 * - `empty`: 200 `{}`;
 * - `other-group`: 200 with another group (the account's default group, id 0);
 * - `list`: 200 with the list of the existing groups (what `GET /v3/asm/groups` answers).
 */
export type FakeSendGridUnknownGroup = "not-found" | "bad-request" | "empty" | "other-group" | "list";

export interface FakeSendGridRequest {
  /** `Date.now()` when the request arrived (before any latency). */
  at: number;
  /** `Date.now()` when the answer was sent; 0 while pending. */
  answeredAt: number;
  method: string;
  /** Path and query as received (addresses still percent-encoded). */
  path: string;
  /** Status answered; 0 while pending. */
  status: number;
  /** Addresses the request carried (POST body, or the decoded path segment), as sent. */
  emails: string[];
  /** `X-RateLimit-Remaining` answered, when the answer carried it. */
  rateLimitRemaining: number | undefined;
  /** `X-RateLimit-Reset` answered (epoch or seconds, see `resetStyle`), when the answer carried it. */
  rateLimitReset: number | undefined;
}

export interface FakeSendGridFault {
  /** 5xx, 401, 403, 400, 429, … */
  status: number;
  /** The `errors[0].message` of the answer; a status-specific default when absent. */
  message?: string;
  /** The `errors[0].field` of the answer (null when absent). */
  field?: string | null;
  /** 429 only: seconds until the window resets (default 1). */
  resetSeconds?: number;
  /** 429 only: how `X-RateLimit-Reset` is written (default: the fake's `resetStyle`). */
  resetStyle?: ResetStyle;
  /** Extra answer headers. */
  headers?: Record<string, string>;
  /** Only a request with this method (e.g. "DELETE") takes the fault; others pass. */
  method?: string;
  /**
   * The answer's whole body instead of the `errors` body, e.g. a 201 with an odd echo or a 200 with
   * an odd group: JSON-encoded, or sent as is when a string (`""`: no body). Nothing is stored.
   */
  body?: unknown;
}

export interface FakeSendGridRateLimit {
  /** Requests per window and endpoint. */
  limit: number;
  windowMs: number;
}

export interface FakeSendGridOptions {
  apiKey?: string;
  /** Unsubscribe groups that exist (ids). */
  groups?: Iterable<number>;
  /** Default 600 requests per 60 s per endpoint [guess: SendGrid publishes no numbers]. */
  rateLimit?: FakeSendGridRateLimit;
  /** How `X-RateLimit-Reset` is written; default `epoch` (as documented). */
  resetStyle?: ResetStyle;
  latencyMs?: number;
  /** Answer to a POST naming a malformed address; default `reject`. */
  invalidAddress?: FakeSendGridInvalidAddress;
  /** Answer to `GET /v3/asm/groups/{id}` for an unknown group; default `not-found`. */
  unknownGroup?: FakeSendGridUnknownGroup;
}

export interface FakeSendGrid {
  /** Base URL, e.g. `http://127.0.0.1:43123` (no trailing slash): the connector's `baseUrl`. */
  readonly url: string;
  /** The key accepted as `Authorization: Bearer <key>`. */
  readonly apiKey: string;
  /** Global unsubscribes (lower-cased). */
  readonly globalSuppressions: Set<string>;
  /** Group unsubscribes per group id (lower-cased); a group's set exists once it had an address. */
  readonly groupSuppressions: Map<number, Set<string>>;
  /** Ids of the unsubscribe groups that exist; add or delete ids to change them. */
  readonly groups: Set<number>;
  /** Every request, in arrival order. */
  readonly requests: FakeSendGridRequest[];
  /** Per-endpoint fixed window; change it at any time (applies to windows opened afterwards). */
  rateLimit: FakeSendGridRateLimit;
  resetStyle: ResetStyle;
  /** Delay before every answer, in milliseconds. */
  latencyMs: number;
  /** Answer to a POST naming a malformed address; change it at any time. */
  invalidAddress: FakeSendGridInvalidAddress;
  /** Answer to `GET /v3/asm/groups/{id}` for an unknown group; change it at any time. */
  unknownGroup: FakeSendGridUnknownGroup;
  /** The next `count` requests (matching `fault.method`, if given) are answered with `fault`. */
  failNext(count: number, fault?: FakeSendGridFault): void;
  /** Every request (matching `fault.method`) is answered with `fault`, until called with undefined. */
  failAlways(fault: FakeSendGridFault | undefined): void;
  /** Group suppressions of `groupId` (an empty set when it has none). */
  groupList(groupId: number): Set<string>;
  close(): Promise<void>;
}

const INVALID_GRANT = "The provided authorization grant is invalid, expired, or revoked";

const DEFAULT_MESSAGES: Record<number, string> = {
  400: "Bad Request",
  401: INVALID_GRANT,
  403: "access forbidden",
  404: "resource not found",
  429: "too many requests",
  500: "internal server error",
  502: "bad gateway",
  503: "service unavailable",
  504: "gateway timeout",
};

// SendGrid's own validation is not published [guess]: a local part, "@" and a dotted domain.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

const GLOBAL = "/v3/asm/suppressions/global";
const GLOBAL_ONE = /^\/v3\/asm\/suppressions\/global\/([^/]+)$/;
const GROUP = /^\/v3\/asm\/groups\/(\d+)$/;
const GROUP_SUPPRESSIONS = /^\/v3\/asm\/groups\/(\d+)\/suppressions$/;
const GROUP_SEARCH = /^\/v3\/asm\/groups\/(\d+)\/suppressions\/search$/;
const GROUP_SUPPRESSION_ONE = /^\/v3\/asm\/groups\/(\d+)\/suppressions\/([^/]+)$/;

interface Window {
  start: number;
  used: number;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

class BadRequest extends Error {
  readonly field: string | null;
  constructor(message: string, field: string | null = null) {
    super(message);
    this.field = field;
  }
}

const errorBody = (message: string, field: string | null = null) => ({ errors: [{ field, message }] });

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The `recipient_emails` of a POST body, as sent (anything but a string counts as malformed). */
function recipientEmails(text: string): unknown[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequest("Bad Request");
  }
  const list = (body as { recipient_emails?: unknown } | null)?.recipient_emails;
  // [guess] The spec requires the field (schema `SuppressionsRequest`) but not a non-empty list.
  if (!Array.isArray(list) || list.length === 0) {
    throw new BadRequest("recipient_emails is required and must be a non-empty array", "recipient_emails");
  }
  return list;
}

/** The addresses a request body carries, for the request log (also of requests answered with a fault). */
function carried(text: string): string[] {
  try {
    const list = (JSON.parse(text) as { recipient_emails?: unknown } | null)?.recipient_emails;
    return Array.isArray(list) ? list.map(String) : [];
  } catch {
    return [];
  }
}

const isAddress = (email: unknown): email is string => typeof email === "string" && EMAIL.test(email);

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // [guess] A path that is not even valid percent-encoding.
    throw new BadRequest("Bad Request", "email");
  }
}

const normalize = (email: string) => email.trim().toLowerCase();

export async function startFakeSendGrid(options: FakeSendGridOptions = {}): Promise<FakeSendGrid> {
  const apiKey = options.apiKey ?? FAKE_SENDGRID_API_KEY;
  const queued: FakeSendGridFault[] = [];
  let always: FakeSendGridFault | undefined;
  const windows = new Map<string, Window>();
  const timers = new Set<NodeJS.Timeout>();

  const fake: FakeSendGrid = {
    url: "",
    apiKey,
    globalSuppressions: new Set(),
    groupSuppressions: new Map(),
    groups: new Set(options.groups ?? []),
    requests: [],
    rateLimit: options.rateLimit ?? { limit: 600, windowMs: 60_000 },
    resetStyle: options.resetStyle ?? "epoch",
    latencyMs: options.latencyMs ?? 0,
    invalidAddress: options.invalidAddress ?? "reject",
    unknownGroup: options.unknownGroup ?? "not-found",
    failNext(count, fault = { status: 503 }) {
      for (let i = 0; i < count; i++) queued.push(fault);
    },
    failAlways(fault) {
      always = fault;
    },
    groupList(groupId) {
      let list = fake.groupSuppressions.get(groupId);
      if (!list) {
        list = new Set();
        fake.groupSuppressions.set(groupId, list);
      }
      return list;
    },
    close: async () => {},
  };

  const resetValue = (resetAt: number, style: ResetStyle, now: number) =>
    style === "epoch" ? Math.ceil(resetAt / 1000) : Math.max(0, Math.ceil((resetAt - now) / 1000));

  /** Counts the request in its endpoint's window; the headers to answer, and whether it is over. */
  function limit(endpoint: string, now: number): { headers: Record<string, string>; over: boolean } {
    const { limit: max, windowMs } = fake.rateLimit;
    let window = windows.get(endpoint);
    if (!window || now >= window.start + windowMs) {
      window = { start: now, used: 0 };
      windows.set(endpoint, window);
    }
    const over = window.used >= max;
    if (!over) window.used += 1;
    return {
      over,
      headers: {
        "X-RateLimit-Limit": String(max),
        "X-RateLimit-Remaining": String(Math.max(0, max - window.used)),
        "X-RateLimit-Reset": String(resetValue(window.start + windowMs, fake.resetStyle, now)),
      },
    };
  }

  function takeFault(method: string): FakeSendGridFault | undefined {
    const index = queued.findIndex((f) => f.method === undefined || f.method.toUpperCase() === method);
    if (index >= 0) return queued.splice(index, 1)[0];
    if (always && (always.method === undefined || always.method.toUpperCase() === method)) return always;
    return undefined;
  }

  function faultAnswer(fault: FakeSendGridFault, now: number): Answer {
    const message = fault.message ?? DEFAULT_MESSAGES[fault.status] ?? "error";
    const headers: Record<string, string> = {};
    if (fault.status === 429) {
      const seconds = fault.resetSeconds ?? 1;
      const style = fault.resetStyle ?? fake.resetStyle;
      headers["X-RateLimit-Limit"] = String(fake.rateLimit.limit);
      headers["X-RateLimit-Remaining"] = "0";
      headers["X-RateLimit-Reset"] = String(resetValue(now + seconds * 1000, style, now));
    }
    return {
      status: fault.status,
      body: fault.body !== undefined ? fault.body : errorBody(message, fault.field ?? null),
      headers: { ...headers, ...fault.headers },
    };
  }

  const groupBody = (id: number) => ({
    id,
    name: `Group ${id}`,
    description: "Unsubscribe group of the fake SendGrid",
    is_default: false,
    unsubscribes: fake.groupSuppressions.get(id)?.size ?? 0,
  });

  /** A group that does not exist, answered as `unknownGroup` says ([guess], see there). */
  function unknownGroupAnswer(id: number): Answer {
    switch (fake.unknownGroup) {
      case "not-found":
        return { status: 404, body: errorBody("Group not found") };
      case "bad-request":
        return { status: 400, body: errorBody(`group ${id} is not a valid group id`, "group_id") };
      case "empty":
        return { status: 200, body: {} };
      case "other-group":
        return {
          status: 200,
          body: { id: 0, name: "Default", description: "The account's default group", is_default: true },
        };
      case "list":
        return { status: 200, body: [...fake.groups].map(groupBody) };
    }
  }

  /**
   * A `recipient_emails` POST (global or group): the addresses to store and the 201 answer, or a 400,
   * as `invalidAddress` says for a malformed address ([guess], see there).
   */
  function addition(body: string, record: FakeSendGridRequest): { store: string[]; answer: Answer } {
    const list = recipientEmails(body);
    record.emails = list.map(String);
    const bad = list.find((email) => !isAddress(email));
    if (bad !== undefined) {
      if (fake.invalidAddress === "reject") {
        throw new BadRequest(`${String(bad)} is not a valid email address`, "recipient_emails");
      }
      if (fake.invalidAddress === "omit-all") {
        return { store: [], answer: { status: 201, body: { recipient_emails: [] } } };
      }
    }
    const store = list.filter(isAddress);
    // [spec] The echo names the addresses suppressed, as sent [guess: not normalized].
    return { store, answer: { status: 201, body: { recipient_emails: store } } };
  }

  /** Routes an authenticated request; returns the endpoint name (for the limiter) and the handler. */
  function route(
    method: string,
    path: string,
    record: FakeSendGridRequest,
  ): { endpoint: string; handle: (body: string) => Answer } | undefined {
    // [spec] tsg_suppressions_v3.json CreateGlobalSuppression, POST /v3/asm/suppressions/global:
    // 201 `{recipient_emails}` (required). A malformed address: [guess], see `invalidAddress`.
    if (path === GLOBAL && method === "POST") {
      return {
        endpoint: "POST global",
        handle: (body) => {
          const { store, answer } = addition(body, record);
          for (const email of store) fake.globalSuppressions.add(normalize(email));
          return answer;
        },
      };
    }
    let match = GLOBAL_ONE.exec(path);
    // [spec] tsg_suppressions_v3.json GetGlobalSuppression, GET /v3/asm/suppressions/global/{email}:
    // 200 `{recipient_email}` when listed, `{}` when not: the spec says so of any address not
    // suppressed, so a malformed one gets `{}` too rather than a 400 [guess].
    // [spec] DeleteGlobalSuppression, DELETE /v3/asm/suppressions/global/{email}: 204. The same 204
    // for an address that is not listed (or malformed): [guess], 204 being the only answer documented.
    if (match?.[1] !== undefined && (method === "DELETE" || method === "GET")) {
      const segment = match[1];
      return {
        endpoint: `${method} global/{email}`,
        handle: () => {
          const email = decodeSegment(segment);
          record.emails = [email];
          if (method === "DELETE") {
            fake.globalSuppressions.delete(normalize(email));
            return { status: 204 };
          }
          return {
            status: 200,
            body: fake.globalSuppressions.has(normalize(email)) ? { recipient_email: normalize(email) } : {},
          };
        },
      };
    }
    match = GROUP.exec(path);
    // [spec] tsg_suppressions_v3.json GetAsmGroup, GET /v3/asm/groups/{group_id}: 200 group (`id`
    // required). An unknown group is not documented: [guess], see `unknownGroup`.
    if (match?.[1] !== undefined && method === "GET") {
      const id = Number(match[1]);
      return {
        endpoint: "GET groups/{id}",
        handle: () => (fake.groups.has(id) ? { status: 200, body: groupBody(id) } : unknownGroupAnswer(id)),
      };
    }
    match = GROUP_SUPPRESSIONS.exec(path);
    // [spec] tsg_suppressions_v3.json AddSuppressionToAsmGroup, POST /v3/asm/groups/{group_id}/suppressions:
    // 201 `{recipient_emails}`; "If you attempt to add suppressions to a group that has been deleted or
    // does not exist, the suppressions will be added to the global suppressions list." A malformed
    // address: [guess], see `invalidAddress`.
    // [spec] ListSuppressionFromAsmGroup, GET /v3/asm/groups/{group_id}/suppressions: 200 `[email, …]`
    // ([guess] an unknown group: 200 `[]`).
    if (match?.[1] !== undefined && (method === "POST" || method === "GET")) {
      const id = Number(match[1]);
      return {
        endpoint: `${method} groups/{id}/suppressions`,
        handle: (body) => {
          if (method === "GET") return { status: 200, body: [...(fake.groupSuppressions.get(id) ?? [])] };
          const { store, answer } = addition(body, record);
          const target = fake.groups.has(id) ? fake.groupList(id) : fake.globalSuppressions;
          for (const email of store) target.add(normalize(email));
          return answer;
        },
      };
    }
    match = GROUP_SEARCH.exec(path);
    // [spec] tsg_suppressions_v3.json SearchSuppressionFromAsmGroup,
    // POST /v3/asm/groups/{group_id}/suppressions/search `{recipient_emails}`: 200 `[email, …]`, "only
    // the email addresses that have been unsubscribed from the given group". [guess] Addresses come back
    // lower-cased; a malformed one is refused like in an addition (`invalidAddress: "reject"`) or left
    // out; an unknown group answers `[]`.
    if (match?.[1] !== undefined && method === "POST") {
      const id = Number(match[1]);
      return {
        endpoint: "POST groups/{id}/suppressions/search",
        handle: (body) => {
          const list = recipientEmails(body);
          record.emails = list.map(String);
          const bad = list.find((email) => !isAddress(email));
          if (bad !== undefined && fake.invalidAddress === "reject") {
            throw new BadRequest(`${String(bad)} is not a valid email address`, "recipient_emails");
          }
          const group = fake.groupSuppressions.get(id);
          const found = list.filter(isAddress).map(normalize);
          return { status: 200, body: [...new Set(found.filter((email) => group?.has(email)))] };
        },
      };
    }
    match = GROUP_SUPPRESSION_ONE.exec(path);
    // [spec] tsg_suppressions_v3.json DeleteSuppressionFromAsmGroup,
    // DELETE /v3/asm/groups/{group_id}/suppressions/{email}: 204. Also for an address not listed, or a
    // group that does not exist: [guess], 204 being the only answer documented.
    if (match?.[1] !== undefined && match[2] !== undefined && method === "DELETE") {
      const id = Number(match[1]);
      const segment = match[2];
      return {
        endpoint: "DELETE groups/{id}/suppressions/{email}",
        handle: () => {
          const email = decodeSegment(segment);
          record.emails = [email];
          fake.groupSuppressions.get(id)?.delete(normalize(email));
          return { status: 204 };
        },
      };
    }
    return undefined;
  }

  async function answer(req: IncomingMessage, record: FakeSendGridRequest): Promise<Answer> {
    const body = await readBody(req);
    const now = Date.now();
    const method = (req.method ?? "GET").toUpperCase();
    record.emails = carried(body);
    const fault = takeFault(method);
    if (fault) return faultAnswer(fault, now);

    // [spec] security `BearerAuth`. A refused key's message: [doc] SendGrid support article "4XX API
    // Errors and Troubleshooting Suggestions"; a missing header's: [guess].
    const auth = req.headers.authorization;
    if (!auth) return { status: 401, body: errorBody("authorization required") };
    if (auth !== `Bearer ${apiKey}`) return { status: 401, body: errorBody(INVALID_GRANT) };

    const path = new URL(req.url ?? "/", "http://fake.invalid").pathname;
    const found = route(method, path, record);
    // [guess] A path or method the fake does not serve.
    if (!found) return { status: 404, body: errorBody("resource not found") };
    // [doc] …/how-to-use-the-sendgrid-v3-api/rate-limits: headers on every answer, a fixed number of
    // requests per refresh period and endpoint, then 429 with this body. The numbers: [guess].
    const { headers, over } = limit(found.endpoint, now);
    if (over) return { status: 429, body: errorBody("too many requests"), headers };
    try {
      return { ...found.handle(body), headers };
    } catch (error) {
      if (error instanceof BadRequest)
        return { status: 400, body: errorBody(error.message, error.field), headers };
      throw error;
    }
  }

  const server = createServer((req, res: ServerResponse) => {
    const record: FakeSendGridRequest = {
      at: Date.now(),
      answeredAt: 0,
      method: (req.method ?? "GET").toUpperCase(),
      path: req.url ?? "/",
      status: 0,
      emails: [],
      rateLimitRemaining: undefined,
      rateLimitReset: undefined,
    };
    fake.requests.push(record);
    const send = (result: Answer) => {
      const headers = { ...result.headers };
      const remaining = headers["X-RateLimit-Remaining"];
      const reset = headers["X-RateLimit-Reset"];
      record.rateLimitRemaining = remaining === undefined ? undefined : Number(remaining);
      record.rateLimitReset = reset === undefined ? undefined : Number(reset);
      record.status = result.status;
      record.answeredAt = Date.now();
      if (result.body === undefined) {
        res.writeHead(result.status, headers);
        res.end();
      } else if (typeof result.body === "string") {
        res.writeHead(result.status, headers);
        res.end(result.body);
      } else {
        res.writeHead(result.status, { ...headers, "content-type": "application/json" });
        res.end(JSON.stringify(result.body));
      }
    };
    const respond = (result: Answer) => {
      if (fake.latencyMs <= 0) return send(result);
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(result);
      }, fake.latencyMs);
      timers.add(timer);
    };
    answer(req, record).then(respond, () => {
      if (!res.headersSent) send({ status: 500, body: errorBody("internal server error") });
    });
  });
  (fake as { url: string }).url = await listenLocal(server);
  fake.close = closer(server, timers);
  return fake;
}
