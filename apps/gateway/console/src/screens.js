// The page has two screens: the sign-in form and the console (navigation and view). They are in
// index.html; these only switch between them.
import { $, fill } from "./dom.js";

export function showSignIn(message) {
  $("nav").hidden = true;
  $("view").hidden = true;
  fill($("view"));
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message ?? "";
  document.title = "Sign in · engage-bridge console";
  $("token").focus();
}

export function showConsole() {
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("view").hidden = false;
}
