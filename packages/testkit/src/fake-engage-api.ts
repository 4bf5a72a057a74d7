import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { closer, listenLocal } from "./local-server.ts";

/**
 * A local stand-in for the Voyado Engage REST API (v3), for tests of contact lookups. It checks
 * the headers the way Engage does (wrong or missing `apikey` → 401, missing `User-Agent` → 400,
 * missing `Content-Type: application/json` → 500), logs every request with its arrival time, and
 * can inject failures (`failNext`) and latency.
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
    if (req.headers.apikey !== apiKey) {
      sendJson(res, 401, { errorCode: "Unauthorized", message: "Missing or invalid API key." });
      return;
    }
    if (!req.headers["user-agent"]) {
      sendJson(res, 400, { errorCode: "MissingUserAgent", message: "The User-Agent header is required." });
      return;
    }
    const contentType = req.headers["content-type"] ?? "";
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      sendJson(res, 500, { message: "An error has occurred." });
      return;
    }
    if (req.method !== "GET") {
      sendJson(res, 405, { errorCode: "MethodNotAllowed", message: "Only GET is supported by this fake." });
      return;
    }

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

    const match = CONTACT_PATH.exec(url.pathname);
    if (!match?.[1]) {
      sendJson(res, 404, { errorCode: "NotFound", message: "No such resource." });
      return;
    }
    let id: string;
    try {
      id = decodeURIComponent(match[1]);
    } catch {
      sendJson(res, 400, { errorCode: "InvalidContactId", message: "Malformed contact id." });
      return;
    }
    const contact = contacts.get(id);
    if (!contact) {
      sendJson(res, 404, { errorCode: "ContactNotFound", message: "Contact not found." });
      return;
    }
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
