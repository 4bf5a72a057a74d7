import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, TEST_SECRET, tempDir } from "../test-support/harness.ts";

// Plugins live in temporary directories, outside the workspace: they import zod and core by URL.
const ZOD_URL = import.meta.resolve("zod");
const CORE_URL = import.meta.resolve("@engage-bridge/core");

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn();
});

const cli = (args: string[], cwd?: string) => runCli(args, { cwd, env: { PORT: "0", LOG_LEVEL: "warn" } });

function workdir(): string {
  const dir = tempDir("engage-plugins-");
  cleanups.push(dir.remove);
  return dir.path;
}

/**
 * A connector module named `name` whose config has a plain `endpoint` and an `apiToken`, marked
 * with core's `secret()` unless `markSecret` is false. Importing it writes `marker` (so a test sees
 * whether its code ran).
 */
function pluginSource(name: string, marker: string, markSecret = true): string {
  return `import { writeFileSync } from "node:fs";
import { z } from ${JSON.stringify(ZOD_URL)};
${markSecret ? `import { secret } from ${JSON.stringify(CORE_URL)};` : "const secret = (s) => s;"}
writeFileSync(${JSON.stringify(marker)}, "ran");
export default {
  name: ${JSON.stringify(name)},
  configSchema: z.strictObject({ endpoint: z.url(), apiToken: secret(z.string().min(1)) }),
  handles: ["loyalty.addPoints"],
  async deliver(items) {
    return items.map(() => ({ status: "delivered" }));
  },
};
`;
}

/** A config file in `dir` (JSON) with source `engage`, merged with `extra`. */
function writeConfig(dir: string, extra: Record<string, unknown>): string {
  const file = join(dir, "engage-bridge.json");
  writeFileSync(
    file,
    JSON.stringify({
      store: `sqlite:${join(dir, "gw.db")}`,
      sources: { engage: { signingSecrets: [TEST_SECRET] } },
      ...extra,
    }),
  );
  return file;
}

const PLUGIN_TOKEN = "acme-plugin-token-7f3a9c";
const PLUGIN_ENDPOINT = "https://erp.acme.example/hooks";

describe("check-config and plugin code", () => {
  it("does not run plugin code without --load-plugins: exit 0, the block reported unvalidated and masked", async () => {
    const dir = workdir();
    const marker = join(dir, "plugin-ran");
    // Nothing in this plugin marks a field secret: only not running it keeps its values hidden.
    writeFileSync(join(dir, "acme.js"), pluginSource("acme", marker, false));
    const file = writeConfig(dir, {
      plugins: ["./acme.js"],
      connectors: { acme: { endpoint: PLUGIN_ENDPOINT, apiToken: PLUGIN_TOKEN } },
    });

    const checked = await cli(["check-config", "--config", file]);
    expect(checked.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(checked.stderr).toMatch(/connectors\.acme\b.*not validated/);
    expect(checked.stdout).toContain("valid");
    expect(checked.stdout).toContain("acme:");
    // Nothing says which of its fields are secret: none of its values is printed.
    expect(checked.stdout).not.toContain(PLUGIN_TOKEN);
    expect(checked.stdout).not.toContain(PLUGIN_ENDPOINT);
    expect(checked.stdout).not.toContain("erp.acme.example");

    // The same block in a file without plugins is an unknown key, as before.
    const plain = writeConfig(workdir(), {
      connectors: { acme: { endpoint: PLUGIN_ENDPOINT, apiToken: PLUGIN_TOKEN } },
    });
    const refused = await cli(["check-config", "--config", plain]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/connectors\.acme: no connector is named acme/);
    expect(refused.stderr).not.toContain(PLUGIN_TOKEN);
  });

  it("runs plugin code with --load-plugins, validates the block and masks the fields it marks secret()", async () => {
    const dir = workdir();
    const marker = join(dir, "plugin-ran");
    writeFileSync(join(dir, "acme.js"), pluginSource("acme", marker));
    const file = writeConfig(dir, {
      plugins: ["./acme.js"],
      connectors: { acme: { endpoint: PLUGIN_ENDPOINT, apiToken: PLUGIN_TOKEN } },
    });

    const checked = await cli(["check-config", "--load-plugins", "--config", file]);
    expect(checked.code).toBe(0);
    expect(existsSync(marker)).toBe(true);
    expect(checked.stderr).not.toContain("not validated");
    expect(checked.stdout).not.toContain(PLUGIN_TOKEN);
    // A field the plugin does not mark secret is shown.
    expect(checked.stdout).toContain(PLUGIN_ENDPOINT);

    // Now the plugin's schema applies: a block it refuses is an error.
    const broken = writeConfig(dir, {
      plugins: ["./acme.js"],
      connectors: { acme: { endpoint: "not a url", apiToken: PLUGIN_TOKEN } },
    });
    const refused = await cli(["check-config", "--load-plugins", "--config", broken]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("connectors.acme.endpoint");
    expect(refused.stderr).not.toContain(PLUGIN_TOKEN);
  });
});

describe("plugin specifiers", () => {
  it("refuses data: and http(s): specifiers without running them, in check-config and start", async () => {
    const dir = workdir();
    const marker = join(dir, "data-url-ran");
    const dataUrl = `data:text/javascript,import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(marker)}, "ran"); export default [];`;
    const specifiers = [dataUrl, "http://127.0.0.1:9/plugin.js", "https://plugins.example.com/x.js"];
    await Promise.all(
      specifiers.map(async (specifier, i) => {
        const scheme = /^[a-z]+/.exec(specifier)?.[0] ?? "";
        const sub = join(dir, String(i));
        mkdirSync(sub);
        const file = writeConfig(sub, { plugins: [specifier] });
        const [checked, started] = await Promise.all([
          cli(["check-config", "--load-plugins", "--config", file]),
          cli(["start", "--config", file]),
        ]);
        expect(checked.code, specifier).toBe(1);
        expect(checked.stdout).toBe("");
        expect(checked.stderr).toMatch(/plugins: plugin .* is refused/);
        expect(checked.stderr).toContain(`not ${scheme}: URLs`);
        expect(started.code, specifier).toBe(1);
        expect(started.stderr).toMatch(/is refused/);
      }),
    );
    expect(existsSync(marker)).toBe(false);
  });

  it("reports a file that is not a loadable module without echoing its content", async () => {
    const dir = workdir();
    // The brief's example (a syntax error) and a key file whose one token is read as an identifier
    // (a ReferenceError whose message would quote it).
    writeFileSync(join(dir, "not-js.js"), "the-secret-value-42 is not js\n");
    writeFileSync(join(dir, "key.js"), "sk_live_4eC39HqLyjWDarjtT1zdp7dc\n");
    const cases = [
      ["./not-js.js", "the-secret-value-42"],
      ["./key.js", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
    ] as const;
    await Promise.all(
      cases.flatMap(([plugin, content], i) => {
        const sub = join(dir, String(i));
        mkdirSync(sub);
        const file = writeConfig(sub, { plugins: [join("..", plugin)] });
        return [["check-config", "--load-plugins"], ["start"]].map(async (args) => {
          const result = await cli([...args, "--config", file]);
          expect(result.code, `${args[0]} ${plugin}`).toBe(1);
          expect(result.stderr).toContain(`plugin ${join("..", plugin)} cannot be loaded`);
          expect(result.stderr + result.stdout).not.toContain(content);
        });
      }),
    );
  });

  it("loads a plugin named by file, by file: URL, by directory (package.json) and by package name", async () => {
    const dir = workdir();
    const names = ["byFile", "byUrl", "byDir", "byName", "byScope", "byEsm"];
    const markers = names.map((n) => join(dir, `${n}-ran`));
    const [byFile, byUrl, byDir, byName, byScope, byEsm] = markers as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    // A file.
    writeFileSync(join(dir, "by-file.js"), pluginSource("byFile", byFile));
    // A file: URL whose path has a character URLs escape.
    mkdirSync(join(dir, "sp ace"));
    writeFileSync(join(dir, "sp ace", "by-url.js"), pluginSource("byUrl", byUrl));
    // A directory whose package.json names the module with conditional exports.
    mkdirSync(join(dir, "connectors", "by-dir", "lib"), { recursive: true });
    writeFileSync(
      join(dir, "connectors", "by-dir", "package.json"),
      JSON.stringify({
        name: "by-dir",
        type: "module",
        exports: { ".": { types: "./lib/entry.d.ts", import: "./lib/entry.js" } },
      }),
    );
    writeFileSync(join(dir, "connectors", "by-dir", "lib", "entry.js"), pluginSource("byDir", byDir));
    // Packages installed next to the config file.
    const pkg = join(dir, "node_modules", "acme-connector");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, "package.json"),
      JSON.stringify({ name: "acme-connector", type: "module", main: "./main.js" }),
    );
    writeFileSync(join(pkg, "main.js"), pluginSource("byName", byName));
    const scoped = join(dir, "node_modules", "@acme", "engage-bridge-connector-x");
    mkdirSync(scoped, { recursive: true });
    writeFileSync(
      join(scoped, "package.json"),
      JSON.stringify({ name: "@acme/engage-bridge-connector-x", type: "module", exports: "./index.js" }),
    );
    writeFileSync(join(scoped, "index.js"), pluginSource("byScope", byScope));
    // An ESM-only package: no `require` entry at all.
    const esm = join(dir, "node_modules", "@acme", "esm-only");
    mkdirSync(esm, { recursive: true });
    writeFileSync(
      join(esm, "package.json"),
      JSON.stringify({ name: "@acme/esm-only", type: "module", exports: { ".": { import: "./esm.js" } } }),
    );
    writeFileSync(join(esm, "esm.js"), pluginSource("byEsm", byEsm));

    const block = { endpoint: PLUGIN_ENDPOINT, apiToken: PLUGIN_TOKEN };
    const file = writeConfig(dir, {
      plugins: [
        "./by-file.js",
        pathToFileURL(join(dir, "sp ace", "by-url.js")).href,
        "./connectors/by-dir",
        "acme-connector",
        "@acme/engage-bridge-connector-x",
        "@acme/esm-only",
      ],
      connectors: Object.fromEntries(names.map((name) => [name, block])),
    });
    const checked = await cli(["check-config", "--load-plugins", "--config", file]);
    expect(checked.stderr).toBe("");
    expect(checked.code).toBe(0);
    for (const marker of markers) expect(existsSync(marker), marker).toBe(true);
    expect(checked.stdout).not.toContain(PLUGIN_TOKEN);
    for (const name of names) expect(checked.stdout).toContain(`${name}:`);
  });
});
