import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Request, type Response, Router } from "express";
import { sendError } from "./errors.ts";

/**
 * The operator console's built files (scripts/build-console.ts): dist/console/ of this package, found
 * from this module's place, which is src/http/ (tests, type stripping) or dist/http/ (built).
 */
export const CONSOLE_DIR = fileURLToPath(new URL("../../dist/console/", import.meta.url));

/** The page's policy: its own script and styles only, API calls to this origin, never framed. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const FILES = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
} as const;

type FileName = keyof typeof FILES;

/** The three files, read once; undefined when the console was not built. */
function readConsole(dir: string): Record<FileName, Asset> | undefined {
  try {
    const read = (name: FileName): Asset => {
      const body = readFileSync(`${dir}/${name}`);
      const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
      return { body, type: FILES[name], etag };
    };
    return { "index.html": read("index.html"), "app.js": read("app.js"), "app.css": read("app.css") };
  } catch {
    return undefined;
  }
}

/**
 * The operator console's static files under /admin/ (no data in them, so no token): the page asks
 * for the admin token, keeps it in memory and calls the JSON admin API with it. The files are read
 * once, when the router is made; without a built console the routes answer 503.
 */
export function consoleRouter(options: { dir?: string } = {}): Router {
  const files = readConsole(options.dir ?? CONSOLE_DIR);
  const router = Router();

  const send = (name: FileName) => (req: Request, res: Response) => {
    if (!files) return sendError(res, 503, "console_not_built", "run pnpm build");
    const asset = files[name];
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
    res.setHeader("cross-origin-resource-policy", "same-origin");
    if (name === "index.html") {
      res.setHeader("content-security-policy", CONSOLE_CSP);
      res.setHeader("cross-origin-opener-policy", "same-origin");
      res.setHeader("x-frame-options", "DENY");
      res.setHeader("cache-control", "no-store");
    } else {
      // Revalidated on every load: a new build is picked up without a stale mix of page and script.
      res.setHeader("cache-control", "no-cache");
      res.setHeader("etag", asset.etag);
      if (req.get("if-none-match") === asset.etag) return res.status(304).end();
    }
    res.setHeader("content-type", asset.type);
    res.status(200).send(asset.body);
  };

  const page = send("index.html");
  // Routing is not strict (`/admin/` also matches `/admin`): the page needs its trailing slash, or
  // its relative asset and API paths would miss. The redirect is relative, for a path prefix too.
  router.get("/admin/", (req, res) => {
    if (!req.originalUrl.split("?")[0]?.endsWith("/")) return res.redirect(308, "admin/");
    page(req, res);
  });
  router.get("/admin/assets/app.js", send("app.js"));
  router.get("/admin/assets/app.css", send("app.css"));
  return router;
}
