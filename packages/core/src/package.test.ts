import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// Packs the built package exactly as it would be published, then installs the tarball into a scratch
// project outside the workspace and verifies a signed request with it.
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "engage-core-pack-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("published package", () => {
  it("packs only built files, README and LICENSE, and works when installed", { timeout: 120_000 }, () => {
    execFileSync("pnpm", ["pack", "--pack-destination", scratch], { cwd: packageDir, stdio: "pipe" });
    const tarball = readdirSync(scratch).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error("no tarball");
    const files = execFileSync("tar", ["-tzf", join(scratch, tarball)], { encoding: "utf8" })
      .trim()
      .split("\n")
      .sort();
    for (const file of files) {
      // ESM (.js) and CommonJS (.cjs) builds, their declarations (.d.ts for ESM, .d.cts for CommonJS).
      expect(file).toMatch(
        /^package\/(package\.json|README\.md|LICENSE|dist\/[\w./-]+\.(js|cjs|d\.ts|d\.cts))$/,
      );
      expect(file).not.toMatch(/test/);
    }
    // The shipped JS and declarations point at no source or declaration map (none is shipped): a
    // debugger, bundler or editor would warn.
    execFileSync("tar", ["-xzf", join(scratch, tarball), "-C", scratch]);
    for (const file of files.filter((f) => f.startsWith("package/dist/"))) {
      expect(readFileSync(join(scratch, file), "utf8"), file).not.toContain("sourceMappingURL");
    }
    // Every file the exports map (and main/types/typesVersions) names is in the tarball.
    const manifest = JSON.parse(readFileSync(join(scratch, "package/package.json"), "utf8"));
    const named = new Set<string>([manifest.main, manifest.types]);
    const collect = (value: unknown): void => {
      if (typeof value === "string") named.add(value);
      else if (Array.isArray(value)) value.forEach(collect);
      else if (value && typeof value === "object") Object.values(value).forEach(collect);
    };
    collect(manifest.exports);
    collect(manifest.typesVersions);
    for (const path of named) expect(files, path).toContain(`package/${path.replace(/^\.\//, "")}`);
    for (const entry of ["index", "web/index"]) {
      expect(files).toContain(`package/dist/${entry}.js`);
      expect(files).toContain(`package/dist/${entry}.cjs`);
      expect(files).toContain(`package/dist/types/${entry}.d.ts`);
      expect(files).toContain(`package/dist/types/${entry}.d.cts`);
    }
    expect(files).toContain("package/README.md");
    expect(files).toContain("package/LICENSE");

    const app = join(scratch, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "scratch", private: true, type: "module" }),
    );
    execFileSync(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", join(scratch, tarball)],
      {
        cwd: app,
        stdio: "pipe",
      },
    );
    writeFileSync(
      join(app, "check.mjs"),
      `import { createVerifier, signWebhook, parseEngageEvent, WebhookVerificationError } from "@engage-bridge/core";
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const body = JSON.stringify({ id: "e1", eventType: "loyalty.addPoints", payload: { contactId: "c1", amount: 5 } });
const ts = Math.floor(Date.now() / 1000);
const headers = { "svix-id": "msg_1", "svix-timestamp": String(ts), "svix-signature": signWebhook(secret, "msg_1", ts, body) };
const verifier = createVerifier({ secrets: [secret] });
const { id } = verifier.verify(body, headers);
const event = parseEngageEvent(body, { messageId: id });
let forged = "accepted";
try { verifier.verify(body + " ", headers); } catch (e) { forged = e instanceof WebhookVerificationError ? e.reason : "crash"; }
console.log(JSON.stringify({ id, type: event.type, amount: event.data.amount, forged }));
`,
    );
    // The same check through the CommonJS build (require condition).
    writeFileSync(
      join(app, "check.cjs"),
      readFileSync(join(app, "check.mjs"), "utf8").replace(
        /^import (\{[^}]+\}) from "@engage-bridge\/core";$/m,
        'const $1 = require("@engage-bridge/core");',
      ),
    );
    for (const script of ["check.mjs", "check.cjs"]) {
      const out = execFileSync(process.execPath, [script], { cwd: app, encoding: "utf8" });
      expect(JSON.parse(out), script).toEqual({
        id: "msg_1",
        type: "loyalty.addPoints",
        amount: 5,
        forged: "no_matching_signature",
      });
    }
    expect(readFileSync(join(app, "check.cjs"), "utf8")).toContain('require("@engage-bridge/core")');
  });
});
