// `pnpm gen:connector <name>`: scaffolds packages/connector-<name>, a connector package in the shape
// every connector has (package.json, tsconfig, tsdown build, README with the config table, config.ts,
// connector.ts, a fake of the target beside it, tests on the shared conformance suite that pass
// untouched), and registers it: one line in apps/gateway/src/connectors/builtin.ts, plus the
// workspace dependency in apps/gateway/package.json. Then `pnpm install` links it.
//
//   pnpm gen:connector acme-crm          # → packages/connector-acme-crm, connector name "acmeCrm"
//   pnpm gen:connector acme-crm --no-register   # a package only (e.g. to publish as a plugin)
//
// A plain script rather than turbo gen/plop: it takes no prompts (CI runs it), and needs no extra
// dependency. It refuses to overwrite anything.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith("--"));
const register = !args.includes("--no-register");
const fail = (message: string): never => {
  process.stderr.write(`gen:connector: ${message}\n`);
  process.exit(1);
};

if (!name || !/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) {
  fail("usage: pnpm gen:connector <name>   (lower-case letters, digits and dashes, e.g. acme-crm)");
}
const kebab = name as string;
/** The connector's name in config and deliveries: camelCase of the package name. */
const camel = kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const pascal = camel[0]?.toUpperCase() + camel.slice(1);
const title = kebab
  .split("-")
  .map((w) => w[0]?.toUpperCase() + w.slice(1))
  .join(" ");
const pkgName = `@engage-bridge/connector-${kebab}`;
const dir = join(root, "packages", `connector-${kebab}`);
if (existsSync(dir)) fail(`${relative(root, dir)} already exists`);

const read = (file: string) => readFileSync(join(root, file), "utf8");
const version = (JSON.parse(read("packages/core/package.json")) as { version: string }).version;

const packageJson = {
  name: pkgName,
  version: "0.1.0",
  description: `engage-bridge connector for ${title}.`,
  keywords: ["voyado", "engage", "engage-bridge", "engage-bridge-connector"],
  license: "MIT",
  type: "module",
  engines: { node: ">=22.13" },
  sideEffects: false,
  exports: {
    ".": {
      import: { types: "./dist/types/index.d.ts", default: "./dist/index.js" },
      require: { types: "./dist/types/index.d.cts", default: "./dist/index.cjs" },
    },
    "./testing": {
      import: { types: "./dist/types/testing.d.ts", default: "./dist/testing.js" },
      require: { types: "./dist/types/testing.d.cts", default: "./dist/testing.cjs" },
    },
    "./package.json": "./package.json",
  },
  main: "./dist/index.cjs",
  types: "./dist/types/index.d.cts",
  typesVersions: { "*": { testing: ["./dist/types/testing.d.cts"] } },
  files: [
    "dist/**/*.js",
    "dist/**/*.cjs",
    "dist/**/*.d.ts",
    "dist/**/*.d.cts",
    "!dist/**/*.test.*",
    "README.md",
    "LICENSE",
  ],
  scripts: {
    build: "tsdown",
    typecheck: "tsc -p tsconfig.json --noEmit",
    lint: "biome check .",
    test: "vitest run",
  },
  dependencies: { zod: "catalog:" },
  peerDependencies: { "@engage-bridge/core": "workspace:^", "@engage-bridge/testkit": "workspace:^" },
  // ./testing (the sandbox's fake) only: a service using the connector does not need testkit.
  peerDependenciesMeta: { "@engage-bridge/testkit": { optional: true } },
  devDependencies: {
    "@biomejs/biome": "catalog:",
    "@engage-bridge/core": "workspace:^",
    "@engage-bridge/testkit": "workspace:^",
    "@types/node": "catalog:",
    tsdown: "catalog:",
    typescript: "catalog:",
    vitest: "catalog:",
  },
};

const files: Record<string, string> = {
  "package.json": `${JSON.stringify(packageJson, null, 2)}\n`,
  "tsconfig.json": `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist" },
  "include": ["src"]
}
`,
  "tsconfig.build.json": `{
  "extends": "./tsconfig.json",
  "compilerOptions": {
    "sourceMap": false,
    "declarationMap": false
  },
  "exclude": ["src/**/*.test.ts"]
}
`,
  "tsdown.config.ts": `import { defineConfig } from "tsdown";
import { packageBuild } from "../../tsdown.base.ts";

// The connector is both a named and the default export: in CommonJS the default is \`exports.default\`.
export default defineConfig(
  packageBuild(["src/index.ts", "src/testing.ts"], { outputOptions: { exports: "named" } }),
);
`,
  "src/config.ts": `import { secret } from "@engage-bridge/core";
import { z } from "zod";

/** The block under \`connectors.${camel}\` (the gateway adds \`enabled\`, \`filter\` and \`rateLimit\`). */
export const ${camel}ConfigSchema = z
  .strictObject({
    baseUrl: z.url().describe("Base URL of the ${title} API, e.g. https://api.example.com."),
    apiKey: secret(z.string().min(1)).describe("API key, sent as \`Authorization: Bearer\`. Masked when config is printed."),
  })
  .describe("${title}: Engage email preference changes become consent updates in ${title}.");

export type ${pascal}Config = z.output<typeof ${camel}ConfigSchema>;
`,
  "src/connector.ts": `import {
  currentPreference,
  type DeliveryResult,
  defineConnector,
  delivered,
  httpVerdict,
  maskEmails,
  skipped,
  throwForVerdict,
} from "@engage-bridge/core";
import { type ${pascal}Config, ${camel}ConfigSchema } from "./config.ts";

/** What \`init\` builds once per configured instance; every \`deliver\` gets it as \`ctx.state\`. */
export interface ${pascal}State {
  readonly endpoint: string;
  readonly headers: Record<string, string>;
}

/**
 * ${title}: sends the current email preference of each contact to \`POST {baseUrl}/v1/consents\`
 * as \`{ "consents": [{ "contactId", "email", "subscribed" }] }\`. Replace the request with your
 * target's API; keep the rules: one result per item, in order; errors from core's vocabulary.
 */
export const ${camel} = defineConnector({
  name: "${camel}",
  configSchema: ${camel}ConfigSchema,
  handles: ["contact.acceptsEmail.changed"],
  maxBatchSize: 100,
  rateLimit: { requests: 10, perSeconds: 1 },
  // One current value per contact: only the newest preference change matters.
  convergentConsent: true,

  async init(config: ${pascal}Config): Promise<${pascal}State> {
    return {
      endpoint: new URL("v1/consents", config.baseUrl.endsWith("/") ? config.baseUrl : \`\${config.baseUrl}/\`).href,
      headers: { authorization: \`Bearer \${config.apiKey}\`, "content-type": "application/json" },
    };
  },

  async deliver(items, ctx) {
    const results: DeliveryResult[] = [];
    const consents: { contactId: string; email: string | undefined; subscribed: boolean }[] = [];
    for (const item of items) {
      const { value, contact } = await currentPreference(item, ctx);
      if (value === undefined) {
        results.push(skipped("no preference value (payload) and no Engage API lookup"));
        continue;
      }
      consents.push({ contactId: item.event.contactId, email: contact?.email, subscribed: value });
      results.push(delivered());
    }
    if (consents.length === 0) return results;
    const response = await fetch(ctx.state.endpoint, {
      method: "POST",
      headers: ctx.state.headers,
      body: JSON.stringify({ consents }),
      signal: ctx.signal,
    });
    const text = await response.text();
    // 429 → rate-limited retry after Retry-After; 5xx → retry; 401/403/410 → dead and unhealthy;
    // other 4xx → dead. Reasons are shown to operators: no addresses in them.
    throwForVerdict(
      httpVerdict(response.status, response.headers),
      maskEmails(\`${title} answered \${response.status}: \${text.slice(0, 200)}\`),
      ctx.health,
    );
    ctx.health.healthy();
    return results;
  },
});

export default ${camel};
`,
  "src/fake.ts": `import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local fake of ${title}'s consent endpoint for tests and the sandbox: \`POST /v1/consents\` with a
 * Bearer key, answering 204, or the faults queued with \`fail\` (429 with \`Retry-After\`, 503, 401)
 * without applying anything. Model every route on the vendor's documentation or OpenAPI file and
 * cite it here, as the other fakes in @engage-bridge/testkit do.
 */
export interface Fake${pascal} {
  url: string;
  apiKey: string;
  /** Consent per contact id, as last applied. */
  consents: Map<string, boolean>;
  requests: number;
  fail(fault: { status: number; headers?: Record<string, string> }, times?: number): void;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
}

export async function startFake${pascal}(options: { apiKey?: string } = {}): Promise<Fake${pascal}> {
  const apiKey = options.apiKey ?? "fake-${kebab}-key";
  const faults: { status: number; headers?: Record<string, string> }[] = [];
  const fake: Fake${pascal} = {
    url: "",
    apiKey,
    consents: new Map(),
    requests: 0,
    fail(fault, times = 1) {
      for (let i = 0; i < times; i++) faults.push(fault);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer(async (req, res) => {
    fake.requests += 1;
    const payload = (await body(req).catch(() => undefined)) as
      | { consents?: { contactId: string; subscribed: boolean }[] }
      | undefined;
    const fault = faults.shift();
    if (fault) {
      res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers });
      res.end(JSON.stringify({ error: \`fault \${fault.status}\` }));
      return;
    }
    if (req.method !== "POST" || req.url !== "/v1/consents") {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== \`Bearer \${apiKey}\`) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "unauthorized" }));
      return;
    }
    if (!Array.isArray(payload?.consents)) {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "consents required" }));
      return;
    }
    for (const c of payload.consents) fake.consents.set(c.contactId, c.subscribed);
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = \`http://127.0.0.1:\${(server.address() as AddressInfo).port}\`;
  return fake;
}
`,
  "src/testing.ts": `import type { ConnectorSandbox } from "@engage-bridge/testkit";
import { startFake${pascal} } from "./fake.ts";

/** For tests: the fake target. */
export { type Fake${pascal}, startFake${pascal} } from "./fake.ts";

/** Sandbox mode (\`engage-bridge start\` without a config): the fake, and the block pointing at it. */
export const sandbox: ConnectorSandbox = async () => {
  const fake = await startFake${pascal}();
  return {
    config: { baseUrl: fake.url, apiKey: fake.apiKey },
    url: fake.url,
    state: () => ({ consents: Object.fromEntries(fake.consents) }),
    close: () => fake.close(),
  };
};
`,
  "src/index.ts": `export { type ${pascal}State, ${camel}, ${camel} as default } from "./connector.ts";
export { type ${pascal}Config, ${camel}ConfigSchema } from "./config.ts";
`,
  "src/connector.test.ts": `import { parseEngageEvent } from "@engage-bridge/core";
import { sampleEvent } from "@engage-bridge/testkit";
import { describeConnector } from "@engage-bridge/testkit/conformance";
import { afterEach, describe, expect, it } from "vitest";
import ${camel} from "./connector.ts";
import { type Fake${pascal}, startFake${pascal} } from "./fake.ts";

// What every connector must do (results, 429, 5xx, 401, aborts): the shared suite.
describeConnector(${camel}, {
  async target() {
    const fake = await startFake${pascal}();
    return {
      config: { baseUrl: fake.url, apiKey: fake.apiKey },
      fail(fault, times) {
        if (fault.kind === "rate-limited")
          fake.fail({ status: 429, headers: { "retry-after": String(fault.retryAfterSeconds) } }, times);
        else fake.fail({ status: fault.kind === "unauthorized" ? 401 : 503 }, times);
      },
      close: () => fake.close(),
    };
  },
});

// What is specific to ${title}: the request it sends.
describe("${camel}", () => {
  const fakes: Fake${pascal}[] = [];
  afterEach(async () => {
    for (const f of fakes.splice(0)) await f.close();
  });

  it("sends each contact's email preference from the payload when no Engage API is configured", async () => {
    const fake = await startFake${pascal}();
    fakes.push(fake);
    const config = ${camel}.configSchema.parse({ baseUrl: fake.url, apiKey: fake.apiKey });
    const base = {
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      health: { healthy() {}, unhealthy() {} },
      signal: AbortSignal.timeout(10_000),
      lookupContact: undefined,
    };
    // As the gateway does: init once per instance, its state handed to every deliver.
    const state = await ${camel}.init?.(config, base);
    if (!state) throw new Error("init returned no state");
    const event = parseEngageEvent(
      sampleEvent("contact.acceptsEmail.changed", { contactId: "c-42", payload: { value: false } }),
      { messageId: "msg-1" },
    );
    const item = { deliveryId: "d-1", event, attempt: 1, receivedAt: new Date() };
    const results = await ${camel}.deliver([item] as never, { ...base, config, state });
    expect(results).toEqual([{ status: "delivered" }]);
    expect(fake.consents.get("c-42")).toBe(false);
  });
});
`,
  "README.md": `# ${pkgName}

engage-bridge connector for **${title}**: Engage email preference changes become consent updates in
${title}. Generated by \`pnpm gen:connector ${kebab}\`; replace the request in \`src/connector.ts\` and
the fake in \`src/fake.ts\` with your target's API (see docs/adding-a-connector.md).

## Configuration

\`\`\`yaml
connectors:
  ${camel}:
    baseUrl: https://api.example.com
    apiKey: "\${${kebab.toUpperCase().replaceAll("-", "_")}_API_KEY}"
\`\`\`

| key | default | description |
|---|---|---|
| \`baseUrl\` | (required) | Base URL of the ${title} API. |
| \`apiKey\` | (required) | API key, sent as \`Authorization: Bearer\`; secret (masked when printed). |

Every connector also takes \`enabled\`, \`filter\` and \`rateLimit\` (default here: 10 requests per second).

## Behaviour

- Handles \`contact.acceptsEmail.changed\`; applies Engage's current value when the source has an
  Engage API lookup, else the payload's (\`convergentConsent\`: an older change never overwrites a newer one).
- Batches of up to 100 events in one \`POST /v1/consents\`.
- Answers: 2xx delivered; 429 → retried after \`Retry-After\`, and the connector slows down; 5xx → retried;
  401/403/410 → dead and the connector unhealthy; other 4xx → dead.

## Testing

\`pnpm test\` runs the shared conformance suite (\`@engage-bridge/testkit/conformance\`) against the fake
in \`src/fake.ts\`, and the tests specific to this target.
`,
};

for (const [file, content] of Object.entries(files)) {
  const path = join(dir, file);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
}
copyFileSync(join(root, "LICENSE"), join(dir, "LICENSE"));
const touched = [relative(root, dir)];

if (register) {
  // The one registration line in the gateway's list of built-in connector packages.
  const builtinFile = "apps/gateway/src/connectors/builtin.ts";
  let builtin = read(builtinFile);
  const list = /export const BUILTIN_PACKAGES = \[\n([\s\S]*?)\] as const;/;
  if (!list.test(builtin)) fail(`cannot find BUILTIN_PACKAGES in ${builtinFile}`);
  builtin = builtin.replace(list, (whole, entries: string) =>
    whole.replace(entries, `${entries}  "${pkgName}",\n`),
  );
  writeFileSync(join(root, builtinFile), builtin);
  // The workspace dependency.
  const gatewayPackage = "apps/gateway/package.json";
  const manifest = JSON.parse(read(gatewayPackage)) as { dependencies: Record<string, string> };
  manifest.dependencies[pkgName] = "workspace:^";
  manifest.dependencies = Object.fromEntries(
    Object.entries(manifest.dependencies).sort(([a], [b]) => a.localeCompare(b)),
  );
  writeFileSync(join(root, gatewayPackage), `${JSON.stringify(manifest, null, 2)}\n`);
  touched.push(builtinFile, gatewayPackage);
}

// Format what was written the way the repository's linter wants it (import order included).
const biome = join(root, "node_modules", ".bin", "biome");
if (existsSync(biome)) spawnSync(biome, ["check", "--write", ...touched], { cwd: root, stdio: "ignore" });

process.stdout.write(
  `gen:connector: created ${relative(root, dir)} (${pkgName}, connector "${camel}", core ${version})\n` +
    (register ? `  registered in apps/gateway/src/connectors/builtin.ts\n` : "") +
    "  next: pnpm install, then pnpm --filter " +
    `${pkgName} test\n`,
);
