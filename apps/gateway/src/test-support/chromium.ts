/**
 * Headless Chromium for the console's browser tests and screenshots: the Debian package (CI installs
 * it; `npx playwright install` has no internet here), driven by playwright-core with exactly the
 * flags that work on this machine (see the environment reference), no other browser defaults.
 */
export const CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
