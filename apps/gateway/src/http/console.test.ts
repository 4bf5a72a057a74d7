import { readdirSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_DIR, startTestGateway, type TestGateway, tempDir } from "../test-support/harness.ts";
import { CONSOLE_CSP, CONSOLE_DIR, consoleRouter } from "./console.ts";

/**
 * The console's static files as the gateway serves them (vitest's global setup builds them into
 * dist/console/ first): headers, the CSP, and what its sources may not do. The page itself is
 * tested in Chromium (console.e2e.test.ts).
 */
const TOKEN = "console-unit-admin-token-0123456789";

describe("console files", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ admin: { token: TOKEN } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it("serves the page without a token, under a strict CSP, never cached", async () => {
    const res = await fetch(`${gw.url}/admin/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    expect(res.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).toBe(readFileSync(join(CONSOLE_DIR, "index.html"), "utf8"));
    expect(html).toContain('src="assets/app.js"');
    expect(html).toContain('href="assets/app.css"');
  });

  it("serves the script and the styles with their types, revalidated by ETag", async () => {
    for (const [path, type] of [
      ["/admin/assets/app.js", "text/javascript; charset=utf-8"],
      ["/admin/assets/app.css", "text/css; charset=utf-8"],
    ] as const) {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe(type);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      const etag = res.headers.get("etag");
      expect(etag).toMatch(/^"[\w-]{22}"$/);
      expect((await res.text()).length).toBeGreaterThan(1000);
      const again = await fetch(`${gw.url}${path}`, { headers: { "if-none-match": etag ?? "" } });
      expect(again.status).toBe(304);
    }
  });

  it("redirects /admin to /admin/ (the page's relative paths need the slash)", async () => {
    const res = await fetch(`${gw.url}/admin?x=1`, { redirect: "manual" });
    expect(res.status).toBe(308);
    expect(new URL(res.headers.get("location") ?? "", `${gw.url}/admin`).href).toBe(`${gw.url}/admin/`);
  });

  it("serves nothing else without the token", async () => {
    for (const path of ["/admin/assets/other.js", "/admin/index.html", "/admin/stats"]) {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status, path).toBe(401);
    }
  });

  it("answers 503 console_not_built when dist/console is missing", async () => {
    const empty = tempDir("engage-gw-console-");
    const app = express().use(consoleRouter({ dir: empty.path }));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      for (const path of ["/admin/", "/admin/assets/app.js", "/admin/assets/app.css"]) {
        const res = await fetch(`${url}${path}`);
        expect(res.status, path).toBe(503);
        expect(await res.json()).toEqual({ error: "console_not_built", message: "run pnpm build" });
      }
    } finally {
      server.close();
      empty.remove();
    }
  });
});

describe("console sources", () => {
  const source = (name: string) => readFileSync(join(GATEWAY_DIR, "console", name), "utf8");

  it("the page has no inline script, style or handler (the CSP would refuse them)", () => {
    const html = source("index.html");
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\bsrc="/);
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
  });

  it("the scripts write no HTML, evaluate no string and keep the token out of storage and cookies", () => {
    const scripts = readdirSync(join(GATEWAY_DIR, "console"), { recursive: true, encoding: "utf8" }).filter(
      (file) => file.endsWith(".js"),
    );
    expect(scripts.length).toBeGreaterThan(10);
    const js = scripts.map((file) => source(file)).join("\n");
    for (const banned of [
      "innerHTML",
      "outerHTML",
      "insertAdjacentHTML",
      "document.write",
      "eval(",
      "new Function",
      "localStorage",
      "sessionStorage",
      "document.cookie",
      'setAttribute("style"',
    ])
      expect(js, banned).not.toContain(banned);
  });
});
