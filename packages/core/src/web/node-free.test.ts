import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { encryptPayload } from "../decrypt.ts";

// Loads the web entry in a child Node process where importing node:crypto or node:buffer fails and the
// Buffer global is gone, as on Cloudflare Workers / Deno / Vercel Edge without Node compatibility.
const packageDir = fileURLToPath(new URL("../../", import.meta.url));
const KEY = "DaqfT7Ys6tGqM3zbesEKpmacTJEqBCp2";

const CHILD = `
import { registerHooks } from "node:module";
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (/^(node:)?(crypto|buffer)(\\/|$)/.test(specifier)) throw new Error("blocked import of " + specifier);
    return nextResolve(specifier, context);
  },
});
// Node's own fetch classes (undici) use the Buffer global, so a real Request cannot be built once it is
// gone: load Headers first, and give verifyRequest a Request-shaped object (the real one is tested in
// verify.test.ts).
new Headers({ a: "b" }).get("a");
delete globalThis.Buffer;
const out = {};
out.cryptoBlocked = await import("node:crypto").then(() => false, (e) => /blocked/.test(e.message));
out.bufferGone = typeof Buffer === "undefined";
out.nodeEntryFails = await import(process.env.NODE_ENTRY).then(() => false, (e) => /blocked/.test(e.message));
const web = await import(process.env.WEB_ENTRY);
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const headers = new Headers({
  "svix-id": id,
  "svix-timestamp": "1614265330",
  "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
});
const verifier = web.createWebVerifier({ secrets: [secret], now: () => 1614265330 * 1000 });
const request = {
  headers,
  arrayBuffer: async () => new TextEncoder().encode('{"test": 2432232314}').buffer,
};
const { webhook, body } = await verifier.verifyRequest(request);
out.webhook = webhook;
out.bodyLength = body.length;
out.forged = await verifier.verify('{"test": 2432232315}', headers).then(() => "accepted", (e) => e.name + ":" + e.reason);
out.signature = await web.signWebhookAsync(secret, id, 1614265330, '{"test": 2432232314}');
out.decrypted = await web.decryptPayloadAsync(process.env.ENCRYPTED, process.env.KEY);
console.log(JSON.stringify(out));
`;

function runWithoutNodeCrypto(webEntry: string, nodeEntry: string): unknown {
  const out = execFileSync(process.execPath, ["--input-type=module", "--no-warnings", "-e", CHILD], {
    cwd: packageDir,
    encoding: "utf8",
    env: {
      ...process.env,
      WEB_ENTRY: webEntry,
      NODE_ENTRY: nodeEntry,
      ENCRYPTED: encryptPayload('\uFEFF{"contactId":"c-1"}', KEY),
      KEY,
    },
  });
  return JSON.parse(out);
}

const expected = {
  cryptoBlocked: true,
  bufferGone: true,
  nodeEntryFails: true,
  webhook: { id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, brand: "svix" },
  bodyLength: 20,
  forged: "WebhookVerificationError:no_matching_signature",
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  decrypted: '\uFEFF{"contactId":"c-1"}',
};

describe("the web entry loads and works without node:crypto, node:buffer or Buffer", () => {
  it("from the sources (Node type stripping)", { timeout: 30_000 }, () => {
    const src = (p: string) => new URL(`../${p}`, import.meta.url).href;
    expect(runWithoutNodeCrypto(src("web/index.ts"), src("index.ts"))).toEqual(expected);
  });

  it("as published: @engage-bridge/core/web from dist (build first)", { timeout: 30_000 }, () => {
    if (!existsSync(`${packageDir}dist/web/index.js`)) {
      throw new Error("dist/web/index.js is missing: run `pnpm --filter @engage-bridge/core build` first");
    }
    expect(runWithoutNodeCrypto("@engage-bridge/core/web", "@engage-bridge/core")).toEqual(expected);
  });
});

describe("the web sources", () => {
  it("neither import a node: module nor name Buffer outside comments, through every module they load", () => {
    // Every module the web entry loads, followed through its relative imports (the shared rules and
    // errors live outside src/web).
    const seen = new Set<string>();
    const pending = [new URL("./index.ts", import.meta.url).href];
    while (pending.length > 0) {
      const url = pending.pop() as string;
      if (seen.has(url)) continue;
      seen.add(url);
      const code = readFileSync(new URL(url), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      expect(code, url).not.toMatch(/["']node:|\bBuffer\b|\brequire\(|\bprocess\./);
      for (const [, specifier] of code.matchAll(/\bfrom\s+["']([^"']+)["']/g)) {
        // zod (the one runtime dependency) loads no node: module either.
        if (specifier === "zod") continue;
        expect(specifier, url).toMatch(/^\.\.?\/[\w./-]+\.ts$/);
        pending.push(new URL(specifier as string, url).href);
      }
    }
    expect([...seen].map((u) => u.replace(/^.*\/src\//, "")).sort()).toEqual([
      "base64.ts",
      "errors.ts",
      "events-core.ts",
      "payload-rules.ts",
      "signature-rules.ts",
      "tolerant.ts",
      "web/decrypt.ts",
      "web/index.ts",
      "web/parse.ts",
      "web/subtle.ts",
      "web/verify.ts",
    ]);
  });
});
