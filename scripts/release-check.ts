// `pnpm release:check`: checks every publishable package exactly as it would be published.
//
//   1. builds the publishable packages (turbo; `--skip-build` reuses dist/ as it is);
//   2. `pnpm pack`s each one (workspace: and catalog: ranges become real versions, as on publish);
//   3. lints each tarball with publint and @arethetypeswrong/cli (any message or problem fails);
//   4. checks the tarballs ship no source map and reference none, that core's tarball is under its
//      size budget and that core has no runtime dependency besides zod;
//   5. installs every tarball into a scratch project with plain npm, type-checks a small consumer of
//      @engage-bridge/core and @engage-bridge/core/web as ESM (nodenext), as CommonJS (nodenext and
//      node16) and with bundler resolution, then runs the ESM and CommonJS builds of that consumer:
//      they verify a signed sample and refuse a forged one;
//   6. loads every export of every package both with import() and with require();
//   7. copies each project under examples/ (Express, Fastify, Next.js, Hono, node:http) to the scratch
//      directory, points its @engage-bridge/core dependency at the packed tarball, `npm install`s it
//      (frameworks from the registry), type-checks it when it has a tsconfig.json, and runs `npm test`.
//
// Prints a summary; exits 1 when any check fails. `--keep` keeps the scratch directory;
// `--skip-examples` skips step 7.
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { workspaceManifests } from "./workspaces.ts";

const CORE = "@engage-bridge/core";
// ESM + CJS + types + README. Raised from 30 kB for the connector kit (contract v2's branded errors,
// one HTTP-answer vocabulary): ~32 kB; then to 35 kB for the results' console detail (targetStatus on
// results and errors, the applied consent, withConsent): ~34.3 kB. Grow it only with a reason written here.
const CORE_MAX_TARBALL_BYTES = 35_000;
const CORE_ALLOWED_DEPENDENCIES = ["zod"];

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const flags = new Set(process.argv.slice(2));
const started = performance.now();
const say = (line = "") => process.stdout.write(`${line}\n`);

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean } | undefined>;
  optionalDependencies?: Record<string, string>;
}
interface Workspace {
  dir: string;
  manifest: Manifest;
  tarball?: string;
}
interface Outcome {
  name: string;
  ok: boolean;
  detail: string;
  ms: number;
}
const outcomes: Outcome[] = [];

/** Runs one check; a thrown error fails it (its message is the detail), a returned string is the detail. */
async function check(
  name: string,
  fn: () => string | undefined | Promise<string | undefined>,
): Promise<boolean> {
  const t0 = performance.now();
  process.stdout.write(`• ${name} … `);
  let outcome: Outcome;
  try {
    const detail = (await fn()) ?? "";
    outcome = { name, ok: true, detail, ms: performance.now() - t0 };
    say(`ok${detail ? ` (${detail})` : ""} ${seconds(outcome.ms)}`);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    outcome = { name, ok: false, detail, ms: performance.now() - t0 };
    say(`FAILED ${seconds(outcome.ms)}`);
    say(indent(detail));
  }
  outcomes.push(outcome);
  return outcome.ok;
}

function skip(name: string, why: string): void {
  say(`• ${name} … skipped (${why})`);
  outcomes.push({ name, ok: false, detail: `skipped: ${why}`, ms: 0 });
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
    throw new Error(`\`${[command, ...args].join(" ")}\` exited with ${result.status}\n${tail(output, 60)}`);
  }
  return result.stdout;
}

/** `run`, without blocking: several npm installs go on at once. */
function runAsync(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("close", (status) => {
      if (status === 0) resolve(stdout);
      else
        reject(
          new Error(`\`${[command, ...args].join(" ")}\` exited with ${status}\n${tail(output.trim(), 60)}`),
        );
    });
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const indent = (text: string) => text.replace(/^/gm, "    ");
const tail = (text: string, lines: number) => text.split("\n").slice(-lines).join("\n");
const tarballName = (m: Manifest) => `${m.name.replace(/^@/, "").replace("/", "-")}-${m.version}.tgz`;
const listTarball = (file: string) => run("tar", ["-tzf", file], root).trim().split("\n");

function publishable(): Workspace[] {
  const found: Workspace[] = workspaceManifests<Manifest>(root, ["packages"]).filter(
    (w) => !w.manifest.private,
  );
  // core first: the others depend on it.
  return found.sort((a, b) => Number(b.manifest.name === CORE) - Number(a.manifest.name === CORE));
}

/** The subpaths a package exports that name a module (not package.json, not wildcard patterns). */
function moduleSubpaths(m: Manifest): string[] {
  return Object.keys(m.exports ?? { ".": "" }).filter((s) => !s.includes("*") && !s.endsWith(".json"));
}

// A consumer of @engage-bridge/core and @engage-bridge/core/web, written once and compiled as ESM
// and as CommonJS (so no top-level await). It prints what it verified, as JSON.
const CONSUMER = `import {
  createVerifier,
  parseEngageEvent,
  signWebhook,
  type EngageEvent,
  type VerifiedWebhook,
  WebhookVerificationError,
} from "@engage-bridge/core";
import {
  createWebVerifier,
  signWebhookAsync,
  WebhookVerificationError as WebVerificationError,
  type WebWebhookVerifier,
} from "@engage-bridge/core/web";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const body = JSON.stringify({ id: "e1", eventType: "loyalty.addPoints", payload: { contactId: "c1", amount: 5 } });
const timestamp = Math.floor(Date.now() / 1000);
const signature: string = signWebhook(secret, "msg_1", timestamp, body);
const headers = { "svix-id": "msg_1", "svix-timestamp": String(timestamp), "svix-signature": signature };

const verified: VerifiedWebhook = createVerifier({ secrets: [secret] }).verify(body, headers);
const event: EngageEvent = parseEngageEvent(body, { messageId: verified.id });
const amount = event.type === "loyalty.addPoints" ? event.data.amount : undefined;

function reasonOf(error: unknown): string {
  return error instanceof WebhookVerificationError ? error.reason : \`not a WebhookVerificationError: \${String(error)}\`;
}

let forged = "accepted";
try {
  createVerifier({ secrets: [secret] }).verify(\`\${body} \`, headers);
} catch (error) {
  forged = reasonOf(error);
}

async function main(): Promise<void> {
  const web: WebWebhookVerifier = createWebVerifier({ secrets: [secret] });
  const webVerified = await web.verify(new TextEncoder().encode(body), headers);
  const webSignature = await signWebhookAsync(secret, "msg_1", timestamp, body);
  let webForged = "accepted";
  let sameErrorClass = false;
  try {
    await web.verify(\`\${body} \`, headers);
  } catch (error) {
    webForged = reasonOf(error);
    sameErrorClass = error instanceof WebVerificationError && WebVerificationError === WebhookVerificationError;
  }
  console.log(
    JSON.stringify({
      id: verified.id,
      type: event.type,
      amount,
      forged,
      webId: webVerified.id,
      webForged,
      sameSignature: webSignature === signature,
      sameErrorClass,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;

/** Copies examples/<name> to the scratch directory with the packed core, installs it, runs its test. */
async function runExample(source: string, dir: string, coreTarball: string): Promise<string> {
  const t0 = performance.now();
  cpSync(source, dir, {
    recursive: true,
    filter: (src) => !["node_modules", "package-lock.json"].includes(basename(src)),
  });
  const manifestFile = join(dir, "package.json");
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
  if (!manifest.dependencies?.[CORE]) throw new Error(`package.json does not depend on ${CORE}`);
  manifest.dependencies[CORE] = `file:${coreTarball}`;
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
  await runAsync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], dir);
  if (lstatSync(join(dir, "node_modules", CORE)).isSymbolicLink()) {
    throw new Error(`${CORE} is a link, not the packed tarball`);
  }
  const typed = existsSync(join(dir, "tsconfig.json"));
  if (typed) await runAsync(bin("tsc"), ["-p", "tsconfig.json"], dir);
  const output = await runAsync("npm", ["test"], dir);
  const passed = Number(/^(?:ℹ|#) pass (\d+)$/m.exec(output)?.[1] ?? 0);
  if (passed === 0) throw new Error(`\`npm test\` ran no test\n${tail(output, 30)}`);
  return `${typed ? "type-checked, " : ""}${passed} tests passed, ${seconds(performance.now() - t0)} in the background`;
}

// ---------------------------------------------------------------------------------------------------

const packages = publishable();
const examplesDir = join(root, "examples");
const examples = readdirSync(examplesDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(examplesDir, d.name, "package.json")))
  .map((d) => d.name)
  .sort();
const exampleRuns = new Map<string, Promise<string>>();
const scratch = mkdtempSync(join(tmpdir(), "engage-release-check-"));
const tarballs = join(scratch, "tarballs");
mkdirSync(tarballs);
say(
  `release:check: ${packages.length} publishable packages: ${packages.map((p) => p.manifest.name).join(", ")}`,
);
say(`scratch: ${scratch}`);
say();

try {
  if (flags.has("--skip-build")) {
    skip("build", "--skip-build");
    outcomes.pop(); // not a failure: requested
  } else {
    await check("build (turbo)", () => {
      const filters = packages.map((p) => `--filter=${p.manifest.name}`);
      run(bin("turbo"), ["run", "build", "--output-logs=errors-only", ...filters], root);
      return undefined;
    });
  }

  for (const pkg of packages) {
    const { name } = pkg.manifest;
    await check(`${name}: pack`, () => {
      run("pnpm", ["pack", "--pack-destination", tarballs], pkg.dir);
      const file = join(tarballs, tarballName(pkg.manifest));
      if (!existsSync(file)) throw new Error(`pnpm pack wrote no ${tarballName(pkg.manifest)}`);
      pkg.tarball = file;
      return `${(statSync(file).size / 1000).toFixed(1)} kB, ${listTarball(file).length} files`;
    });
  }

  // The examples need only core's tarball: all of them are installed and tested from now on, in the
  // background and at once (npm's cache is safe to share; their tests listen on port 0), while the
  // checks below run. Their checks, at the end, await them in order.
  const coreTarball = packages.find((p) => p.manifest.name === CORE)?.tarball;
  if (coreTarball && !flags.has("--skip-examples")) {
    mkdirSync(join(scratch, "examples"));
    for (const name of examples) {
      const result = runExample(join(examplesDir, name), join(scratch, "examples", name), coreTarball);
      result.catch(() => {}); // reported by its check
      exampleRuns.set(name, result);
    }
  }

  for (const pkg of packages) {
    const { name } = pkg.manifest;
    const tarball = pkg.tarball;
    if (!tarball) {
      skip(`${name}: publint, attw, source maps`, "not packed");
      continue;
    }
    await check(`${name}: publint`, async () => {
      const bytes = readFileSync(tarball);
      const { messages, pkg: packed } = await publint({
        pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
        level: "suggestion",
        strict: true,
      });
      if (messages.length > 0) {
        throw new Error(messages.map((m) => `${m.type}: ${formatMessage(m, packed) ?? m.code}`).join("\n"));
      }
      return "no message";
    });
    await check(`${name}: attw`, () => {
      const attwEnv = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" };
      const result = spawnSync(bin("attw"), [tarball, "--format", "json"], {
        cwd: root,
        encoding: "utf8",
        env: attwEnv,
      });
      let problems: unknown[] = [];
      try {
        const json = JSON.parse(result.stdout) as { analysis?: { problems?: unknown[] } };
        problems = json.analysis?.problems ?? [];
      } catch {
        throw new Error(
          `attw printed no JSON (exit ${result.status})\n${tail(result.stderr || result.stdout, 30)}`,
        );
      }
      if (problems.length > 0 || result.status !== 0) {
        const table = spawnSync(bin("attw"), [tarball, "--format", "table-flipped"], {
          cwd: root,
          encoding: "utf8",
        });
        throw new Error(`${problems.length} problem(s)\n${table.stdout}${table.stderr}`);
      }
      return "no problem: node10, node16 (CJS), node16 (ESM), bundler";
    });
    await check(`${name}: no source maps`, () => {
      const files = listTarball(tarball);
      const maps = files.filter((f) => f.endsWith(".map"));
      if (maps.length > 0) throw new Error(`ships ${maps.join(", ")}`);
      const out = join(scratch, "unpacked", name);
      mkdirSync(out, { recursive: true });
      run("tar", ["-xzf", tarball, "-C", out], root);
      const referencing = files
        .filter((f) => /\.(c|m)?js$|\.d\.(c|m)?ts$/.test(f))
        .filter((f) => readFileSync(join(out, f), "utf8").includes("sourceMappingURL"));
      if (referencing.length > 0) throw new Error(`references a source map: ${referencing.join(", ")}`);
      return undefined;
    });
  }

  const core = packages.find((p) => p.manifest.name === CORE);
  if (core?.tarball) {
    const coreTarball = core.tarball;
    await check(`${CORE}: tarball under ${CORE_MAX_TARBALL_BYTES / 1000} kB`, () => {
      const size = statSync(coreTarball).size;
      const text = `${size} bytes`;
      if (size >= CORE_MAX_TARBALL_BYTES) throw new Error(`${text}, budget ${CORE_MAX_TARBALL_BYTES}`);
      return text;
    });
    await check(`${CORE}: runtime dependencies only ${CORE_ALLOWED_DEPENDENCIES.join(", ")}`, () => {
      const packed = JSON.parse(run("tar", ["-xzOf", coreTarball, "package/package.json"], root)) as Manifest;
      const names = [
        ...Object.keys(packed.dependencies ?? {}),
        ...Object.keys(packed.peerDependencies ?? {}),
        ...Object.keys(packed.optionalDependencies ?? {}),
      ];
      const extra = names.filter((n) => !CORE_ALLOWED_DEPENDENCIES.includes(n));
      if (extra.length > 0) throw new Error(`also depends on ${extra.join(", ")}`);
      return names.map((n) => `${n}@${packed.dependencies?.[n] ?? packed.peerDependencies?.[n]}`).join(", ");
    });
  } else {
    skip(`${CORE}: size budget and dependencies`, "not packed");
  }

  // --- the scratch consumer --------------------------------------------------------------------------
  const app = join(scratch, "app");
  const packed = packages.filter((p) => p.tarball);
  let installed = false;
  if (packed.length === packages.length) {
    installed = await check("npm install of every tarball into a scratch project", () => {
      mkdirSync(app);
      writeFileSync(join(app, "package.json"), JSON.stringify({ name: "release-check-app", private: true }));
      const typesNode = JSON.parse(readFileSync(join(root, "node_modules/@types/node/package.json"), "utf8"));
      run(
        "npm",
        [
          "install",
          "--no-audit",
          "--no-fund",
          "--prefer-offline",
          "--loglevel=error",
          ...packed.map((p) => p.tarball as string),
          `@types/node@${typesNode.version}`,
        ],
        app,
      );
      // The connectors must use the packed core, not a second copy (from the registry or elsewhere).
      for (const p of packed) {
        const nested = join(app, "node_modules", p.manifest.name, "node_modules", CORE);
        if (existsSync(nested)) throw new Error(`${p.manifest.name} got its own ${CORE}`);
      }
      return `${packed.length} tarballs + @types/node@${typesNode.version}`;
    });
  } else {
    skip("npm install of every tarball into a scratch project", "some package was not packed");
  }

  const expected = {
    id: "msg_1",
    type: "loyalty.addPoints",
    amount: 5,
    forged: "no_matching_signature",
    webId: "msg_1",
    webForged: "no_matching_signature",
    sameSignature: true,
    sameErrorClass: true,
  };
  const variants = [
    { dir: "esm-nodenext", type: "module", module: "nodenext", moduleResolution: "nodenext", run: true },
    { dir: "cjs-nodenext", type: "commonjs", module: "nodenext", moduleResolution: "nodenext", run: true },
    { dir: "cjs-node16", type: "commonjs", module: "node16", moduleResolution: "node16", run: true },
    { dir: "esm-bundler", type: "module", module: "preserve", moduleResolution: "bundler", run: false },
  ] as const;
  for (const variant of variants) {
    const label = `consumer (${variant.type === "module" ? "ESM" : "CommonJS"}, module ${variant.module}, moduleResolution ${variant.moduleResolution})`;
    if (!installed) {
      skip(label, "not installed");
      continue;
    }
    await check(`${label}: type-check`, () => {
      const dir = join(app, variant.dir);
      mkdirSync(dir);
      writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, type: variant.type }));
      writeFileSync(join(dir, "consumer.ts"), CONSUMER);
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify(
          {
            compilerOptions: {
              module: variant.module,
              moduleResolution: variant.moduleResolution,
              target: "es2022",
              lib: ["es2024"],
              types: ["node"],
              strict: true,
              skipLibCheck: false,
              rootDir: ".",
              outDir: "out",
              noEmit: !variant.run,
            },
            files: ["consumer.ts"],
          },
          null,
          2,
        ),
      );
      run(bin("tsc"), ["-p", "tsconfig.json"], dir);
      if (variant.run) {
        const emitted = readFileSync(join(dir, "out", "consumer.js"), "utf8");
        const wanted =
          variant.type === "module" ? /from "@engage-bridge\/core"/ : /require\("@engage-bridge\/core"\)/;
        if (!wanted.test(emitted))
          throw new Error(`the emitted consumer does not load core as ${variant.type}`);
      }
      return "skipLibCheck: false";
    });
    if (variant.run) {
      await check(`${label}: run`, () => {
        const out = run(process.execPath, [join("out", "consumer.js")], join(app, variant.dir));
        const actual = JSON.parse(out.trim());
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          throw new Error(`printed ${JSON.stringify(actual)}\nexpected ${JSON.stringify(expected)}`);
        }
        return "signed sample verified, forged one refused";
      });
    }
  }

  if (installed) {
    await check("every export of every package loads with import() and require()", () => {
      const specifiers = packages.flatMap((p) =>
        moduleSubpaths(p.manifest).map((s) =>
          s === "." ? p.manifest.name : `${p.manifest.name}${s.slice(1)}`,
        ),
      );
      // An entry point may need a peer its package declares optional (testkit's ./conformance needs
      // vitest): not installed here, so such an entry may fail for that peer only, and is reported.
      const optionalPeers = packages.flatMap((p) =>
        Object.entries(p.manifest.peerDependenciesMeta ?? {})
          .filter(([, meta]) => meta?.optional)
          .map(([name]) => name),
      );
      writeFileSync(
        join(app, "load.mjs"),
        `import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const specifiers = ${JSON.stringify(specifiers)};
const optionalPeers = ${JSON.stringify(optionalPeers)};
const missingPeer = (error) =>
  /MODULE_NOT_FOUND/.test(error?.code ?? "") &&
  optionalPeers.find((peer) => String(error.message).includes("'" + peer + "'"));
const result = {};
for (const s of specifiers) {
  let esm, cjs;
  try {
    esm = await import(s);
    cjs = require(s);
  } catch (error) {
    const peer = missingPeer(error);
    if (!peer) throw error;
    result[s] = "needs optional peer " + peer;
    continue;
  }
  result[s] = [Object.keys(esm).length, Object.keys(cjs).length];
  if (result[s][0] === 0 || result[s][1] === 0) throw new Error(s + " exports nothing: " + result[s]);
}
console.log(JSON.stringify(result));
`,
      );
      const loaded = JSON.parse(run(process.execPath, ["load.mjs"], app)) as Record<string, unknown>;
      const needPeers = Object.entries(loaded).filter(([, v]) => typeof v === "string");
      return `${Object.keys(loaded).length - needPeers.length} entry points${
        needPeers.length > 0 ? `; ${needPeers.map(([s, v]) => `${s} ${v}`).join(", ")}` : ""
      }`;
    });
  } else {
    skip("every export of every package loads with import() and require()", "not installed");
  }

  // --- the examples (started in the background once core was packed) ------------------------------
  for (const name of examples) {
    const label = `example ${name}: npm install with the packed core, npm test`;
    const result = exampleRuns.get(name);
    if (flags.has("--skip-examples")) {
      skip(label, "--skip-examples");
      outcomes.pop(); // not a failure: requested
    } else if (!result) skip(label, `${CORE} not packed`);
    else await check(label, () => result);
  }
} finally {
  await Promise.allSettled(exampleRuns.values()); // none still writes to the scratch directory
  if (flags.has("--keep")) say(`\nkept ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}

const failed = outcomes.filter((o) => !o.ok);
say();
say("release:check summary");
for (const o of outcomes) {
  say(`  ${o.ok ? "ok  " : "FAIL"}  ${o.name}${o.ok && o.detail ? ` — ${o.detail}` : ""}`);
}
say();
say(
  `${outcomes.length - failed.length}/${outcomes.length} checks passed in ${seconds(performance.now() - started)}` +
    (failed.length > 0 ? `; ${failed.length} failed` : ""),
);
process.exitCode = failed.length > 0 ? 1 : 0;
