import { api, Unauthorized } from "./api.js";
import { $ } from "./dom.js";
import { parseRoute, renderCurrent } from "./router.js";
import { showConsole, showSignIn } from "./screens.js";
import { forgetToken, keepToken } from "./session.js";
import { leaveView } from "./view-lifetime.js";
import { forgetPages } from "./views/find-memory.js";

/** Tries `value` against the API; the console opens only when the gateway takes it. */
export async function signIn(value) {
  keepToken(value);
  $("sign-in-error").textContent = "";
  try {
    await api("stats");
  } catch (error) {
    // A refused token has signed out already, with its own message (onTokenRefused, app.js).
    if (!(error instanceof Unauthorized)) {
      forgetToken();
      showSignIn(error.message);
    }
    return;
  }
  $("token").value = "";
  showConsole();
  if (!parseRoute().known) history.replaceState(null, "", "#/overview");
  await renderCurrent();
}

/** Forgets the token and everything the console showed or remembered with it. */
export function signOut(message) {
  forgetToken();
  $("token").value = "";
  leaveView();
  forgetPages();
  showSignIn(message);
}
