// `pnpm gen:connector` as a user runs it, in a copy of the workspace: generate, install, and the new
// package's own tests pass untouched; the gateway's tests that loop over the registry (through a
// real gateway, sandbox mode, config) pass with it; and the change outside the new folder is the
// registration, the gateway's dependency and the lockfile (plus the gateway's generated config JSON
// Schema, which now describes the new connector's block, and, after `pnpm docs:config`, the
// configuration reference).
//
//   node --test scripts/gen-connector.test.ts
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
let copy: string;
const read = (file: string) => readFileSync(file, "utf8");

function run(command: string, args: string[], cwd = copy): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, CI: "true" },
    timeout: 600_000,
  });
  assert.equal(result.status, 0, `${command} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

before(() => {
  copy = mkdtempSync(join(tmpdir(), "engage-bridge-gen-"));
  // The working tree as it is (tracked and new files, not ignored ones), under git to see the change.
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: root,
    encoding: "utf8",
  })
    .split("\0")
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(join(copy, dirname(file)), { recursive: true });
    try {
      cpSync(join(root, file), join(copy, file));
    } catch {
      // listed but deleted in the working tree
    }
  }
  run("git", ["init", "-q"]);
  run("git", ["add", "-A"]);
  run("git", ["-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "commit", "-qm", "base"]);
});

after(() => rmSync(copy, { recursive: true, force: true }));

describe("pnpm gen:connector", () => {
  it("scaffolds a package whose tests pass untouched, registered with one line", { timeout: 900_000 }, () => {
    run("pnpm", ["install", "--frozen-lockfile", "--offline"]);
    run("pnpm", ["gen:connector", "acme-crm"]);
    // Installing links the new package and builds the workspace (root `prepare`).
    run("pnpm", ["install", "--no-frozen-lockfile", "--offline"]);

    const status = run("git", ["status", "--porcelain"])
      .split("\n")
      .filter(Boolean)
      .map((line) => line.slice(3))
      .sort();
    assert.deepEqual(status, [
      "apps/gateway/engage-bridge.schema.json",
      "apps/gateway/package.json",
      "apps/gateway/src/connectors/builtin.ts",
      "packages/connector-acme-crm/",
      "pnpm-lock.yaml",
    ]);
    const registration = run("git", ["diff", "--numstat", "--", "apps/gateway/src"]).trim();
    assert.equal(registration, "1\t0\tapps/gateway/src/connectors/builtin.ts", "one registration line");

    const pkg = ["--filter", "@engage-bridge/connector-acme-crm"];
    run("pnpm", [...pkg, "typecheck"]);
    run("pnpm", [...pkg, "lint"]);
    run("pnpm", [...pkg, "test"]);
    // Again, verbose, to see that the shared conformance suite is among what passed.
    const verbose = run("pnpm", [...pkg, "exec", "vitest", "run", "--reporter=verbose"]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes, removed before matching
    const tests = verbose.replace(/\u001b\[[0-9;]*m/g, "");
    assert.match(tests, /connector conformance/);
    assert.doesNotMatch(tests, /failed/i);
    assert.match(tests, /Tests\s+\d+ passed/);

    // The gateway knows it through the registry: its config block validates, its secret is masked.
    const config = join(copy, "engage-bridge.yaml");
    run("node", [
      "-e",
      `require("node:fs").writeFileSync(${JSON.stringify(config)}, ${JSON.stringify(
        'sources: { engage: { signingSecrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] } }\n' +
          'connectors:\n  acmeCrm: { baseUrl: "https://api.acme.example", apiKey: "acme-secret-key" }\n',
      )})`,
    ]);
    const checked = run("node", ["apps/gateway/bin/engage-bridge.js", "check-config", "--config", config]);
    assert.match(checked, /acmeCrm:\n\s+type: acmeCrm/);
    assert.doesNotMatch(checked, /acme-secret-key/);

    // The gateway's tests that loop over the registry take it in untouched: through a real gateway
    // to its sandbox fake, in sandbox mode with the others, and in the config schema and parser.
    const gateway = ["--filter", "@engage-bridge/gateway", "exec", "vitest", "run"];
    const e2e = run("pnpm", [
      ...gateway,
      "src/connectors/builtin.e2e.test.ts",
      "src/config",
      "--reporter=verbose",
    ]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes, removed before matching
    assert.match(e2e.replace(/\u001b\[[0-9;]*m/g, ""), /✓ .*acmeCrm: each sample it handles ends delivered/);
    run("pnpm", [...gateway, "src/cli.test.ts", "-t", "runs sandbox mode without a config"]);
    // The configuration reference is generated from the JSON Schema: one command, as the guide says.
    run("pnpm", ["docs:config"]);
    run("pnpm", ["docs:config", "--check"]);
    assert.match(read(join(copy, "docs", "configuration.md")), /acmeCrm/);
  });
});
