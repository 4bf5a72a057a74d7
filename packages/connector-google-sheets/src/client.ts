import { type HeaderSource, headerOf, retryAfterMs } from "@engage-bridge/core";
import { sheets, type sheets_v4 } from "@googleapis/sheets";
import { JWT } from "google-auth-library";
import { DEFAULT_TOKEN_URL, type GoogleSheetsConfig, type ServiceAccountCredentials } from "./config.ts";

export const SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets";
/** google-auth-library posts the JWT bearer grant here, whatever the key file says. */
const LIBRARY_TOKEN_URL = DEFAULT_TOKEN_URL;
/** The library has no default timeout; a token exchange that hangs must not hold the writer. */
const TOKEN_TIMEOUT_MS = 15_000;

export interface SheetsClient {
  api: sheets_v4.Sheets;
  auth: JWT;
}

/**
 * The official client, pointed at `rootUrl`, authenticated as the service account. The JWT client
 * signs an RS256 assertion and exchanges it at a fixed oauth2.googleapis.com address; a request
 * interceptor on its transporter redirects that exchange to `tokenUrl`, and the assertion's `aud`
 * is `tokenUrl` (as Google's other official libraries do with a key file's `token_uri`).
 */
export function createSheetsClient(
  config: GoogleSheetsConfig,
  credentials: ServiceAccountCredentials,
): SheetsClient {
  const auth = new JWT({
    email: credentials.clientEmail,
    key: credentials.privateKey,
    ...(credentials.privateKeyId ? { keyId: credentials.privateKeyId } : {}),
    scopes: [SHEETS_SCOPE],
    additionalClaims: { aud: config.tokenUrl },
  });
  const tokenUrl = new URL(config.tokenUrl);
  auth.transporter.interceptors.request.add({
    resolved: async (options) => {
      if (String(options.url) === LIBRARY_TOKEN_URL) {
        options.url = tokenUrl;
        options.timeout = options.timeout ? Math.min(options.timeout, TOKEN_TIMEOUT_MS) : TOKEN_TIMEOUT_MS;
      }
      return options;
    },
  });
  return { api: sheets({ version: "v4", auth, rootUrl: config.rootUrl }), auth };
}

/** What went wrong with a call, in the terms the connector decides on. */
export type Failure =
  /** The token endpoint answered with an error (`invalid_grant`, 5xx, …). */
  | { kind: "token"; status: number; code: string | undefined; description: string | undefined }
  /** The Sheets API answered with an error. */
  | {
      kind: "api";
      status: number;
      googleStatus: string | undefined;
      message: string | undefined;
      retryAfterMs: number | undefined;
    }
  /** No answer at all (connection reset or refused, timeout). For a write: it may have been applied. */
  | { kind: "network"; code: string | undefined; token: boolean }
  /** The delivery's signal aborted (attempt timeout, shutdown). */
  | { kind: "aborted" }
  | { kind: "other"; message: string };

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  config?: { url?: unknown };
  response?: { status?: unknown; data?: unknown; headers?: unknown };
}

export function classify(error: unknown, tokenUrl: string, signal: AbortSignal): Failure {
  if (signal.aborted) return { kind: "aborted" };
  if (!error || typeof error !== "object") return { kind: "other", message: String(error) };
  const e = error as ErrorLike;
  const url = e.config?.url === undefined ? "" : String(e.config.url);
  const isToken =
    url !== "" && (url === tokenUrl || url === new URL(tokenUrl).href || url === LIBRARY_TOKEN_URL);
  const status = typeof e.response?.status === "number" ? e.response.status : undefined;
  if (status === undefined) {
    if (e.config || typeof e.code === "string") {
      return { kind: "network", code: typeof e.code === "string" ? e.code : undefined, token: isToken };
    }
    if ((error as Error).name === "AbortError") return { kind: "aborted" };
    return { kind: "other", message: typeof e.message === "string" ? e.message : "unknown error" };
  }
  const data = e.response?.data;
  if (isToken) {
    const body = (data && typeof data === "object" ? data : {}) as Record<string, unknown>;
    return {
      kind: "token",
      status,
      code: typeof body.error === "string" ? body.error : undefined,
      description: typeof body.error_description === "string" ? body.error_description : undefined,
    };
  }
  const apiError = (data && typeof data === "object" ? (data as { error?: unknown }).error : undefined) as
    | { status?: unknown; message?: unknown }
    | undefined;
  return {
    kind: "api",
    status,
    googleStatus: typeof apiError?.status === "string" ? apiError.status : undefined,
    message: typeof apiError?.message === "string" ? apiError.message : undefined,
    // Google's Sheets 429s usually carry no Retry-After; honoured when present. In Node the SDK's
    // headers are node-fetch's `Headers` (gaxios's fetch), not the global class: read with `.get`.
    retryAfterMs: retryAfterMs(headerOf(e.response?.headers as HeaderSource, "retry-after")),
  };
}
