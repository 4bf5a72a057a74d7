import { type HeaderSource, httpVerdict, maskEmails } from "@engage-bridge/core";
import type sendgridDefaultClient from "@sendgrid/client";
// @ts-expect-error TS2595: the SDK's typings (`export =` its shared client) cannot name the class it exports.
import { Client as SdkClient } from "@sendgrid/client";
import type { SendGridConfig } from "./config.ts";
import { MAX_HINT_MS, waitAfter } from "./rate-limit.ts";

/**
 * The few SendGrid suppression calls the connector makes, through the official SDK. One SDK
 * `Client` per instance (never the SDK's shared default client): `setApiKey()` first, because it
 * resets the base URL, then `setDefaultRequest("baseUrl", …)`. The SDK does not retry; it rejects
 * with a `ResponseError {code, response: {headers, body}}` for 4xx/5xx answers and with the raw
 * axios error for everything else (network errors, timeouts, aborts).
 */

/**
 * How a failed call should be treated: core's `httpVerdict` (the vocabulary every connector shares),
 * with the wait SendGrid's rate-limit headers ask for.
 */
export type FailureKind =
  /** 429: wait `waitMs`, then try again. */
  | "rate-limited"
  /** 5xx, 408, 425, network error, timeout, redirect, unexpected answer: try again later. */
  | "transient"
  /**
   * 401/403: the API key is refused (or lacks the scope); 410: the endpoint is gone. Nothing will
   * work until an operator acts (core's `unhealthy`).
   */
  | "unauthorized"
  /** Other 4xx: this request can never succeed as sent. */
  | "rejected";

/** A SendGrid call that failed. The message names the status and SendGrid's own words, never an address. */
export class SendGridError extends Error {
  override readonly name = "SendGridError";
  readonly kind: FailureKind;
  /** HTTP status; 0 when there was no answer. */
  readonly status: number;
  /** SendGrid's `errors[].message`, e-mail addresses masked; empty when there was none. */
  readonly detail: string;
  /** Milliseconds to wait before the next request (rate limit), 0 when none. */
  readonly waitMs: number;
  /** A transient answer's `Retry-After` in milliseconds: retry no earlier; undefined when not given. */
  readonly retryAfterMs: number | undefined;
  constructor(
    kind: FailureKind,
    status: number,
    message: string,
    detail: string,
    waitMs: number,
    retryAfterMs?: number,
  ) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.detail = detail;
    this.waitMs = waitMs;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface SendGridAnswer {
  status: number;
  /** Milliseconds to wait before the next request (no requests left in the window), 0 when none. */
  waitMs: number;
}

/** The answer to a POST of suppressions. */
export interface AddAnswer extends SendGridAnswer {
  /**
   * The addresses the 201 names in `recipient_emails` (the ones SendGrid says it suppressed),
   * lower-cased; `undefined` when the answer carries no such list. An address sent but not named
   * here was not confirmed and must be checked.
   */
  echoed: Set<string> | undefined;
}

/** Whether the configured unsubscribe group exists, and if not, what SendGrid answered. */
export type GroupCheck =
  | { exists: true; waitMs: number }
  | {
      exists: false;
      waitMs: number;
      /** HTTP status SendGrid answered. */
      status: number;
      /** What SendGrid answered, for an operator (e.g. `404: Group not found`); no address in it. */
      answer: string;
    };

/** The addresses looked up that are on the list (global, or the group's). */
export interface ListedAnswer extends SendGridAnswer {
  /** Lower-cased. */
  listed: Set<string>;
}

const MAX_DETAIL = 300;

/** SendGrid's `{errors:[{message, field}]}` as one line, addresses masked, bounded in length. */
export function sendgridMessage(body: unknown): string {
  let parsed = body;
  if (typeof parsed === "string") {
    try {
      parsed = JSON.parse(parsed);
    } catch {
      return "";
    }
  }
  const errors = (parsed as { errors?: unknown } | null | undefined)?.errors;
  if (!Array.isArray(errors)) return "";
  const text = errors
    .map((e) => {
      const message = (e as { message?: unknown } | null)?.message;
      const field = (e as { field?: unknown } | null)?.field;
      if (typeof message !== "string" || message.trim() === "") return undefined;
      return typeof field === "string" && field !== "" ? `${message} (${field})` : message;
    })
    .filter((m): m is string => m !== undefined)
    .join("; ");
  const masked = maskEmails(text.replace(/\s+/g, " ").trim());
  return masked.length > MAX_DETAIL ? `${masked.slice(0, MAX_DETAIL - 1)}…` : masked;
}

const NETWORK_CODE = /^[A-Z][A-Z0-9_]*$/;

/** Turns whatever the SDK rejected with into a {@link SendGridError}; rethrows an abort as such. */
export function toSendGridError(error: unknown, signal: AbortSignal): Error {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason : new Error("aborted");
  const e = error as {
    code?: unknown;
    response?: { status?: unknown; headers?: unknown; body?: unknown; data?: unknown };
  } | null;
  // ResponseError: `code` is the HTTP status, `response` has `headers` and `body`.
  // A raw axios error with an answer (e.g. a redirect, not followed): `response.status`.
  const status =
    typeof e?.code === "number" ? e.code : typeof e?.response?.status === "number" ? e.response.status : 0;
  if (status === 0) {
    const code = typeof e?.code === "string" && NETWORK_CODE.test(e.code) ? ` ${e.code}` : "";
    return new SendGridError("transient", 0, `SendGrid unreachable (network error${code})`, "", 0);
  }
  const headers = e?.response?.headers;
  const detail = sendgridMessage(e?.response?.body ?? e?.response?.data);
  const said = detail ? `: ${detail}` : "";
  // SendGrid's own rule first: the wait its rate-limit headers ask for (X-RateLimit-Remaining 0 and
  // -Reset; after a 429, the later of -Reset and Retry-After). Otherwise core's verdict decides.
  const waitMs = waitAfter(status, headers);
  const verdict = httpVerdict(status, headers as HeaderSource, { maxDelayMs: MAX_HINT_MS });
  // A redirect (never followed: the key travels in a header) or another non-error answer the SDK
  // rejected: not an answer to the request, so it may pass later.
  if (status < 400 || verdict.kind === "ok") {
    return new SendGridError("transient", status, `SendGrid answered ${status}${said}`, detail, waitMs);
  }
  switch (verdict.kind) {
    case "rate-limited":
      return new SendGridError("rate-limited", 429, "SendGrid rate limit reached (429)", detail, waitMs);
    case "unhealthy": {
      const message =
        status === 401 || status === 403
          ? `SendGrid refused the API key (${status})${said}`
          : `SendGrid answered ${status} (the endpoint is gone)${said}`;
      return new SendGridError("unauthorized", status, message, detail, waitMs);
    }
    case "dead":
      return new SendGridError(
        "rejected",
        status,
        `SendGrid rejected the request (${status})${said}`,
        detail,
        waitMs,
      );
    case "retry":
      return new SendGridError(
        "transient",
        status,
        `SendGrid answered ${status}${said}`,
        detail,
        waitMs,
        verdict.delayMs,
      );
  }
}

type Method = "GET" | "POST" | "DELETE";

const lower = (email: string) => email.trim().toLowerCase();

/** A 2xx whose body does not say what the call needs: nothing can be concluded, so try again later. */
const unreadable = (status: number, what: string, waitMs: number) =>
  new SendGridError("transient", status, `SendGrid answered ${status} ${what}`, "", waitMs);

/** The strings of `list`, lower-cased; `undefined` when `list` is not an array. */
function addressList(list: unknown): Set<string> | undefined {
  if (!Array.isArray(list)) return undefined;
  return new Set(list.filter((e): e is string => typeof e === "string").map(lower));
}

/** The SDK client's type (its typings only give it as the type of the shared default client). */
type Client = typeof sendgridDefaultClient;
const Client = SdkClient as new () => Client;

/** Calls to one SendGrid account (and unsubscribe group, when configured). */
export class SendGridApi {
  private readonly client: Client;
  private readonly setDefault: (key: string, value: unknown) => unknown;
  readonly groupId: number | undefined;

  constructor(
    config: Pick<SendGridConfig, "apiKey" | "baseUrl" | "groupId">,
    options: { timeoutMs?: number } = {},
  ) {
    this.client = new Client();
    // setApiKey() resets the base URL to api.sendgrid.com: it must come first.
    this.client.setApiKey(config.apiKey);
    this.client.setDefaultRequest("baseUrl", config.baseUrl);
    this.setDefault = this.client.setDefaultRequest.bind(this.client) as (
      key: string,
      value: unknown,
    ) => unknown;
    // The API key travels in a header: never follow a redirect to wherever it points.
    this.setDefault("maxRedirects", 0);
    // A bound for calls made without a deadline of their own (the abort signal is the usual one).
    this.setDefault("timeout", options.timeoutMs ?? 30_000);
    this.groupId = config.groupId;
  }

  private async send(
    method: Method,
    url: string,
    body: unknown,
    signal: AbortSignal,
  ): Promise<SendGridAnswer & { body: unknown }> {
    signal.throwIfAborted();
    // The SDK copies its default request synchronously inside request(): setting the signal right
    // before the call gives this call (and only this one) the signal, even with calls in parallel.
    this.setDefault("signal", signal);
    let pending: ReturnType<Client["request"]>;
    try {
      pending = this.client.request(body === undefined ? { method, url } : { method, url, body });
    } finally {
      this.setDefault("signal", undefined);
    }
    try {
      const [response, responseBody] = await pending;
      return {
        status: response.statusCode,
        waitMs: waitAfter(response.statusCode, response.headers),
        body: responseBody as unknown,
      };
    } catch (error) {
      throw toSendGridError(error, signal);
    }
  }

  private get base(): string {
    return this.groupId === undefined
      ? "/v3/asm/suppressions/global"
      : `/v3/asm/groups/${this.groupId}/suppressions`;
  }

  /**
   * Adds addresses to the global unsubscribes, or to the group's (201). The 201 can leave addresses
   * out (SendGrid does not document how it treats a malformed one): see {@link AddAnswer.echoed}.
   */
  async addSuppressions(emails: readonly string[], signal: AbortSignal): Promise<AddAnswer> {
    const { status, waitMs, body } = await this.send("POST", this.base, { recipient_emails: emails }, signal);
    const echoed = addressList((body as { recipient_emails?: unknown } | null | undefined)?.recipient_emails);
    return { status, waitMs, echoed };
  }

  /** Removes one address (204, also when it was not listed). */
  async removeSuppression(email: string, signal: AbortSignal): Promise<SendGridAnswer> {
    const { status, waitMs } = await this.send(
      "DELETE",
      `${this.base}/${encodeURIComponent(email)}`,
      undefined,
      signal,
    );
    return { status, waitMs };
  }

  /** Whether {@link lookUp} takes many addresses in one request (group mode) or exactly one. */
  get lookUpMany(): boolean {
    return this.groupId !== undefined;
  }

  /**
   * Which of `emails` are on the list the connector writes to, lower-cased. Group mode: one search
   * of the group (`POST …/suppressions/search`, any number of addresses). Global mode: one
   * `GET /v3/asm/suppressions/global/{email}` (`{recipient_email}` or `{}`), so exactly one address.
   * An answer that says neither "listed" nor "not listed" is a transient failure, never a "no".
   */
  async lookUp(emails: readonly string[], signal: AbortSignal): Promise<ListedAnswer> {
    if (this.groupId !== undefined) {
      const answer = await this.send(
        "POST",
        `/v3/asm/groups/${this.groupId}/suppressions/search`,
        { recipient_emails: emails },
        signal,
      );
      const found = addressList(answer.body);
      if (!found)
        throw unreadable(answer.status, "to a group search without a list of addresses", answer.waitMs);
      return { status: answer.status, waitMs: answer.waitMs, listed: found };
    }
    const [email, ...more] = emails;
    if (email === undefined || more.length > 0)
      throw new RangeError("the global list is looked up one address at a time");
    const answer = await this.send(
      "GET",
      `/v3/asm/suppressions/global/${encodeURIComponent(email)}`,
      undefined,
      signal,
    );
    const body = answer.body;
    if (body !== null && typeof body === "object" && !Array.isArray(body)) {
      const listed = (body as { recipient_email?: unknown }).recipient_email;
      if (listed === undefined) return { status: answer.status, waitMs: answer.waitMs, listed: new Set() };
      if (typeof listed === "string" && lower(listed) === lower(email)) {
        return { status: answer.status, waitMs: answer.waitMs, listed: new Set([lower(email)]) };
      }
    }
    throw unreadable(answer.status, "without saying whether the address is suppressed", answer.waitMs);
  }

  /**
   * Whether the configured unsubscribe group exists. Only a 200 that names the group's id says it
   * does: the spec documents nothing else, and SendGrid silently moves addresses sent to an unknown
   * group to the global list, so a 404, a 400 (any refusal but of the key), or a 200 with another
   * body all mean "not confirmed". A refused key, 429, 5xx or network error throws.
   */
  async groupExists(signal: AbortSignal): Promise<GroupCheck> {
    const groupId = this.groupId;
    if (groupId === undefined) throw new TypeError("no unsubscribe group configured");
    let answer: Awaited<ReturnType<SendGridApi["send"]>>;
    try {
      answer = await this.send("GET", `/v3/asm/groups/${groupId}`, undefined, signal);
    } catch (error) {
      if (error instanceof SendGridError && error.kind === "rejected") {
        const said = error.detail ? `: ${error.detail}` : "";
        return {
          exists: false,
          waitMs: error.waitMs,
          status: error.status,
          answer: `${error.status}${said}`,
        };
      }
      throw error;
    }
    const id = (answer.body as { id?: unknown } | null | undefined)?.id;
    if ((typeof id === "number" || typeof id === "string") && String(id) === String(groupId)) {
      return { exists: true, waitMs: answer.waitMs };
    }
    const shown = typeof id === "number" || (typeof id === "string" && /^\d{1,20}$/.test(id)) ? ` ${id}` : "";
    return {
      exists: false,
      waitMs: answer.waitMs,
      status: answer.status,
      answer: shown
        ? `${answer.status} naming another group (id${shown})`
        : `${answer.status} without the group's id`,
    };
  }
}
