import { currentToken, signedIn } from "./session.js";

export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** What a refused token does; set at start-up (sign out), so that this module needs no page. */
let tokenRefused = () => {};

export function onTokenRefused(fn) {
  tokenRefused = fn;
}

/** Calls the admin API (relative to /admin/) with the token; a 401 signs out and shows nothing. */
export async function api(path, { method = "GET", body } = {}) {
  if (!signedIn()) throw new Unauthorized("signed out");
  const headers = { authorization: `Bearer ${currentToken()}`, accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, "network", "The gateway did not answer. Is it running?");
  }
  if (res.status === 401) {
    tokenRefused();
    throw new Unauthorized("token refused");
  }
  const data = await jsonOrUndefined(res);
  if (!res.ok) {
    throw new ApiError(
      res.status,
      data?.error ?? `http_${res.status}`,
      data?.message ?? `The gateway answered ${res.status} ${res.statusText}`,
    );
  }
  return data;
}

/** An error page from a proxy is not JSON: its status still says what happened. */
async function jsonOrUndefined(res) {
  try {
    return await res.json();
  } catch {
    return undefined;
  }
}
