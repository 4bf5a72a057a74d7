import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, verify } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { closer, listenLocal } from "./local-server.ts";

/**
 * A local stand-in for Google's OAuth 2.0 token endpoint and the Sheets v4 values API, as far as a
 * loyalty log needs it:
 *
 * - `POST /token` — the JWT bearer grant (`urn:ietf:params:oauth:grant-type:jwt-bearer`): the RS256
 *   assertion is verified with the public key of a registered service account (iss), and its `aud`,
 *   `iat`/`exp` and `scope` are checked like Google does; errors are Google's
 *   `{error, error_description}` bodies (400 `invalid_grant`, …).
 * - `POST /v4/spreadsheets/{id}/values/{range}:append?valueInputOption=RAW|USER_ENTERED&insertDataOption=…`
 * - `GET /v4/spreadsheets/{id}/values/{range}?majorDimension=ROWS|COLUMNS&valueRenderOption=…`
 * - `PUT /v4/spreadsheets/{id}/values/{range}?valueInputOption=RAW|USER_ENTERED` (values.update)
 * - anything else: 404 NOT_FOUND (see the route comments in `handle`).
 *
 * API errors have Google's shape `{error:{code, message, status}}`: 401 UNAUTHENTICATED (missing,
 * unknown, revoked or expired token), 404 NOT_FOUND (unknown spreadsheet), 403 PERMISSION_DENIED
 * (spreadsheet not shared with the account), 400 INVALID_ARGUMENT (unknown sheet: "Unable to parse
 * range", missing `valueInputOption`, a cell over 50,000 characters) and 429 RESOURCE_EXHAUSTED when a
 * per-user read or write quota (default 60 per minute, like Google's) is exceeded. Like Google it
 * sends no `Retry-After`.
 *
 * Faults: `failNext` answers the next requests of one kind with a status (nothing applied) or drops
 * the connection before applying; `dropAfterApply` applies the next appends and then destroys the
 * socket without any answer — the ambiguous failure that makes a blind retry duplicate rows.
 * State is inspectable: rows per spreadsheet and sheet (`rows`), and a request log with timestamps.
 *
 * Sources (issue #10: every route and behaviour names the spec it follows, or says it is a guess).
 * The comments below cite them by these tags:
 * - [sheets-spec] The Sheets v4 discovery document, https://sheets.googleapis.com/$discovery/rest?version=v4,
 *   as generated into `googleapis/google-api-nodejs-client` `src/apis/sheets/v4.ts` (and the
 *   `@googleapis/sheets` package the connector uses, `build/v4.d.ts`/`v4.js`): method paths, parameters,
 *   `Schema$ValueRange`, `Schema$AppendValuesResponse`, `Schema$UpdateValuesResponse`. The same text is
 *   rendered at https://developers.google.com/workspace/sheets/api/reference/rest/v4/spreadsheets.values
 *   (which also lists the enums InsertDataOption, ValueInputOption, ValueRenderOption, Dimension).
 * - [sheets-limits] https://developers.google.com/workspace/sheets/api/limits: read and write requests,
 *   60 per minute per user per project and 300 per minute per project, refilled every minute; over
 *   them "429: Too many requests"; ~2 MB recommended per request; requests applied atomically.
 * - [google-errors] Google's JSON error model, https://cloud.google.com/apis/design/errors (AIP-193):
 *   `{error:{code, message, status, details?}}`, `status` being the `google.rpc.Code` name whose HTTP
 *   mapping is in `google/rpc/code.proto` (400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403
 *   PERMISSION_DENIED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED, 500 INTERNAL, 503 UNAVAILABLE, …);
 *   `details[]` may hold a `google.rpc.ErrorInfo`. The legacy `errors:[{message, domain, reason}]`
 *   list is not sent by Sheets v4 [guess], so the fake leaves it out.
 * - [proto3-json] https://protobuf.dev/programming-guides/json/: fields with default values (0, "",
 *   empty lists) are omitted from the JSON — hence no `values` for an empty range, no `tableRange`
 *   ("Empty if no table was found").
 * - [oauth-sa] Google's "Using OAuth 2.0 for Server to Server Applications",
 *   https://developers.google.com/identity/protocols/oauth2/service-account: `POST
 *   https://oauth2.googleapis.com/token`, form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
 *   and `assertion`; RS256 JWT with `iss`, `scope`, `aud` (always that token URL), `iat`, `exp` (at most
 *   an hour after `iat`); answer `{access_token, expires_in, token_type:"Bearer"}`. The grant itself is
 *   RFC 7523 §2.1/§3; error bodies `{error, error_description}` with 400 are RFC 6749 §5.2.
 * - [rfc6750] RFC 6750 §3: `WWW-Authenticate: Bearer …` on a 401, `error="invalid_token"` when a
 *   token was presented.
 * - [guess] Not published by Google: exact message texts (they are the ones developers commonly quote
 *   from Google's answers, but Google may change them), and the fake's own simplifications.
 */

/** [oauth-sa] The token endpoint, and the only `aud` Google's doc allows in the assertion. */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
/** [sheets-spec] One of the scopes values.append/values.get accept ("Authorization scopes"). */
export const SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets";
/**
 * [sheets-spec] lists drive, drive.file and spreadsheets for writes (plus the readonly ones for
 * get). [guess] Refusing other scopes at the token endpoint is the fake's simplification: Google
 * issues a token for any valid scope and refuses it at the API (403) instead.
 */
const ACCEPTED_SCOPES = new Set([SHEETS_SCOPE, "https://www.googleapis.com/auth/drive"]);
/** [oauth-sa] / RFC 7523 §2.1. */
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/**
 * Not in [sheets-spec]: the 50,000-characters-per-cell limit is the one commonly cited for Google
 * Sheets (Docs Editors Help); that the API refuses the whole request with 400 INVALID_ARGUMENT (it
 * applies requests atomically, [sheets-limits]) and the message text are [guess].
 */
const MAX_CELL_CHARS = 50_000;
/** [guess] A new sheet's grid (1000 rows × 26 columns) is what the Sheets UI and API create by default. */
const DEFAULT_GRID_ROWS = 1000;
const DEFAULT_GRID_COLUMNS = 26;

/** The JSON key file Google issues for a service account. */
export interface ServiceAccountKey {
  type: "service_account";
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

export interface ThrowawayServiceAccount {
  key: ServiceAccountKey;
  /** The key file's contents, as `serviceAccount: "${file:…}"` would read them. */
  json: string;
  /** SPKI PEM of the public key (what Google keeps). */
  publicKeyPem: string;
}

/**
 * A throwaway service account: a fresh 2048-bit RSA key and the JSON key file Google would issue
 * for it. Register it with {@link FakeGoogle.addServiceAccount} (or use `fake.createServiceAccount()`).
 */
export function createServiceAccount(
  options: { name?: string; projectId?: string; tokenUri?: string } = {},
): ThrowawayServiceAccount {
  const projectId = options.projectId ?? "engage-bridge-test";
  const name = options.name ?? `loyalty-log-${randomBytes(3).toString("hex")}`;
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const email = `${name}@${projectId}.iam.gserviceaccount.com`;
  const key: ServiceAccountKey = {
    type: "service_account",
    project_id: projectId,
    private_key_id: randomBytes(20).toString("hex"),
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: email,
    client_id: String(BigInt(`0x${randomBytes(9).toString("hex")}`)),
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: options.tokenUri ?? GOOGLE_TOKEN_URL,
    auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
    universe_domain: "googleapis.com",
  };
  return {
    key,
    json: JSON.stringify(key, null, 2),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** A stored cell: what RAW input keeps as is; USER_ENTERED turns `=…` (and `+…`/`-…` that is no number) into a formula. */
export type FakeCell = string | number | boolean | { formula: string };

export type FakeGoogleOperation = "token" | "append" | "get" | "update" | "other";

export interface FakeGoogleRequest {
  /** `Date.now()` when the request arrived and when it was answered (or dropped). */
  at: number;
  answeredAt: number;
  method: string;
  operation: FakeGoogleOperation;
  /** Path without the query, decoded. */
  path: string;
  query: Record<string, string>;
  spreadsheetId?: string;
  range?: string;
  /** Rows in an append's or update's body. */
  rows?: number;
  /** Service-account email behind the token (or the assertion's iss). */
  account?: string;
  /** Status answered; 0 when the connection was dropped (or while pending). */
  status: number;
  /** The connection was destroyed without an answer; `applied` says whether the append was applied. */
  dropped?: boolean;
  applied?: boolean;
}

export type FakeGoogleFault =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  /** Destroys the socket without applying anything. */
  | { drop: true };

export interface Quota {
  requests: number;
  perSeconds: number;
}

export interface FakeSpreadsheetOptions {
  /** Sheet (tab) titles; default `["Sheet1"]`. */
  sheets?: readonly string[];
  /** Service-account emails that may use it; absent = every registered account. */
  editors?: readonly string[];
}

export interface FakeGoogle {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  /** What to configure as the Sheets `rootUrl`: `url` plus `/`. */
  readonly rootUrl: string;
  /** What to configure as `tokenUrl`. */
  readonly tokenUrl: string;
  /** Every request, in arrival order. */
  readonly requests: FakeGoogleRequest[];
  /** Per-user write quota (appends and updates); default 60 per 60 s. Mutable. */
  writeQuota: Quota;
  /** Per-user read quota (gets); default 60 per 60 s. Mutable. */
  readQuota: Quota;
  /** Delay before answering (or dropping) API requests, in ms. Mutable. */
  latencyMs: number;
  /** Access token lifetime in seconds (`expires_in`); default 3599. Mutable. */
  tokenLifetimeSeconds: number;
  /**
   * How `values.get` answers a range that starts below the sheet's grid (rows deleted since the
   * reader last looked). Not in the spec: `reject` (default) answers 400 INVALID_ARGUMENT "Range (…)
   * exceeds grid limits" as integrators report; `empty` answers 200 without `values`. Mutable.
   */
  beyondGrid: "reject" | "empty";
  /** Deletes `count` rows from `fromRow` (1-based), as a person editing the sheet would; the grid shrinks too. */
  deleteRows(spreadsheetId: string, sheet: string, fromRow: number, count: number): void;
  /** Replaces a sheet's contents (row 1 first), as a person typing into it would; the grid grows to fit. */
  setRows(spreadsheetId: string, sheet: string, rows: readonly (readonly FakeCell[])[]): void;
  /** Registers a service account by its key (only the public key is kept). */
  addServiceAccount(key: Pick<ServiceAccountKey, "client_email" | "private_key">): void;
  /** Deletes an account: its assertions are refused (`invalid_grant`); issued tokens stay valid until revoked. */
  removeServiceAccount(email: string): void;
  /** A throwaway account whose `token_uri` is this fake, already registered. */
  createServiceAccount(options?: { name?: string }): ThrowawayServiceAccount;
  createSpreadsheet(id: string, options?: FakeSpreadsheetOptions): void;
  deleteSpreadsheet(id: string): void;
  /** Allows (`true`) or forbids an account on a spreadsheet. */
  share(spreadsheetId: string, email: string, allowed?: boolean): void;
  /** A copy of a sheet's rows (row 1 first); throws for an unknown spreadsheet or sheet. */
  rows(spreadsheetId: string, sheet?: string): FakeCell[][];
  /** Every issued access token stops working (401). */
  revokeTokens(): void;
  /**
   * The next `count` requests of `operation` (default append) get `fault` before any other check.
   * Without a `body`, the API answers `{error:{code, message, status}}` with the `google.rpc.Code`
   * name of the status (see {@link googleRpcStatus}) and the token endpoint `{error, error_description}`.
   */
  failNext(count: number, fault: FakeGoogleFault, operation?: FakeGoogleOperation | "any"): void;
  /** The next `count` appends that would succeed are applied, then the socket is destroyed unanswered. */
  dropAfterApply(count?: number): void;
  /** Connector settings pointing at this fake (creates the account and spreadsheet when needed). */
  connectorConfig(options?: { spreadsheetId?: string; sheetName?: string }): {
    spreadsheetId: string;
    sheetName: string;
    serviceAccount: string;
    rootUrl: string;
    tokenUrl: string;
  };
  close(): Promise<void>;
}

/** Google's API error body [google-errors]. */
export function googleApiError(code: number, message: string, status: string): { error: object } {
  return { error: { code, message, status } };
}

/**
 * [google-errors] The `google.rpc.Code` name Google puts in `error.status` for an HTTP status
 * (`google/rpc/code.proto`); 409 and 400 have several codes, the commonest is taken. Unmapped
 * statuses get UNKNOWN [guess].
 */
export function googleRpcStatus(code: number): string {
  const names: Record<number, string> = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
  };
  return names[code] ?? "UNKNOWN";
}

// [guess] Message texts of Google's 401s, as commonly quoted from its answers.

const UNAUTHENTICATED_MISSING =
  "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const UNAUTHENTICATED_INVALID =
  "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/**
 * Google's 429 body when a per-user Sheets quota is used up (what `failNext` can replay).
 * [sheets-limits] gives the 429 and the quota names ("Read/Write requests", per minute per user);
 * [google-errors] the RESOURCE_EXHAUSTED status and the `google.rpc.ErrorInfo` detail. The message
 * text and the ErrorInfo `reason`/`metadata` values are [guess] (as commonly quoted from Google's
 * answers).
 */
export function sheetsQuotaError(
  kind: "Read" | "Write",
  quota: Quota = { requests: 60, perSeconds: 60 },
  projectId = "0",
) {
  const limit = `${kind}RequestsPerMinutePerUser`;
  return {
    error: {
      code: 429,
      message: `Quota exceeded for quota metric '${kind} requests' and limit '${kind} requests per minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:${projectId}'.`,
      status: "RESOURCE_EXHAUSTED",
      details: [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: "RATE_LIMIT_EXCEEDED",
          domain: "googleapis.com",
          metadata: {
            service: "sheets.googleapis.com",
            quota_metric: `sheets.googleapis.com/${kind.toLowerCase()}_requests`,
            quota_limit: limit,
            quota_limit_value: String(quota.requests),
            consumer: `projects/${projectId}`,
            quota_location: "global",
          },
        },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A1 notation, as Google's Sheets guide defines it
// (https://developers.google.com/workspace/sheets/api/guides/concepts#cell): `Sheet1!A1:B2`,
// `Sheet1!A:A`, `Sheet1!1:2`, `Sheet1!A5:A`, `A1:B2` (first sheet), `Sheet1`
// (all of it), `'My Custom Sheet'!A:A` (quotes when the name needs them, `''` for a quote).

interface ParsedRange {
  sheet: string | undefined;
  /** 0-based column indexes and 1-based rows; undefined = open (to the grid's end). */
  c0: number;
  c1: number | undefined;
  r0: number;
  r1: number | undefined;
}

function columnIndex(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

function columnLetters(index: number): string {
  let n = index + 1;
  let out = "";
  while (n > 0) {
    const rem = (n - 1) % 26;
    out = String.fromCharCode(65 + rem) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

const CELL = /^([A-Za-z]{0,3})(\d*)$/;

function parseCells(text: string): Omit<ParsedRange, "sheet"> | undefined {
  const [start, end, extra] = text.split(":");
  if (start === undefined || extra !== undefined) return undefined;
  const a = CELL.exec(start);
  if (!a || (a[1] === "" && a[2] === "")) return undefined;
  const c0 = a[1] ? columnIndex(a[1]) : 0;
  const r0 = a[2] ? Number(a[2]) : 1;
  if (r0 < 1) return undefined;
  if (end === undefined) {
    // A single cell; "A" alone is a whole column, "5" alone is not valid A1.
    if (!a[1]) return undefined;
    return a[2] ? { c0, c1: c0, r0, r1: r0 } : { c0, c1: c0, r0: 1, r1: undefined };
  }
  const b = CELL.exec(end);
  if (!b || (b[1] === "" && b[2] === "")) return undefined;
  const c1 = b[1] ? columnIndex(b[1]) : undefined;
  const r1 = b[2] ? Number(b[2]) : undefined;
  if (c1 !== undefined && c1 < c0) return undefined;
  if (r1 !== undefined && r1 < r0) return undefined;
  return { c0, c1, r0, r1 };
}

function parseRange(range: string): ParsedRange | undefined {
  let sheet: string | undefined;
  let cells: string | undefined;
  if (range.startsWith("'")) {
    let i = 1;
    let name = "";
    for (;;) {
      const ch = range[i];
      if (ch === undefined) return undefined;
      if (ch === "'") {
        if (range[i + 1] === "'") {
          name += "'";
          i += 2;
          continue;
        }
        i += 1;
        break;
      }
      name += ch;
      i += 1;
    }
    sheet = name;
    const rest = range.slice(i);
    if (rest === "") cells = undefined;
    else if (rest.startsWith("!")) cells = rest.slice(1);
    else return undefined;
  } else {
    const bang = range.indexOf("!");
    if (bang >= 0) {
      sheet = range.slice(0, bang);
      cells = range.slice(bang + 1);
    } else {
      // Either a sheet name or cells of the first sheet; the caller resolves which.
      sheet = range;
      cells = undefined;
    }
  }
  if (cells === undefined) return { sheet, c0: 0, c1: undefined, r0: 1, r1: undefined };
  const parsed = parseCells(cells);
  return parsed ? { sheet, ...parsed } : undefined;
}

/** A sheet name in A1 notation; when Google quotes it in its answers is [guess]. */
function sheetRef(title: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(title) && !/^[A-Za-z]{1,3}\d+$/.test(title)
    ? title
    : `'${title.replaceAll("'", "''")}'`;
}

const isEmpty = (cell: FakeCell | undefined) => cell === undefined || cell === "";

/** [sheets-spec] ValueRenderOption. */
const RENDER_OPTIONS = new Set(["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"]);

/** Drops trailing empty cells ([sheets-spec]: "empty trailing rows and columns will not be included"). */
function trimLine(line: (string | number | boolean)[]): (string | number | boolean)[] {
  let n = line.length;
  while (n > 0 && line[n - 1] === "") n -= 1;
  return line.slice(0, n);
}

function lastDataRow(rows: FakeCell[][]): number {
  for (let i = rows.length - 1; i >= 0; i--) if (rows[i]?.some((c) => !isEmpty(c))) return i + 1;
  return 0;
}

// ---------------------------------------------------------------------------------------------

interface Spreadsheet {
  sheets: Map<string, FakeCell[][]>;
  /** Rows in each sheet's grid (what an open-ended range ends at); grows with appends. */
  grid: Map<string, number>;
  editors: Set<string> | undefined;
  forbidden: Set<string>;
}

interface Account {
  publicKey: KeyObject;
  projectId: string;
}

class HttpAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

function base64UrlJson(part: string): unknown {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startFakeGoogle(
  options: {
    serviceAccounts?: readonly Pick<ServiceAccountKey, "client_email" | "private_key">[];
    spreadsheets?: Record<string, FakeSpreadsheetOptions>;
    writeQuota?: Quota;
    readQuota?: Quota;
  } = {},
): Promise<FakeGoogle> {
  const accounts = new Map<string, Account>();
  const spreadsheets = new Map<string, Spreadsheet>();
  const tokens = new Map<string, { email: string; expiresAt: number }>();
  const usage = new Map<string, number[]>();
  const faults: { fault: FakeGoogleFault; operation: FakeGoogleOperation | "any" }[] = [];
  const requests: FakeGoogleRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let dropsAfterApply = 0;

  const tokenPath = "/token";

  /**
   * [sheets-limits] per-user quotas ("Per minute per user per project", default 60). [guess] A
   * sliding window stands in for Google's "refilled every minute"; the per-project quota (300) is not
   * modelled, and a request is counted before it is validated.
   */
  function allowedBy(quota: Quota, key: string): boolean {
    const now = Date.now();
    const windowMs = quota.perSeconds * 1000;
    const used = (usage.get(key) ?? []).filter((t) => t > now - windowMs);
    usage.set(key, used);
    if (used.length >= quota.requests) return false;
    used.push(now);
    return true;
  }

  /**
   * `POST /token` — [oauth-sa] (the access token request) / RFC 7523 §2.1 (JWT bearer grant),
   * errors as RFC 6749 §5.2 (400, `{error, error_description}`). Each check below names its source.
   */
  function issueToken(form: URLSearchParams, record: FakeGoogleRequest): HttpAnswer {
    const grantType = form.get("grant_type");
    // RFC 6749 §5.2 `unsupported_grant_type`; the description text is [guess].
    if (grantType !== JWT_BEARER) {
      return new HttpAnswer(400, {
        error: "unsupported_grant_type",
        error_description: `Invalid grant_type: ${grantType ?? ""}`,
      });
    }
    const assertion = form.get("assertion") ?? "";
    const parts = assertion.split(".");
    // RFC 7523 §3.1: an invalid assertion is `invalid_grant`. The descriptions are [guess] (the texts
    // developers quote from Google's answers; [oauth-sa]'s error table carries similar ones).
    const invalid = (description: string) =>
      new HttpAnswer(400, { error: "invalid_grant", error_description: description });
    if (parts.length !== 3)
      return invalid("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe");
    const [head = "", body = "", signature = ""] = parts;
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = base64UrlJson(head) as Record<string, unknown>;
      claims = base64UrlJson(body) as Record<string, unknown>;
    } catch {
      return invalid("Invalid JWT: malformed assertion");
    }
    // [oauth-sa]: "Service accounts rely on the RSA SHA-256 algorithm" (`alg: RS256`).
    if (header.alg !== "RS256") return invalid("Invalid JWT: algorithm must be RS256");
    const iss = typeof claims.iss === "string" ? claims.iss : "";
    record.account = iss;
    const account = accounts.get(iss);
    // [oauth-sa]: `iss` is the service account's email. A deleted or unknown account: [guess] text.
    if (!account) return invalid("Invalid grant: account not found");
    const valid = verify(
      "sha256",
      Buffer.from(`${head}.${body}`),
      account.publicKey,
      Buffer.from(signature, "base64url"),
    );
    if (!valid) return invalid("Invalid JWT Signature.");
    // [oauth-sa]: `aud` "is always https://oauth2.googleapis.com/token". Accepting the fake's own
    // token URL as well is the fake's concession to clients whose tokenUrl points here [guess].
    const ownUrl = `${fake.url}${tokenPath}`;
    if (claims.aud !== GOOGLE_TOKEN_URL && claims.aud !== ownUrl) {
      return invalid("Invalid JWT: Failed audience check.");
    }
    // [oauth-sa]: `exp` at most one hour after `iat`. The 5-minute tolerance for an `iat` in the
    // future (clock skew) is [guess].
    const now = Math.floor(Date.now() / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (!Number.isFinite(iat) || !Number.isFinite(exp) || exp - iat > 3600 || exp <= now || iat > now + 300) {
      return invalid(
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
      );
    }
    // [oauth-sa]: `scope` is a space-delimited list. Refusing a token without a Sheets scope here
    // (`invalid_scope`, RFC 6749 §5.2) is [guess]: see ACCEPTED_SCOPES.
    const scopes = typeof claims.scope === "string" ? claims.scope.split(" ") : [];
    if (!scopes.some((s) => ACCEPTED_SCOPES.has(s))) {
      return new HttpAnswer(400, {
        error: "invalid_scope",
        error_description: "Invalid OAuth scope or ID token audience provided.",
      });
    }
    // [oauth-sa] (the token response): `{access_token, expires_in, token_type: "Bearer"}`.
    // [guess] `expires_in` 3599 (an hour less a second, what Google is commonly seen to answer) and
    // the `ya29.` prefix of Google's access tokens.
    const token = `ya29.fake-${randomBytes(24).toString("base64url")}`;
    tokens.set(token, { email: iss, expiresAt: Date.now() + fake.tokenLifetimeSeconds * 1000 });
    return new HttpAnswer(200, {
      access_token: token,
      expires_in: fake.tokenLifetimeSeconds,
      token_type: "Bearer",
    });
  }

  /**
   * `Authorization: Bearer <access_token>` on every API call ([oauth-sa], calling Google APIs with the token).
   * Missing or unusable → 401 UNAUTHENTICATED [google-errors] with `WWW-Authenticate` [rfc6750]; the
   * message texts are [guess].
   */
  function authenticate(req: IncomingMessage, record: FakeGoogleRequest): string | HttpAnswer {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) {
      // [rfc6750] §3.1: no credentials → a challenge without an error code.
      return new HttpAnswer(401, googleApiError(401, UNAUTHENTICATED_MISSING, "UNAUTHENTICATED"), {
        "www-authenticate": 'Bearer realm="https://accounts.google.com/"',
      });
    }
    const token = tokens.get(match[1]);
    // [rfc6750] §3.1 `invalid_token`: unknown, revoked or expired ([oauth-sa]: tokens last
    // `expires_in` seconds).
    if (!token || token.expiresAt <= Date.now()) {
      return new HttpAnswer(401, googleApiError(401, UNAUTHENTICATED_INVALID, "UNAUTHENTICATED"), {
        "www-authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
      });
    }
    record.account = token.email;
    return token.email;
  }

  /**
   * The `{range}` path parameter: A1 notation ([sheets-spec] "The A1 notation … of a range"; R1C1,
   * which values.get also accepts, and named ranges are not supported by the fake). A sheet name
   * that does not exist → 400 INVALID_ARGUMENT "Unable to parse range: <range>": not in
   * [sheets-spec]; status and text are [guess] (what Google is commonly quoted to answer, and what
   * the connector recognises).
   */
  function resolveSheet(
    book: Spreadsheet,
    range: string,
  ): { title: string; parsed: ParsedRange } | HttpAnswer {
    const parsed = parseRange(range);
    const unable = new HttpAnswer(
      400,
      googleApiError(400, `Unable to parse range: ${range}`, "INVALID_ARGUMENT"),
    );
    if (!parsed) return unable;
    if (parsed.sheet !== undefined && book.sheets.has(parsed.sheet)) return { title: parsed.sheet, parsed };
    // No sheet of that name: maybe plain A1 cells of the first sheet.
    if (parsed.sheet !== undefined && !range.includes("!") && !range.startsWith("'")) {
      const cells = parseCells(parsed.sheet);
      const first = book.sheets.keys().next().value;
      if (cells && first !== undefined) return { title: first, parsed: { sheet: first, ...cells } };
    }
    return unable;
  }

  /**
   * One input cell. [sheets-spec] `Schema$ValueRange.values`: "supported value types are: bool,
   * string, and double. Null values will be skipped" (→ `null` here: nothing written, not counted).
   * ValueInputOption: RAW "stored as-is"; USER_ENTERED "parsed as if the user typed them into the
   * UI" — of that parsing the fake models formulas (`=…`, and `+…`/`-…` that is not a number),
   * numbers and TRUE/FALSE only (no dates, percentages or currencies) [guess]. The struct_value
   * message is [guess].
   */
  function toCell(value: unknown, inputOption: string, where: string): FakeCell | null | HttpAnswer {
    if (value === null || value === undefined) return null;
    if (typeof value === "number" || typeof value === "boolean") return value;
    if (typeof value !== "string") {
      return new HttpAnswer(
        400,
        googleApiError(400, `Invalid values${where}: struct_value is not supported`, "INVALID_ARGUMENT"),
      );
    }
    if (value.length > MAX_CELL_CHARS) {
      return new HttpAnswer(
        400,
        googleApiError(
          400,
          `Your input contains more than the maximum of ${MAX_CELL_CHARS} characters in a single cell.`,
          "INVALID_ARGUMENT",
        ),
      );
    }
    if (inputOption === "USER_ENTERED") {
      if (value.startsWith("=")) return { formula: value };
      if (/^[+-]?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
      if (/^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === "true";
      // [guess] Like other spreadsheet UIs, Sheets takes a leading + or - that is not a number as
      // the start of a formula (the reason OWASP's "CSV injection" lists =, +, - and @); `@…` stays
      // text in Sheets, where @ starts a mention in the UI rather than a formula.
      if (value.startsWith("+") || value.startsWith("-")) return { formula: `=${value}` };
    }
    return value;
  }

  /**
   * [sheets-spec] ValueRenderOption: FORMATTED_VALUE (default) "calculated & formatted according to
   * the cell's formatting" — without formats, `String(value)` and TRUE/FALSE [guess];
   * UNFORMATTED_VALUE keeps numbers and booleans; FORMULA returns formulas. The fake does not
   * evaluate formulas: their value renders as "" [guess].
   */
  function render(cell: FakeCell | undefined, option: string): string | number | boolean {
    if (cell === undefined) return "";
    if (typeof cell === "object") return option === "FORMULA" ? cell.formula : "";
    if (option === "FORMATTED_VALUE") {
      if (typeof cell === "boolean") return cell ? "TRUE" : "FALSE";
      return String(cell);
    }
    return cell;
  }

  /**
   * [google-errors] codes; the texts are [guess] (commonly quoted from Google's answers): an unknown
   * spreadsheet id → 404 NOT_FOUND "Requested entity was not found."; a spreadsheet not shared with
   * the service account → 403 PERMISSION_DENIED "The caller does not have permission".
   */
  function book(id: string, email: string): Spreadsheet | HttpAnswer {
    const found = spreadsheets.get(id);
    if (!found) {
      return new HttpAnswer(404, googleApiError(404, "Requested entity was not found.", "NOT_FOUND"));
    }
    if (found.forbidden.has(email) || (found.editors && !found.editors.has(email))) {
      return new HttpAnswer(
        403,
        googleApiError(403, "The caller does not have permission", "PERMISSION_DENIED"),
      );
    }
    return found;
  }

  /**
   * `POST /v4/spreadsheets/{spreadsheetId}/values/{range}:append` — [sheets-spec]
   * `spreadsheets.values.append` (v4.ts `Resource$Spreadsheets$Values.append`,
   * `Params$Resource$Spreadsheets$Values$Append`): body `Schema$ValueRange`, answer
   * `Schema$AppendValuesResponse` `{spreadsheetId, tableRange?, updates: Schema$UpdateValuesResponse}`.
   * Checks and answers, in order (each with its source):
   * - quota → 429 RESOURCE_EXHAUSTED [sheets-limits];
   * - spreadsheet and sharing → 404 / 403 (see `book`);
   * - `valueInputOption` required ([sheets-spec]: "The caller must specify the spreadsheet ID, range,
   *   and a valueInputOption"), RAW | USER_ENTERED; `insertDataOption` OVERWRITE | INSERT_ROWS
   *   ([sheets-spec] enums). Missing or unknown → 400 INVALID_ARGUMENT; texts [guess]. OVERWRITE as
   *   the default when absent: the discovery document names none [guess];
   * - the body: `values` a list of lists, `majorDimension` ROWS (default, [sheets-spec]) or COLUMNS
   *   (each inner list is a column); anything else → 400 [guess texts];
   * - nothing is applied unless every cell is valid ([sheets-limits]: requests are applied atomically).
   * Where rows land: [sheets-spec] appends "after the last row of the table" found in `range`,
   * "starting with the first column of the table". [guess] The fake's table is every row of the sheet
   * up to its last non-empty row, and rows start at the first column of `range` (Google's table
   * detection, e.g. around blank rows, is described only loosely in its guide).
   * INSERT_ROWS inserts rows ("Rows are inserted for the new data"), so the sheet's grid grows by
   * the number of rows; OVERWRITE only grows it when writing past its end ("adding data to the end of
   * the sheet will still insert new rows") — [sheets-spec] InsertDataOption.
   * The answer: `tableRange` is the table before the append, omitted when there was none ("Empty if
   * no table was found", [proto3-json]); `updates.updatedRange/Rows/Columns/Cells` count cells written
   * (skipped nulls are not; zero counts are omitted, [proto3-json]); `updates.updatedData` only with
   * `includeValuesInResponse=true`, rendered with `responseValueRenderOption` ([sheets-spec]).
   */
  function append(
    id: string,
    range: string,
    query: Record<string, string>,
    body: Buffer,
    email: string,
    record: FakeGoogleRequest,
  ): HttpAnswer {
    const write = writeCheck(id, query, email);
    if (write instanceof HttpAnswer) return write;
    const { found, inputOption } = write;
    const insert = query.insertDataOption ?? "OVERWRITE";
    if (insert !== "OVERWRITE" && insert !== "INSERT_ROWS") {
      return new HttpAnswer(400, googleApiError(400, "Invalid insertDataOption", "INVALID_ARGUMENT"));
    }
    const responseOption = responseRenderOption(query);
    if (responseOption instanceof HttpAnswer) return responseOption;
    const target = resolveSheet(found, range);
    if (target instanceof HttpAnswer) return target;
    const newRows = valueRows(body, inputOption);
    if (newRows instanceof HttpAnswer) return newRows;
    record.rows = newRows.length;
    const sheet = found.sheets.get(target.title) ?? [];
    const end = lastDataRow(sheet);
    sheet.length = end;
    const width = Math.max(0, ...sheet.map((r) => r.length));
    const c0 = target.parsed.c0;
    for (const cells of newRows) {
      const row: FakeCell[] = Array.from({ length: c0 }, () => "");
      row.push(...cells.map((c) => c ?? ""));
      sheet.push(row);
    }
    found.sheets.set(target.title, sheet);
    const grid = gridRows(found, target.title);
    found.grid.set(
      target.title,
      insert === "INSERT_ROWS" ? grid + newRows.length : Math.max(grid, end + newRows.length),
    );
    record.applied = true;
    const ref = sheetRef(target.title);
    const written = newRows.filter((r) => r.some((c) => c !== null));
    const newWidth = Math.max(0, ...newRows.map((r) => r.length));
    const updatedColumns = Array.from({ length: newWidth }, (_, c) => c).filter((c) =>
      newRows.some((r) => (r[c] ?? null) !== null),
    ).length;
    const updatedCells = newRows.reduce((n, r) => n + r.filter((c) => c !== null).length, 0);
    const updatedRange =
      newRows.length > 0 && newWidth > 0
        ? `${ref}!${columnLetters(c0)}${end + 1}:${columnLetters(c0 + newWidth - 1)}${end + newRows.length}`
        : undefined;
    const includeValues = query.includeValuesInResponse === "true";
    const updates = {
      spreadsheetId: id,
      ...(updatedRange ? { updatedRange } : {}),
      ...(written.length > 0 ? { updatedRows: written.length } : {}),
      ...(updatedColumns > 0 ? { updatedColumns } : {}),
      ...(updatedCells > 0 ? { updatedCells } : {}),
      ...(includeValues
        ? {
            updatedData: {
              ...(updatedRange ? { range: updatedRange } : {}),
              majorDimension: "ROWS",
              ...(newRows.length > 0
                ? {
                    values: newRows.map((r) =>
                      trimLine(r.map((c) => (c === null ? "" : render(c, responseOption)))),
                    ),
                  }
                : {}),
            },
          }
        : {}),
    };
    return new HttpAnswer(200, {
      spreadsheetId: id,
      ...(end > 0 ? { tableRange: `${ref}!A1:${columnLetters(Math.max(0, width - 1))}${end}` } : {}),
      updates,
    });
  }

  /**
   * What values.append and values.update check first, in this order: the write quota (429, as
   * `sheetsQuotaError`), access to the spreadsheet (`book`), then `valueInputOption`.
   */
  function writeCheck(
    id: string,
    query: Record<string, string>,
    email: string,
  ): { found: Spreadsheet; inputOption: "RAW" | "USER_ENTERED" } | HttpAnswer {
    if (!allowedBy(fake.writeQuota, `write:${email}`)) {
      const projectId = accounts.get(email)?.projectId ?? "0";
      return new HttpAnswer(429, sheetsQuotaError("Write", fake.writeQuota, projectId));
    }
    const found = book(id, email);
    if (found instanceof HttpAnswer) return found;
    const inputOption = valueInputOption(query);
    if (inputOption instanceof HttpAnswer) return inputOption;
    return { found, inputOption };
  }

  /** [sheets-spec] `responseValueRenderOption` of values.append and values.update; unknown → 400. */
  function responseRenderOption(query: Record<string, string>): string | HttpAnswer {
    const option = query.responseValueRenderOption ?? "FORMATTED_VALUE";
    if (!RENDER_OPTIONS.has(option)) {
      return new HttpAnswer(
        400,
        googleApiError(400, "Invalid responseValueRenderOption", "INVALID_ARGUMENT"),
      );
    }
    return option;
  }

  /**
   * [sheets-spec] `valueInputOption` of values.append and values.update: required ("The caller
   * must specify the spreadsheet ID, range, and a valueInputOption"), RAW | USER_ENTERED
   * (ValueInputOption). Missing or unknown → 400 INVALID_ARGUMENT; texts [guess].
   */
  function valueInputOption(query: Record<string, string>): "RAW" | "USER_ENTERED" | HttpAnswer {
    const inputOption = query.valueInputOption;
    if (!inputOption) {
      return new HttpAnswer(
        400,
        googleApiError(400, "'valueInputOption' is required but not specified", "INVALID_ARGUMENT"),
      );
    }
    if (inputOption !== "RAW" && inputOption !== "USER_ENTERED") {
      return new HttpAnswer(
        400,
        googleApiError(
          400,
          `Invalid value at 'value_input_option' (type.googleapis.com/google.apps.sheets.v4.ValueInputOption), "${inputOption}"`,
          "INVALID_ARGUMENT",
        ),
      );
    }
    return inputOption;
  }

  /**
   * The body of a write, a [sheets-spec] `Schema$ValueRange`, as rows of cells (`null` = skipped):
   * `values` a list of lists, `majorDimension` ROWS (default) or COLUMNS (each inner list is a
   * column, transposed here); anything else → 400 [guess texts]. Every cell is checked before
   * anything is applied ([sheets-limits]: requests are applied atomically).
   */
  function valueRows(body: Buffer, inputOption: string): (FakeCell | null)[][] | HttpAnswer {
    let parsedBody: { values?: unknown; majorDimension?: unknown };
    try {
      parsedBody = JSON.parse(body.toString("utf8") || "{}") as typeof parsedBody;
    } catch {
      return new HttpAnswer(400, googleApiError(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"));
    }
    const values = parsedBody.values ?? [];
    if (!Array.isArray(values) || values.some((row) => !Array.isArray(row))) {
      return new HttpAnswer(
        400,
        googleApiError(
          400,
          "Invalid JSON payload received. 'values' must be a list of lists.",
          "INVALID_ARGUMENT",
        ),
      );
    }
    const major = parsedBody.majorDimension ?? "ROWS";
    if (major !== "ROWS" && major !== "COLUMNS") {
      return new HttpAnswer(
        400,
        googleApiError(400, `Invalid majorDimension: ${String(major)}`, "INVALID_ARGUMENT"),
      );
    }
    const lines: (FakeCell | null)[][] = [];
    for (const [r, line] of (values as unknown[][]).entries()) {
      const cells: (FakeCell | null)[] = [];
      for (const [c, value] of line.entries()) {
        const cell = toCell(value, inputOption, `[${r}][${c}]`);
        if (cell instanceof HttpAnswer) return cell;
        cells.push(cell);
      }
      lines.push(cells);
    }
    return major === "COLUMNS"
      ? Array.from({ length: Math.max(0, ...lines.map((l) => l.length)) }, (_, r) =>
          lines.map((l) => (r < l.length ? (l[r] ?? null) : null)),
        )
      : lines;
  }

  /**
   * `PUT /v4/spreadsheets/{spreadsheetId}/values/{range}` — [sheets-spec] `spreadsheets.values.update`
   * ("Sets values in a range of a spreadsheet"; v4.ts `Resource$Spreadsheets$Values.update`,
   * `Params$Resource$Spreadsheets$Values$Update`): body `Schema$ValueRange`, answer
   * `Schema$UpdateValuesResponse` `{spreadsheetId, updatedRange, updatedRows, updatedColumns,
   * updatedCells, updatedData?}`. Checks, in order:
   * - quota → 429 RESOURCE_EXHAUSTED: an update is a write request [sheets-limits];
   * - spreadsheet and sharing → 404 / 403 (see `book`); unknown sheet → 400 (see `resolveSheet`);
   * - `valueInputOption` required (see `valueInputOption`); `responseValueRenderOption` checked;
   * - the body (see `valueRows`); a body `range` other than the request's → 400 [guess text]
   *   ([sheets-spec] `Schema$ValueRange.range` names the range the values cover);
   * - values reaching past a closed `range` → 400 INVALID_ARGUMENT "Requested writing within range
   *   …" [guess: the text integrators quote].
   * Cells are written from the range's top-left cell; null cells are skipped and keep what was
   * there ("Null values will be skipped"), "" empties a cell ([sheets-spec] `Schema$ValueRange.values`).
   * [guess] Writing below the grid grows it. `updatedRange`/counts cover the cells written (zero
   * counts omitted, [proto3-json]); `updatedData` only with `includeValuesInResponse=true`.
   */
  function update(
    id: string,
    range: string,
    query: Record<string, string>,
    body: Buffer,
    email: string,
    record: FakeGoogleRequest,
  ): HttpAnswer {
    const write = writeCheck(id, query, email);
    if (write instanceof HttpAnswer) return write;
    const { found, inputOption } = write;
    const responseOption = responseRenderOption(query);
    if (responseOption instanceof HttpAnswer) return responseOption;
    const target = resolveSheet(found, range);
    if (target instanceof HttpAnswer) return target;
    let bodyRange: unknown;
    try {
      bodyRange = (JSON.parse(body.toString("utf8") || "{}") as { range?: unknown }).range;
    } catch {
      bodyRange = undefined;
    }
    if (bodyRange !== undefined && bodyRange !== null && bodyRange !== range) {
      return new HttpAnswer(
        400,
        googleApiError(
          400,
          `Invalid data[0]: range ('${String(bodyRange)}') does not match the request range ('${range}')`,
          "INVALID_ARGUMENT",
        ),
      );
    }
    const rows = valueRows(body, inputOption);
    if (rows instanceof HttpAnswer) return rows;
    const { c0, c1, r0, r1 } = target.parsed;
    const width = Math.max(0, ...rows.map((r) => r.length));
    if ((c1 !== undefined && c0 + width - 1 > c1) || (r1 !== undefined && r0 + rows.length - 1 > r1)) {
      return new HttpAnswer(
        400,
        googleApiError(
          400,
          `Requested writing within range [${range}], but tried writing ${c1 !== undefined && c0 + width - 1 > c1 ? `to column [${columnLetters(c0 + width - 1)}]` : `to row [${r0 + rows.length - 1}]`}`,
          "INVALID_ARGUMENT",
        ),
      );
    }
    record.rows = rows.length;
    const sheet = found.sheets.get(target.title) ?? [];
    let top = Number.POSITIVE_INFINITY;
    let bottom = -1;
    let left = Number.POSITIVE_INFINITY;
    let right = -1;
    let updatedCells = 0;
    for (const [dr, cells] of rows.entries()) {
      for (const [dc, cell] of cells.entries()) {
        if (cell === null) continue;
        const r = r0 - 1 + dr;
        const c = c0 + dc;
        while (sheet.length <= r) sheet.push([]);
        const row = sheet[r] ?? [];
        while (row.length < c) row.push("");
        row[c] = cell;
        sheet[r] = row;
        updatedCells += 1;
        top = Math.min(top, r);
        bottom = Math.max(bottom, r);
        left = Math.min(left, c);
        right = Math.max(right, c);
      }
    }
    found.sheets.set(target.title, sheet);
    found.grid.set(target.title, Math.max(gridRows(found, target.title), sheet.length));
    record.applied = true;
    const ref = sheetRef(target.title);
    const updatedRange =
      updatedCells > 0
        ? `${ref}!${columnLetters(left)}${top + 1}:${columnLetters(right)}${bottom + 1}`
        : undefined;
    const includeValues = query.includeValuesInResponse === "true";
    return new HttpAnswer(200, {
      spreadsheetId: id,
      ...(updatedRange ? { updatedRange } : {}),
      ...(updatedCells > 0
        ? {
            updatedRows: bottom - top + 1,
            updatedColumns: right - left + 1,
            updatedCells,
          }
        : {}),
      ...(includeValues
        ? {
            updatedData: {
              range: updatedRange ?? `${ref}!${range.split("!").at(-1)}`,
              majorDimension: "ROWS",
              ...(updatedCells > 0
                ? {
                    values: sheet
                      .slice(top, bottom + 1)
                      .map((r) =>
                        trimLine(
                          Array.from({ length: right - left + 1 }, (_, i) =>
                            render(r[left + i], responseOption),
                          ),
                        ),
                      ),
                  }
                : {}),
            },
          }
        : {}),
    });
  }

  /**
   * `GET /v4/spreadsheets/{spreadsheetId}/values/{range}` — [sheets-spec] `spreadsheets.values.get`
   * (v4.ts `Resource$Spreadsheets$Values.get`, `Params$Resource$Spreadsheets$Values$Get`), answer
   * `Schema$ValueRange` `{range, majorDimension, values?}`:
   * - quota → 429 [sheets-limits]; spreadsheet and sharing → 404 / 403 (see `book`); unknown sheet → 400
   *   (see `resolveSheet`);
   * - `majorDimension` ROWS (default) | COLUMNS: with COLUMNS each inner list is one column
   *   ([sheets-spec] `Params$…$Get.majorDimension`); `valueRenderOption` FORMATTED_VALUE (default) |
   *   UNFORMATTED_VALUE | FORMULA. Other values → 400 INVALID_ARGUMENT, texts [guess];
   * - `values`: "empty trailing rows and columns will not be included", so no `values` at all for an
   *   empty range ([sheets-spec], [proto3-json]); leading and inner empty cells are "" ;
   * - `range`: "the entire requested range, even though the values will exclude trailing rows and
   *   columns" ([sheets-spec]). [guess] An open-ended range (`C1:C`) is closed at the grid's last row
   *   and column, and the sheet name is quoted only when A1 notation needs it; a range beyond the
   *   grid is not refused (Google answers 400 "exceeds grid limits" [guess]).
   */
  function get(id: string, range: string, query: Record<string, string>, email: string): HttpAnswer {
    const account = accounts.get(email);
    if (!allowedBy(fake.readQuota, `read:${email}`)) {
      return new HttpAnswer(429, sheetsQuotaError("Read", fake.readQuota, account?.projectId ?? "0"));
    }
    const found = book(id, email);
    if (found instanceof HttpAnswer) return found;
    const major = query.majorDimension ?? "ROWS";
    if (major !== "ROWS" && major !== "COLUMNS") {
      return new HttpAnswer(
        400,
        googleApiError(
          400,
          `Invalid value at 'major_dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), "${major}"`,
          "INVALID_ARGUMENT",
        ),
      );
    }
    const option = query.valueRenderOption ?? "FORMATTED_VALUE";
    if (!RENDER_OPTIONS.has(option)) {
      return new HttpAnswer(
        400,
        googleApiError(
          400,
          `Invalid value at 'value_render_option' (type.googleapis.com/google.apps.sheets.v4.ValueRenderOption), "${option}"`,
          "INVALID_ARGUMENT",
        ),
      );
    }
    const target = resolveSheet(found, range);
    if (target instanceof HttpAnswer) return target;
    const sheet = found.sheets.get(target.title) ?? [];
    const { c0, r0 } = target.parsed;
    const rowsInGrid = gridRows(found, target.title);
    if (r0 > rowsInGrid && fake.beyondGrid === "reject") {
      // [guess] The text integrators quote for a range past the grid; the spec says nothing.
      return new HttpAnswer(
        400,
        googleApiError(
          400,
          `Range (${sheetRef(target.title)}!${range.split("!").at(-1)}) exceeds grid limits. Max rows: ${rowsInGrid}, max columns: ${DEFAULT_GRID_COLUMNS}`,
          "INVALID_ARGUMENT",
        ),
      );
    }
    const gridCols = Math.max(DEFAULT_GRID_COLUMNS, ...sheet.map((r) => r.length));
    const c1 = Math.min(target.parsed.c1 ?? gridCols - 1, gridCols - 1);
    const r1 = Math.min(target.parsed.r1 ?? rowsInGrid, rowsInGrid);
    const lines: (string | number | boolean)[][] = [];
    if (major === "COLUMNS") {
      for (let c = c0; c <= c1; c++) {
        const line: (string | number | boolean)[] = [];
        for (let r = r0; r <= Math.min(r1, sheet.length); r++) line.push(render(sheet[r - 1]?.[c], option));
        lines.push(trimLine(line));
      }
    } else {
      for (let r = r0; r <= Math.min(r1, sheet.length); r++) {
        const line: (string | number | boolean)[] = [];
        for (let c = c0; c <= c1; c++) line.push(render(sheet[r - 1]?.[c], option));
        lines.push(trimLine(line));
      }
    }
    while (lines.length > 0 && lines[lines.length - 1]?.length === 0) lines.pop();
    return new HttpAnswer(200, {
      range: `${sheetRef(target.title)}!${columnLetters(c0)}${r0}:${columnLetters(c1)}${r1}`,
      majorDimension: major,
      ...(lines.length > 0 ? { values: lines } : {}),
    });
  }

  function gridRows(book: Spreadsheet, title: string): number {
    return Math.max(book.grid.get(title) ?? DEFAULT_GRID_ROWS, book.sheets.get(title)?.length ?? 0);
  }

  function takeFault(operation: FakeGoogleOperation): FakeGoogleFault | undefined {
    const index = faults.findIndex((f) => f.operation === "any" || f.operation === operation);
    if (index < 0) return undefined;
    return faults.splice(index, 1)[0]?.fault;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, record: FakeGoogleRequest): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    record.query = Object.fromEntries(url.searchParams);
    const body = await readBody(req);
    const rawPath = url.pathname;
    let path = rawPath;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      // keep it raw
    }
    record.path = path;
    // Routes. Paths as the discovery-generated client builds them ([sheets-spec] v4.js/v4.ts:
    // `rootUrl + '/v4/spreadsheets/{spreadsheetId}/values/{range}…'`, path parameters URL-encoded).
    const api = /^\/v4\/spreadsheets\/([^/]+)\/values\/(.+)$/.exec(rawPath);
    let operation: FakeGoogleOperation = "other";
    let spreadsheetId = "";
    let range = "";
    // POST /token — [oauth-sa] token request (Google's is https://oauth2.googleapis.com/token;
    // the path `/token` is the same), RFC 7523 §2.1. See `issueToken`.
    if (rawPath === tokenPath && req.method === "POST") operation = "token";
    else if (api?.[1] && api[2]) {
      spreadsheetId = decodeURIComponent(api[1]);
      const rest = api[2];
      if (req.method === "POST" && rest.endsWith(":append")) {
        // POST /v4/spreadsheets/{spreadsheetId}/values/{range}:append — [sheets-spec]
        // spreadsheets.values.append. See `append`.
        operation = "append";
        range = decodeURIComponent(rest.slice(0, -":append".length));
      } else if (req.method === "GET") {
        // GET /v4/spreadsheets/{spreadsheetId}/values/{range} — [sheets-spec] spreadsheets.values.get.
        // See `get`.
        operation = "get";
        range = decodeURIComponent(rest);
      } else if (req.method === "PUT") {
        // PUT /v4/spreadsheets/{spreadsheetId}/values/{range} — [sheets-spec]
        // spreadsheets.values.update (v4.js: `method: 'PUT'` on that path). See `update`.
        operation = "update";
        range = decodeURIComponent(rest);
      }
    }
    // Everything else (values.clear/batch*, spreadsheets.get/batchUpdate, other methods on these
    // paths) is "other": not implemented, answered 404 below.
    record.operation = operation;
    if (spreadsheetId) record.spreadsheetId = spreadsheetId;
    if (range) record.range = range;

    if (operation !== "token" && fake.latencyMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, fake.latencyMs);
        timers.add(timer);
      });
    }

    const fault = takeFault(operation);
    if (fault) {
      if ("drop" in fault) {
        record.dropped = true;
        record.applied = false;
        record.answeredAt = Date.now();
        req.socket.destroy();
        return;
      }
      // An injected answer. Default bodies: the token endpoint's RFC 6749 §5.2 shape (which error
      // code Google's token endpoint sends with a 5xx or 429 is not published: [guess]); the API's
      // [google-errors] shape with the `google.rpc.Code` name matching the status.
      const body =
        fault.body ??
        (operation === "token"
          ? { error: "temporarily_unavailable", error_description: "Injected fault" }
          : googleApiError(fault.status, "Injected fault", googleRpcStatus(fault.status)));
      return send(res, new HttpAnswer(fault.status, body, fault.headers));
    }

    let answer: HttpAnswer;
    if (operation === "token") {
      answer = issueToken(new URLSearchParams(body.toString("utf8")), record);
    } else if (operation === "other") {
      // [guess] Google answers an unknown path with its HTML 404 page, and a method this fake does not
      // implement normally; the fake answers a JSON 404 NOT_FOUND for both, so a client calling
      // something unimplemented fails visibly.
      answer = new HttpAnswer(404, googleApiError(404, "Requested entity was not found.", "NOT_FOUND"));
    } else {
      const who = authenticate(req, record);
      if (who instanceof HttpAnswer) answer = who;
      else if (operation === "append") {
        answer = append(spreadsheetId, range, record.query, body, who, record);
        if (answer.status === 200 && dropsAfterApply > 0) {
          dropsAfterApply -= 1;
          record.dropped = true;
          record.answeredAt = Date.now();
          req.socket.destroy();
          return;
        }
      } else if (operation === "update") {
        answer = update(spreadsheetId, range, record.query, body, who, record);
      } else answer = get(spreadsheetId, range, record.query, who);
    }
    send(res, answer);
  }

  /** [guess] Google's JSON answers carry `application/json; charset=UTF-8`. */
  function send(res: ServerResponse, answer: HttpAnswer): void {
    res.writeHead(answer.status, { ...answer.headers, "content-type": "application/json; charset=UTF-8" });
    res.end(JSON.stringify(answer.body));
  }

  const server = createServer((req, res) => {
    const record: FakeGoogleRequest = {
      at: Date.now(),
      answeredAt: 0,
      method: req.method ?? "GET",
      operation: "other",
      path: req.url ?? "/",
      query: {},
      status: 0,
    };
    requests.push(record);
    res.on("finish", () => {
      record.status = res.statusCode;
      record.answeredAt = Date.now();
    });
    handle(req, res, record).catch(() => {
      // A bug in the fake: 500 INTERNAL [google-errors]; the text is [guess].
      if (!res.headersSent)
        send(res, new HttpAnswer(500, googleApiError(500, "Internal error encountered.", "INTERNAL")));
    });
  });
  const baseUrl = await listenLocal(server);

  const fake: FakeGoogle = {
    url: baseUrl,
    rootUrl: `${baseUrl}/`,
    tokenUrl: `${baseUrl}${tokenPath}`,
    requests,
    writeQuota: options.writeQuota ?? { requests: 60, perSeconds: 60 },
    readQuota: options.readQuota ?? { requests: 60, perSeconds: 60 },
    latencyMs: 0,
    tokenLifetimeSeconds: 3599,
    beyondGrid: "reject",
    deleteRows(spreadsheetId, sheet, fromRow, count) {
      const found = spreadsheets.get(spreadsheetId);
      const rows = found?.sheets.get(sheet);
      if (!found || !rows) throw new Error(`no sheet ${sheet} in ${spreadsheetId}`);
      const removed = rows.splice(fromRow - 1, count).length;
      found.grid.set(sheet, Math.max(1, gridRows(found, sheet) - removed));
    },
    setRows(spreadsheetId, sheet, rows) {
      const found = spreadsheets.get(spreadsheetId);
      if (!found?.sheets.has(sheet)) throw new Error(`no sheet ${sheet} in ${spreadsheetId}`);
      found.sheets.set(
        sheet,
        rows.map((r) => r.map((c) => (typeof c === "object" ? { ...c } : c))),
      );
      found.grid.set(sheet, Math.max(gridRows(found, sheet), rows.length));
    },
    addServiceAccount(key) {
      accounts.set(key.client_email, {
        publicKey: createPublicKey(key.private_key),
        projectId: /@([^.]+)\./.exec(key.client_email)?.[1] ?? "0",
      });
    },
    removeServiceAccount(email) {
      accounts.delete(email);
    },
    createServiceAccount(opts = {}) {
      const account = createServiceAccount({ ...opts, tokenUri: fake.tokenUrl });
      fake.addServiceAccount(account.key);
      return account;
    },
    createSpreadsheet(id, opts = {}) {
      const titles = opts.sheets ?? ["Sheet1"];
      spreadsheets.set(id, {
        sheets: new Map(titles.map((t) => [t, []])),
        grid: new Map(titles.map((t) => [t, DEFAULT_GRID_ROWS])),
        editors: opts.editors ? new Set(opts.editors) : undefined,
        forbidden: new Set(),
      });
    },
    deleteSpreadsheet(id) {
      spreadsheets.delete(id);
    },
    share(spreadsheetId, email, allowed = true) {
      const found = spreadsheets.get(spreadsheetId);
      if (!found) throw new Error(`no spreadsheet ${spreadsheetId}`);
      if (allowed) {
        found.forbidden.delete(email);
        found.editors?.add(email);
      } else {
        found.forbidden.add(email);
        found.editors?.delete(email);
      }
    },
    rows(spreadsheetId, sheet) {
      const found = spreadsheets.get(spreadsheetId);
      if (!found) throw new Error(`no spreadsheet ${spreadsheetId}`);
      const title = sheet ?? found.sheets.keys().next().value;
      const rows = title === undefined ? undefined : found.sheets.get(title);
      if (!rows) throw new Error(`no sheet ${String(title)} in ${spreadsheetId}`);
      return rows
        .slice(0, lastDataRow(rows))
        .map((r) => r.map((c) => (typeof c === "object" ? { ...c } : c)));
    },
    revokeTokens() {
      tokens.clear();
    },
    failNext(count, fault, operation = "append") {
      for (let i = 0; i < count; i++) faults.push({ fault, operation });
    },
    dropAfterApply(count = 1) {
      dropsAfterApply += count;
    },
    connectorConfig(opts = {}) {
      const spreadsheetId = opts.spreadsheetId ?? "1FakeLoyaltyLogSpreadsheet";
      const sheetName = opts.sheetName ?? "Loyalty";
      if (!spreadsheets.has(spreadsheetId)) fake.createSpreadsheet(spreadsheetId, { sheets: [sheetName] });
      const account = fake.createServiceAccount();
      return {
        spreadsheetId,
        sheetName,
        serviceAccount: account.json,
        rootUrl: fake.rootUrl,
        tokenUrl: fake.tokenUrl,
      };
    },
    close: closer(server, timers),
  };
  for (const key of options.serviceAccounts ?? []) fake.addServiceAccount(key);
  for (const [id, opts] of Object.entries(options.spreadsheets ?? {})) fake.createSpreadsheet(id, opts);
  return fake;
}
