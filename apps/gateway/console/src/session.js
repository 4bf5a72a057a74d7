// The admin token lives here, in this module's memory, and nowhere else: not in storage, not in a
// cookie, not in a URL after start-up. Reloading the page asks for it again.

let token = "";

export const currentToken = () => token;
export const signedIn = () => token !== "";

export function keepToken(value) {
  token = value;
}

export function forgetToken() {
  token = "";
}

/**
 * A link that carries the token once (`/admin/#token=…`, e.g. from sandbox mode's banner): returns
 * the token ("" when it does not decode), undefined without one. It is dropped from the address bar
 * and the history entry at once, so that it is not left where a URL can be seen or shared.
 */
export function takeTokenFromAddress() {
  const given = /^#token=([^&]*)/.exec(location.hash);
  if (!given) return undefined;
  let value = "";
  try {
    value = decodeURIComponent(given[1]);
  } catch {
    value = "";
  }
  history.replaceState(null, "", `${location.pathname}${location.search}#/overview`);
  return value;
}
