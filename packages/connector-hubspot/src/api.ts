import { raceAbort } from "@engage-bridge/core";
import { Client } from "@hubspot/api-client";
import type { HubSpotConfig } from "./config.ts";

/**
 * The HubSpot calls the connector makes, through `@hubspot/api-client`'s `apiRequest` (the SDK types
 * only the legacy v3 paths; the date-versioned ones go through this generic call).
 *
 * What the SDK does and does not do, and how this module copes:
 * - `apiRequest` resolves with the fetch `Response` for every status (it never throws on 4xx/5xx);
 *   the answer is read and classified here.
 * - Its retry and limiter settings live in a process-wide singleton that every `new Client()`
 *   overwrites. The client is created without either (the gateway's engine retries and paces), and
 *   once per connector instance (in `init`, kept in the instance's state), not per call.
 * - It takes no `AbortSignal`: each call races the caller's signal, so an aborted attempt never
 *   waits on a request that hangs; the abandoned request's answer is discarded when it comes.
 */

export interface HubSpotAnswer {
  status: number;
  headers: Headers;
  /** The JSON body, or undefined when the body was empty or not JSON. */
  body: unknown;
  /** HubSpot's `correlationId` (error bodies carry it), for support requests. */
  correlationId: string | undefined;
}

/** The request never got an answer (connection refused or reset, DNS, TLS …). */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
}

export interface HubSpotApi {
  request(
    method: "GET" | "POST" | "PATCH",
    path: string,
    options: { body?: unknown; query?: Record<string, string>; signal?: AbortSignal },
  ): Promise<HubSpotAnswer>;
  /** `/communication-preferences/<apiVersion>` */
  readonly preferencesPath: string;
}

const discardBody = (response: Response) => {
  response.body?.cancel().catch(() => undefined);
};

async function readAnswer(response: Response): Promise<HubSpotAnswer> {
  const text = await response.text();
  let body: unknown;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  const id = (body as { correlationId?: unknown } | undefined)?.correlationId;
  return {
    status: response.status,
    headers: response.headers,
    body,
    correlationId: typeof id === "string" ? id : undefined,
  };
}

/**
 * A client for `config`'s token and base URL. The connector's `init` makes one per connector
 * instance and keeps it in the instance's state (see connector.ts), never one per call.
 */
export function createApi(config: HubSpotConfig): HubSpotApi {
  const client = new Client({
    accessToken: config.accessToken,
    basePath: config.baseUrl.replace(/\/+$/, ""),
    numberOfApiCallRetries: 0,
  });
  return {
    preferencesPath: `/communication-preferences/${encodeURIComponent(config.apiVersion)}`,
    async request(method, path, { body, query, signal }) {
      let response: Response;
      try {
        response = await raceAbort(
          client.apiRequest({
            method,
            path,
            ...(query === undefined ? {} : { qs: query }),
            ...(body === undefined ? {} : { body }),
          }),
          signal,
          discardBody,
        );
      } catch (error) {
        if (signal?.aborted) throw error;
        const cause = (error as { cause?: { code?: string } }).cause;
        throw new NetworkError(
          `HubSpot could not be reached: ${(error as Error).message}${cause?.code ? ` (${cause.code})` : ""}`,
          { cause: error },
        );
      }
      return raceAbort(readAnswer(response), signal);
    },
  };
}

/** A path segment for an email address: HubSpot's subscriber id is the email itself. */
export const emailSegment = (email: string) => encodeURIComponent(email);
