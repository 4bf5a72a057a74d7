import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { closer, listenLocal } from "./local-server.ts";

/**
 * A local stand-in for the Voyado Engage REST API (v3), for tests of contact lookups. It checks
 * the headers the way Engage does (wrong or missing `apikey` → 401, missing `User-Agent` → 400,
 * missing `Content-Type: application/json` → 500), logs every request with its arrival time, and
 * can inject failures (`failNext`) and latency.
 *
 * Sources (issue #10: every route and behaviour names the page it follows, or says it is a guess);
 * the project's reference notes list them under "Engage REST API". The comments cite:
 * - [engage-auth] https://developer.voyado.com/en/api/api-authentication.html: the `apikey` header;
 *   `User-Agent: <System>/<version>` "must be used in all calls"; `Content-Type: application/json`
 *   mandatory, else "a 500-error with the message 'An error has occurred'".
 * - [engage-find] https://developer.voyado.com/en/contacts/identify-contact/find-contact.html:
 *   `GET /api/v3/contacts/id?email=…` (also mobilePhone, socialSecurityNumber, customKey, any) → 200
 *   with the contact id as a JSON string; 400 InvalidEmailAddress/…/InvalidSearchQuery, 404
 *   ContactNotFound, 409 MultipleMatches, 500 InvalidSystemConfiguration ("Response codes could
 *   change, so always check your Swagger page").
 * - [engage-contact] GET /api/v3/contacts/{contactId} as in Voyado's v3 Swagger (linked from
 *   https://developer.voyado.com, "The Engage API"); the response has `id` and `attributes` (as the
 *   contact-overview page's example shows); where the preferences are in it is not published: the
 *   fake's `preferences: {acceptsEmail, acceptsSms, acceptsPostal}` is [guess] (read defensively).
 * - [engage-rate] https://developer.voyado.com/en/api/api-rate-limit.html: below 50 requests/s
 *   recommended, 429 Too Many Requests above 200/s, per API key. The fake has no rate limit of its
 *   own; `failNext(n, 429, …)` injects one.
 * - [guess] Not published: the error bodies' shape (`{errorCode, message}`), the status for a
 *   missing or wrong `apikey` (401) and for a missing User-Agent (400), and the fake's own
 *   simplifications (GET only, lookup by email only).
 */

export const FAKE_ENGAGE_API_KEY = "fake-engage-api-key";

export interface FakeContactInput {
  email?: string;
  mobilePhone?: string;
  acceptsEmail?: boolean;
  acceptsSms?: boolean;
  acceptsPostal?: boolean;
}

export interface FakeEngageRequest {
  /** `Date.now()` when the request arrived (before any latency). */
  at: number;
  /** Path and query as received, e.g. `/api/v3/contacts/abc`. */
  path: string;
  /** Status answered; 0 while the answer is pending. */
  status: number;
}

export interface FakeEngageApi {
  /** Base URL, e.g. `http://127.0.0.1:43123` (no trailing slash). */
  readonly url: string;
  /** The key the fake accepts in the `apikey` header. */
  readonly apiKey: string;
  /** Creates or replaces a contact. */
  setContact(id: string, contact?: FakeContactInput): void;
  deleteContact(id: string): void;
  /** Every request, in arrival order. */
  readonly requests: FakeEngageRequest[];
  /** The next `n` requests are answered with `status` (and `headers`), before any other check. */
  failNext(n: number, status?: number, headers?: Record<string, string>): void;
  /** Delay before every answer, in milliseconds. */
  latencyMs: number;
  close(): Promise<void>;
}

interface Failure {
  status: number;
  headers: Record<string, string>;
}

const CONTACT_PATH = /^\/api\/v3\/contacts\/([^/]+)$/;

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

export async function startFakeEngageApi(options: { apiKey?: string } = {}): Promise<FakeEngageApi> {
  const apiKey = options.apiKey ?? FAKE_ENGAGE_API_KEY;
  const contacts = new Map<string, FakeContactInput>();
  const requests: FakeEngageRequest[] = [];
  const failures: Failure[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let latencyMs = 0;

  function answer(req: IncomingMessage, res: ServerResponse, url: URL): void {
    // Injected failures come first, whatever the request ([guess] body shape).
    const failure = failures.shift();
    if (failure) {
      sendJson(
        res,
        failure.status,
        { errorCode: "InjectedFailure", message: `Injected failure (${failure.status})` },
        failure.headers,
      );
      return;
    }
    // [engage-auth] the `apikey` header; 401 and the body are [guess].
    if (req.headers.apikey !== apiKey) {
      sendJson(res, 401, { errorCode: "Unauthorized", message: "Missing or invalid API key." });
      return;
    }
    // [engage-auth] User-Agent is required; what Engage answers without one (400 here) is [guess].
    if (!req.headers["user-agent"]) {
      sendJson(res, 400, { errorCode: "MissingUserAgent", message: "The User-Agent header is required." });
      return;
    }
    // [engage-auth] Content-Type: application/json is mandatory, else 500 "An error has occurred"
    // (documented; the JSON `{message}` wrapping is [guess]).
    const contentType = req.headers["content-type"] ?? "";
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      sendJson(res, 500, { message: "An error has occurred." });
      return;
    }
    // [guess] The fake implements GET only; Engage has many other methods on these paths.
    if (req.method !== "GET") {
      sendJson(res, 405, { errorCode: "MethodNotAllowed", message: "Only GET is supported by this fake." });
      return;
    }

    // GET /api/v3/contacts/id?email=… — [engage-find]: 200 with the bare contact id (a JSON string),
    // 404 ContactNotFound, 409 MultipleMatches. [guess] Only `email` is supported (mobilePhone,
    // socialSecurityNumber, customKey, any and the 400 validation codes are not), matched exactly.
    if (url.pathname === "/api/v3/contacts/id") {
      const email = url.searchParams.get("email");
      const matches = [...contacts].filter(([, c]) => email !== null && c.email === email);
      if (matches.length === 0) {
        sendJson(res, 404, { errorCode: "ContactNotFound", message: "No contact matches." });
      } else if (matches.length > 1) {
        sendJson(res, 409, { errorCode: "MultipleMatches", message: "More than one contact matches." });
      } else {
        sendJson(res, 200, matches[0]?.[0]);
      }
      return;
    }

    // GET /api/v3/contacts/{contactId} — [engage-contact]. Any other path: 404, body [guess].
    const match = CONTACT_PATH.exec(url.pathname);
    if (!match?.[1]) {
      sendJson(res, 404, { errorCode: "NotFound", message: "No such resource." });
      return;
    }
    let id: string;
    try {
      id = decodeURIComponent(match[1]);
    } catch {
      // [guess] A malformed percent-encoding in the id.
      sendJson(res, 400, { errorCode: "InvalidContactId", message: "Malformed contact id." });
      return;
    }
    // Unknown or deleted contact: 404 ContactNotFound (the code the contacts endpoints use,
    // [engage-find]; for this route it is [guess] until checked against the Swagger page).
    const contact = contacts.get(id);
    if (!contact) {
      sendJson(res, 404, { errorCode: "ContactNotFound", message: "Contact not found." });
      return;
    }
    // [engage-contact] `id` and `attributes` (email, mobilePhone); `contactType` "Member" and the
    // `preferences` object are [guess].
    sendJson(res, 200, {
      id,
      contactType: "Member",
      attributes: { email: contact.email ?? null, mobilePhone: contact.mobilePhone ?? null },
      preferences: {
        acceptsEmail: contact.acceptsEmail ?? null,
        acceptsSms: contact.acceptsSms ?? null,
        acceptsPostal: contact.acceptsPostal ?? null,
      },
    });
  }

  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    const record: FakeEngageRequest = { at: Date.now(), path, status: 0 };
    requests.push(record);
    res.on("finish", () => {
      record.status = res.statusCode;
    });
    req.resume();
    const url = new URL(path, "http://fake.invalid");
    const respond = () => {
      try {
        answer(req, res, url);
      } catch {
        // A bug in the fake [guess body].
        if (!res.headersSent) sendJson(res, 500, { message: "Fake Engage API error." });
      }
    };
    if (latencyMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        respond();
      }, latencyMs);
      timers.add(timer);
    } else {
      respond();
    }
  });
  const url = await listenLocal(server);
  const close = closer(server, timers);

  return {
    url,
    apiKey,
    requests,
    get latencyMs() {
      return latencyMs;
    },
    set latencyMs(value: number) {
      latencyMs = Math.max(0, value);
    },
    setContact(id, contact = {}) {
      contacts.set(id, { ...contact });
    },
    deleteContact(id) {
      contacts.delete(id);
    },
    failNext(n, status = 503, headers = {}) {
      for (let i = 0; i < n; i++) failures.push({ status, headers: { ...headers } });
    },
    close,
  };
}
