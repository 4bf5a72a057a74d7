// The operator console (served at /admin/): plain ES modules under src/, bundled with uPlot into one
// file by scripts/build-console.ts. No framework, no inline script or style (the page's CSP forbids
// both), nothing loaded from elsewhere. The admin token lives in src/session.js's memory and nowhere
// else: not in storage, not in a cookie, not in a URL after start-up.
import { onTokenRefused } from "./src/api.js";
import { $ } from "./src/dom.js";
import { render } from "./src/render.js";
import { startRouter } from "./src/router.js";
import { showSignIn } from "./src/screens.js";
import { takeTokenFromAddress } from "./src/session.js";
import { signIn, signOut } from "./src/sign-in.js";

/** Signs in with the token typed; an empty form asks for one. */
function listenToSignInForm() {
  $("sign-in").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("token").value.trim();
    if (!value) {
      $("sign-in-error").textContent = "Enter the admin token.";
      $("token").focus();
      return;
    }
    signIn(value);
  });
}

// The skip link moves focus without touching the fragment (the fragment is the route).
function listenToSkipLink() {
  $("skip").addEventListener("click", (e) => {
    e.preventDefault();
    const target = $("sign-in").hidden ? $("view").querySelector("h1") : $("token");
    (target ?? $("content")).focus();
  });
}

/** Signing out also drops the route from the address: the next sign-in opens the overview. */
function listenToSignOut() {
  $("sign-out").addEventListener("click", () => {
    signOut("Signed out.");
    history.replaceState(null, "", location.pathname + location.search);
  });
}

listenToSignInForm();
listenToSkipLink();
listenToSignOut();
onTokenRefused(() => signOut("The admin token was refused. Check it and sign in again."));
startRouter(render);
const given = takeTokenFromAddress();
if (given) signIn(given);
else showSignIn();
