// Checks that the deployment files agree with the gateway they deploy:
//   Dockerfile, .dockerignore, deploy/compose.yaml, deploy/compose.sqlite.yaml (and the config files
//   they mount, deploy/env.example), deploy/helm/engage-bridge/, deploy/systemd/engage-bridge.service.
//
//   node --test 'scripts/deploy/*.test.ts'     (or: node --test scripts/deploy/deploy-files.test.ts)
//
// (`node --test scripts/deploy/` does not work on Node 24: a directory argument is taken as a file.)
// App facts come from the app itself where it can say them: the default port from the config schema
// (parseConfig of a minimal config), configs are validated with the app's own parseConfig and built-in
// connectors, the bin path and version from apps/gateway/package.json, the pnpm version from the root
// package.json. What only the contract says is written down once below (HARD-CODED, with its source).
// `helm lint` and `helm template` run only where `helm` is on PATH (skipped with the reason otherwise).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join, posix, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, parseConfig } from "../../apps/gateway/src/config/load.ts";
import type { GatewayConfig } from "../../apps/gateway/src/config/schema.ts";
import { builtinRegistry } from "../../apps/gateway/src/connectors/builtin.ts";
import { SERVER_NODE_FLAGS } from "../../apps/gateway/src/heap-tuning.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

// YAML is parsed with the gateway's own `yaml` dependency (the parser its config loader uses); the
// root package has no `yaml` of its own.
interface YamlDocument {
  toJS(): unknown;
  errors: readonly { message: string }[];
}
const yaml = createRequire(join(ROOT, "apps/gateway/package.json"))("yaml") as {
  parse(text: string, options?: { merge?: boolean; uniqueKeys?: boolean }): unknown;
  parseAllDocuments(text: string): YamlDocument[] | YamlDocument;
};
function parseYaml(file: string, text = read(file)): unknown {
  try {
    // Merge keys (`<<: *gateway`) as Docker Compose reads them.
    return yaml.parse(text, { merge: true, uniqueKeys: true });
  } catch (error) {
    assert.fail(`${file}: not valid YAML: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Facts of the app.

type Json = Record<string, unknown>;
const gatewayManifest = JSON.parse(read("apps/gateway/package.json")) as {
  version: string;
  license: string;
  bin: Record<string, string>;
};
const rootManifest = JSON.parse(read("package.json")) as { packageManager: string; scripts: Json };

/** The CLI's path inside the gateway package (and so inside the deploy folder): `bin/engage-bridge.js`. */
const BIN = posix.normalize(gatewayManifest.bin["engage-bridge"] ?? "");
/** HARD-CODED (fact of `pnpm build:deploy`): the folder it writes, relative to the repository root. */
const DEPLOY_FOLDER = "dist/gateway";
/** HARD-CODED (contract: HTTP): the liveness and readiness paths. */
const HEALTHZ = "/healthz";
const READYZ = "/readyz";
/** HARD-CODED (contract: CLI `start --role`, apps/gateway/src/cli.ts choices). */
const ROLES = ["all", "ingest", "worker"];
/** HARD-CODED (contract: SIGTERM): the gateway exits within this many seconds of SIGTERM. */
const DRAIN_SECONDS = 10;

const registry = builtinRegistry();

/** Validates config text with the app's loader; fails naming the file and every problem. */
function validate(label: string, text: string, env: Record<string, string>): GatewayConfig {
  try {
    return parseConfig(text, label, { registry, env });
  } catch (error) {
    if (error instanceof ConfigError)
      assert.fail(`${label} does not validate with the app's parseConfig: ${error.message}`);
    throw error;
  }
}

/** The default port, as the app's config schema gives it (no server.port, no PORT). */
const APP_DEFAULT_PORT = validate(
  "(a minimal config)",
  'sources: { s: { signingSecrets: ["whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="] } }',
  {},
).server.port;

/** Every `${NAME}` (not `${file:…}`) in the strings of a parsed config. */
function envRefs(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value === "string") {
    for (const [, ref] of value.matchAll(/\$\{([^}]*)\}/g)) {
      const name = (ref ?? "").trim();
      if (!name.startsWith("file:")) into.add(name);
    }
  } else if (Array.isArray(value)) for (const v of value) envRefs(v, into);
  else if (value !== null && typeof value === "object")
    for (const v of Object.values(value)) envRefs(v, into);
  return into;
}

/** Every variable Docker Compose interpolates in the parsed strings of a compose file: ${NAME…}. */
function composeRefs(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value === "string") {
    for (const [, name] of value.replaceAll("$$", "").matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g))
      into.add(name ?? "");
  } else if (Array.isArray(value)) for (const v of value) composeRefs(v, into);
  else if (value !== null && typeof value === "object")
    for (const v of Object.values(value)) composeRefs(v, into);
  return into;
}

const isRecord = (value: unknown): value is Json =>
  value !== null && typeof value === "object" && !Array.isArray(value);

function asRecord(value: unknown, what: string): Json {
  assert.ok(isRecord(value), `${what}: expected a mapping, got ${JSON.stringify(value)}`);
  return value;
}

/** `--flag value` of an argument list. */
function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The port a health-check command probes: `process.env.PORT||N` (PORT from env, else N) or a literal. */
function healthcheckPort(command: string, env: Record<string, string | undefined>): number | undefined {
  const fallback = /process\.env\.PORT\s*(?:\|\||\?\?)\s*(\d+)/.exec(command);
  if (fallback) return Number(env.PORT ?? fallback[1]);
  const literal = /127\.0\.0\.1:(\d+)\//.exec(command) ?? /localhost:(\d+)\//.exec(command);
  return literal ? Number(literal[1]) : undefined;
}

/** Seconds of a duration written like `15s`, `1m30s`, `15` (Compose) or `15`, `15s`, `1min 30s` (systemd). */
function seconds(text: string): number {
  const units: Record<string, number> = { "": 1, ms: 0.001, s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600 };
  let total = 0;
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)\s*([a-z]*)/g)];
  assert.ok(parts.length > 0, `cannot read the duration ${JSON.stringify(text)}`);
  for (const [, n, unit] of parts) {
    const factor = units[unit ?? ""];
    assert.ok(factor !== undefined, `unknown unit ${unit} in the duration ${JSON.stringify(text)}`);
    total += Number(n) * factor;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------
// deploy/env.example: the one list of environment variables of the compose (and systemd) configs.

const ENV_EXAMPLE = "deploy/env.example";
function readEnvExample(): Map<string, string> {
  const env = new Map<string, string>();
  read(ENV_EXAMPLE)
    .split("\n")
    .forEach((line, index) => {
      if (line.trim() === "" || line.trimStart().startsWith("#")) return;
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      assert.ok(match, `${ENV_EXAMPLE}:${index + 1}: expected NAME=value, got ${JSON.stringify(line)}`);
      const [, name = "", value = ""] = match;
      // systemd's EnvironmentFile keeps a trailing comment as part of the value.
      assert.ok(
        !/\s#/.test(value),
        `${ENV_EXAMPLE}:${index + 1}: ${name} has a trailing comment; put comments on their own line`,
      );
      assert.ok(!env.has(name), `${ENV_EXAMPLE}:${index + 1}: ${name} is listed twice`);
      env.set(name, value);
    });
  return env;
}
const envExample = readEnvExample();
const exampleEnv = Object.fromEntries(envExample);

// ---------------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  name: string | undefined;
  from: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { globalArgs: Map<string, string>; stages: Stage[] } {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1;
    let line = lines[i] ?? "";
    if (/^\s*(#|$)/.test(line)) continue;
    // Continuation lines; comment lines inside a continued instruction are dropped, as Docker does.
    while (line.trimEnd().endsWith("\\") && i + 1 < lines.length) {
      line = line.trimEnd().slice(0, -1);
      i++;
      const next = lines[i] ?? "";
      if (!/^\s*#/.test(next)) line += ` ${next.trim()}`;
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    assert.ok(match, `Dockerfile:${first}: cannot read the instruction ${JSON.stringify(line)}`);
    const keyword = (match[1] ?? "").toUpperCase();
    const args = (match[2] ?? "").trim();
    if (keyword === "FROM") {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(from, `Dockerfile:${first}: cannot read FROM ${args}`);
      stages.push({ name: from[2], from: from[1] ?? "", instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(keyword, "ARG", `Dockerfile:${first}: only ARG may come before the first FROM`);
      const [name = "", value = ""] = args.split("=");
      globalArgs.set(name, value.replace(/^"|"$/g, ""));
    } else stages.at(-1)?.instructions.push({ keyword, args, line: first });
  }
  return { globalArgs, stages };
}

/** The JSON (exec) form of CMD / ENTRYPOINT / HEALTHCHECK CMD; fails on the shell form. */
function execForm(args: string, what: string): string[] {
  try {
    const parsed: unknown = JSON.parse(args);
    assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === "string"));
    return parsed as string[];
  } catch {
    assert.fail(`Dockerfile: ${what} must use the exec (JSON array) form, got ${args}`);
  }
}

const dockerfile = parseDockerfile(read("Dockerfile"));
const runtime = dockerfile.stages.at(-1);
const inRuntime = (keyword: string) => runtime?.instructions.filter((i) => i.keyword === keyword) ?? [];
const lastInRuntime = (keyword: string) => inRuntime(keyword).at(-1);

/** The runtime stage's CMD: `start --config <path>`; the path every deployment mounts its config at. */
const CONFIG_PATH = (() => {
  const cmd = lastInRuntime("CMD");
  return cmd ? flag(execForm(cmd.args, "CMD"), "--config") : undefined;
})();

/** The runtime user's numeric uid, when USER gives one. */
const RUNTIME_UID = (() => {
  const user = (lastInRuntime("USER")?.args ?? "").split(":")[0] ?? "";
  return /^\d+$/.test(user) ? Number(user) : undefined;
})();

describe("Dockerfile", () => {
  test("has a build stage and a runtime stage on the Node major of .nvmrc", () => {
    assert.ok(dockerfile.stages.length >= 2, "Dockerfile: expected a multi-stage build (build + runtime)");
    const nodeMajor = read(".nvmrc").trim().replace(/^v/, "").split(".")[0];
    for (const stage of dockerfile.stages) {
      const image = stage.from.replace(
        /\$\{?(\w+)\}?/g,
        (_, name: string) => dockerfile.globalArgs.get(name) ?? "",
      );
      assert.match(
        image,
        new RegExp(`^node:${nodeMajor}(?:[.-]|$)`),
        `Dockerfile: stage ${stage.name ?? "?"} is FROM ${image}, but .nvmrc says Node ${nodeMajor}`,
      );
    }
  });

  test("the build stage installs the pinned pnpm, the frozen lockfile and runs pnpm build:deploy", () => {
    const build = dockerfile.stages[0];
    assert.ok(build);
    const runs = build.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    const pinned = rootManifest.packageManager.replace(/^pnpm@/, "").split("+")[0];
    const pnpmArg = build.instructions
      .filter((i) => i.keyword === "ARG" && i.args.startsWith("PNPM_VERSION="))
      .map((i) => i.args.split("=")[1]?.replace(/^"|"$/g, ""))
      .at(-1);
    const installsPnpm = runs.find((r) => /(npm (i|install) .*pnpm@|corepack)/.test(r));
    assert.ok(
      installsPnpm,
      "Dockerfile: the build stage does not install pnpm (npm i -g pnpm@… or corepack)",
    );
    if (!installsPnpm.includes("corepack")) {
      const version = installsPnpm.includes("${PNPM_VERSION}")
        ? pnpmArg
        : /pnpm@([\w.-]+)/.exec(installsPnpm)?.[1];
      assert.equal(
        version,
        pinned,
        `Dockerfile: installs pnpm ${version}, but package.json's packageManager pins ${pinned}`,
      );
    }
    assert.ok(
      runs.some((r) => /pnpm install\b.*--frozen-lockfile/.test(r)),
      "Dockerfile: the build stage must run `pnpm install --frozen-lockfile`",
    );
    assert.ok(
      runs.some((r) => /pnpm (run )?build:deploy\b/.test(r)),
      "Dockerfile: the build stage must run `pnpm build:deploy`",
    );
    assert.ok(
      typeof rootManifest.scripts["build:deploy"] === "string",
      "Dockerfile runs `pnpm build:deploy`, but the root package.json has no build:deploy script",
    );
  });

  test("the runtime stage holds only the deploy folder, at the path ENTRYPOINT runs", () => {
    assert.ok(runtime);
    const workdir = lastInRuntime("WORKDIR")?.args;
    assert.equal(workdir, "/app", `Dockerfile: runtime WORKDIR is ${workdir}, expected /app`);
    const copies = inRuntime("COPY");
    assert.ok(copies.length > 0, "Dockerfile: the runtime stage copies nothing");
    for (const copy of copies) {
      assert.match(
        copy.args,
        /--from=/,
        `Dockerfile:${copy.line}: the runtime stage must copy only from the build stage, got COPY ${copy.args}`,
      );
    }
    const words = copies.map((c) => c.args.split(/\s+/).filter((w) => !w.startsWith("--")));
    const deploy = words.find(
      (w) => w.length === 2 && posix.normalize(w[0] ?? "").endsWith(`/${DEPLOY_FOLDER}`),
    );
    assert.ok(deploy, `Dockerfile: the runtime stage does not COPY --from=build …/${DEPLOY_FOLDER}`);
    const target = posix.resolve(workdir ?? "/", deploy[1] ?? "");
    const entrypoint = lastInRuntime("ENTRYPOINT");
    assert.ok(entrypoint, "Dockerfile: no ENTRYPOINT");
    const argv = execForm(entrypoint.args, "ENTRYPOINT");
    assert.equal(
      argv[0],
      "node",
      `Dockerfile: ENTRYPOINT must run node itself (PID 1 gets SIGTERM), got ${argv[0]}`,
    );
    const flags = SERVER_NODE_FLAGS.length;
    assert.deepEqual(
      argv.slice(1, 1 + flags),
      SERVER_NODE_FLAGS,
      "Dockerfile: ENTRYPOINT must pass node the server's flags (SERVER_NODE_FLAGS, apps/gateway/src/heap-tuning.ts)",
    );
    assert.equal(
      argv[1 + flags],
      posix.join(target, BIN),
      `Dockerfile: ENTRYPOINT runs ${argv[1 + flags]}, but ${DEPLOY_FOLDER} is copied to ${target} and the CLI is ${BIN} in it (apps/gateway/package.json bin)`,
    );
    assert.equal(
      argv.length,
      2 + flags,
      "Dockerfile: ENTRYPOINT must be just node, its flags and the CLI (arguments go in CMD)",
    );
  });

  test("CMD starts the gateway with a config file", () => {
    const cmd = lastInRuntime("CMD");
    assert.ok(cmd, "Dockerfile: no CMD");
    const args = execForm(cmd.args, "CMD");
    assert.equal(args[0], "start", `Dockerfile: CMD must be \`start …\`, got ${args.join(" ")}`);
    assert.ok(
      CONFIG_PATH?.startsWith("/"),
      `Dockerfile: CMD must pass --config with an absolute path, got ${args.join(" ")}`,
    );
  });

  test("NODE_ENV=production, non-root USER, EXPOSE of the app's default port, STOPSIGNAL SIGTERM", () => {
    const env = inRuntime("ENV").map((i) => i.args);
    assert.ok(
      env.some((e) => /(^|\s)NODE_ENV=("?)production\2(\s|$)/.test(e)),
      "Dockerfile: the runtime stage must set ENV NODE_ENV=production",
    );
    const user = lastInRuntime("USER")?.args;
    assert.ok(user, "Dockerfile: the runtime stage has no USER (it would run as root)");
    assert.ok(
      !/^(root|0)(:|$)/.test(user),
      `Dockerfile: USER ${user} is root; the gateway must run as a non-root user`,
    );
    const exposed = inRuntime("EXPOSE").flatMap((i) =>
      i.args.split(/\s+/).map((p) => Number(p.split("/")[0])),
    );
    assert.deepEqual(
      exposed,
      [APP_DEFAULT_PORT],
      `Dockerfile: EXPOSE ${exposed.join(" ")}, but the app's default server.port is ${APP_DEFAULT_PORT}`,
    );
    assert.equal(lastInRuntime("STOPSIGNAL")?.args, "SIGTERM", "Dockerfile: STOPSIGNAL must be SIGTERM");
  });

  test("HEALTHCHECK probes /healthz on the app's port with node", () => {
    const check = lastInRuntime("HEALTHCHECK");
    assert.ok(check, "Dockerfile: no HEALTHCHECK");
    const cmd = /^(?:--\S+\s+)*CMD\s+(.*)$/.exec(check.args)?.[1];
    assert.ok(cmd, `Dockerfile: cannot read HEALTHCHECK ${check.args}`);
    const argv = execForm(cmd, "HEALTHCHECK CMD");
    assert.equal(
      argv[0],
      "node",
      "Dockerfile: HEALTHCHECK must use node (the slim image has no curl or wget)",
    );
    const script = argv.join(" ");
    assert.ok(script.includes(HEALTHZ), `Dockerfile: HEALTHCHECK does not probe ${HEALTHZ}: ${script}`);
    const port = healthcheckPort(script, {});
    assert.equal(
      port,
      APP_DEFAULT_PORT,
      `Dockerfile: HEALTHCHECK probes port ${port}, but the app's default server.port is ${APP_DEFAULT_PORT}`,
    );
  });

  test("the data directory is a VOLUME owned by the runtime user, and the image is labelled", () => {
    const volumes = inRuntime("VOLUME").flatMap((i) => {
      try {
        return JSON.parse(i.args) as string[];
      } catch {
        return i.args.split(/\s+/);
      }
    });
    assert.ok(volumes.includes("/var/lib/engage-bridge"), "Dockerfile: no VOLUME /var/lib/engage-bridge");
    const user = (lastInRuntime("USER")?.args ?? "").split(":")[0];
    assert.ok(
      inRuntime("RUN").some((r) =>
        new RegExp(`chown\\s+(-R\\s+)?${user}(:\\S+)?\\s+/var/lib/engage-bridge`).test(r.args),
      ),
      `Dockerfile: /var/lib/engage-bridge is not chown'd to the runtime USER ${user}`,
    );
    const labels = inRuntime("LABEL")
      .map((i) => i.args)
      .join(" ");
    for (const key of ["title", "description", "source", "licenses", "version"]) {
      assert.match(
        labels,
        new RegExp(`org\\.opencontainers\\.image\\.${key}=`),
        `Dockerfile: no ${key} OCI label`,
      );
    }
    const license = /org\.opencontainers\.image\.licenses="?([^"\s]+)/.exec(labels)?.[1];
    assert.equal(
      license,
      gatewayManifest.license,
      `Dockerfile: licenses label ${license}, but apps/gateway/package.json says ${gatewayManifest.license}`,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// .dockerignore (Docker's rules: patterns relative to the context root, `**` any number of
// directories, a match on a directory excludes its contents, `!` re-includes, the last match wins)

function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+/, "");
      const source = pattern
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => {
          if (part === "**/" || part === "**") return "(?:.*/)?";
          if (part === "*") return "[^/]*";
          if (part === "?") return "[^/]";
          return part.replace(/[.+^${}()|[\]\\]/g, "\\$&");
        })
        .join("");
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    // The path and each of its parent directories: excluding a directory excludes what is in it.
    const parts = path.split("/");
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let ignored = false;
    for (const rule of rules) {
      if (candidates.some((c) => rule.regex.test(c) || rule.regex.test(`${c}/`))) ignored = !rule.negate;
    }
    return ignored;
  };
}

describe(".dockerignore", () => {
  const ignored = dockerignoreMatcher(read(".dockerignore"));
  const workspaceManifests = ["apps", "packages"].flatMap((dir) =>
    readdirSync(join(ROOT, dir))
      .map((name) => `${dir}/${name}/package.json`)
      .filter((file) => existsSync(join(ROOT, file))),
  );

  test("keeps everything the image build needs", () => {
    const dockerfileCopies = (dockerfile.stages[0]?.instructions ?? [])
      .filter((i) => i.keyword === "COPY" && !i.args.includes("--from="))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((w) => !w.startsWith("--"))
          .slice(0, -1),
      )
      .filter((w) => w !== ".");
    const needed = [
      "package.json",
      "pnpm-lock.yaml",
      "pnpm-workspace.yaml",
      ".pnpmfile.cjs",
      "tsconfig.base.json",
      "tsdown.base.ts",
      "turbo.json",
      "apps/gateway/src/cli.ts",
      "apps/gateway/bin/engage-bridge.js",
      "apps/gateway/engage-bridge.schema.json",
      "packages/core/src/index.ts",
      ...readdirSync(join(ROOT, "scripts")).map((name) => `scripts/${name}`),
      ...workspaceManifests,
      ...dockerfileCopies,
    ];
    for (const file of needed) {
      assert.ok(existsSync(join(ROOT, file)), `the image build needs ${file}, which does not exist`);
      assert.ok(!ignored(file), `.dockerignore excludes ${file}, which the image build needs`);
    }
  });

  test("leaves out installs, build output, local state, secrets and .git", () => {
    for (const path of [
      "node_modules/x",
      "apps/gateway/node_modules/x",
      "packages/core/node_modules/x",
      "dist/gateway/bin/engage-bridge.js",
      "apps/gateway/dist/cli.js",
      "packages/core/dist/index.js",
      ".turbo/cache",
      "apps/gateway/.turbo/turbo-build.log",
      "data/engage-bridge.db",
      ".git/HEAD",
      "deploy/.env",
      ".env",
      "coverage/index.html",
      "engage-bridge-0.1.0.tgz",
      "examples/express/node_modules/x",
    ]) {
      assert.ok(ignored(path), `.dockerignore does not exclude ${path}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// deploy/compose.yaml and deploy/compose.sqlite.yaml

interface GatewayService {
  name: string;
  role: string;
  config: GatewayConfig;
  configFile: string;
  configRaw: unknown;
  replicas: number;
  volumes: { source: string; target: string; readOnly: boolean }[];
}

/** Short-syntax (`src:dst[:ro]`) and long-syntax volume entries of a service. */
function volumesOf(service: Json, where: string): GatewayService["volumes"] {
  const list = service.volumes ?? [];
  assert.ok(Array.isArray(list), `${where}: volumes must be a list`);
  return list.map((entry) => {
    if (typeof entry === "string") {
      const [source = "", target = "", mode = ""] = entry.split(":");
      return { source, target, readOnly: mode.split(",").includes("ro") };
    }
    const v = asRecord(entry, `${where}: volume`);
    return { source: String(v.source ?? ""), target: String(v.target ?? ""), readOnly: v.read_only === true };
  });
}

function serviceEnv(service: Json): Record<string, string> {
  const env = service.environment;
  if (Array.isArray(env))
    return Object.fromEntries(env.map((e) => String(e).split(/=(.*)/s).slice(0, 2) as [string, string]));
  return isRecord(env) ? Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) : {};
}

interface ComposeCheck {
  compose: Json;
  gateways: GatewayService[];
  refs: Set<string>;
}
const composeChecks = new Map<string, ComposeCheck | Error>();
/** {@link checkComposeOnce}, once per file: every test of a file sees the same outcome. */
function checkCompose(file: string): ComposeCheck {
  if (!composeChecks.has(file)) {
    try {
      composeChecks.set(file, checkComposeOnce(file));
    } catch (error) {
      composeChecks.set(file, error as Error);
    }
  }
  const outcome = composeChecks.get(file);
  if (outcome instanceof Error) throw outcome;
  assert.ok(outcome);
  return outcome;
}

/** Checks a compose file's gateway services against the app and returns them. */
function checkComposeOnce(file: string): ComposeCheck {
  const compose = asRecord(parseYaml(file), file);
  const services = asRecord(compose.services, `${file}: services`);
  const namedVolumes = isRecord(compose.volumes) ? Object.keys(compose.volumes) : [];
  const refs = composeRefs(compose);
  const gateways: GatewayService[] = [];
  for (const [name, value] of Object.entries(services)) {
    const service = asRecord(value, `${file}: services.${name}`);
    const where = `${file}: services.${name}`;
    const build = service.build;
    const context = typeof build === "string" ? build : isRecord(build) ? build.context : undefined;
    const isGateway =
      context !== undefined ||
      (typeof service.image === "string" && service.image.startsWith("engage-bridge"));
    if (!isGateway) continue;

    assert.equal(
      typeof context === "string" ? resolve(ROOT, dirname(file), context) : undefined,
      resolve(ROOT),
      `${where}: build context must be the repository root (where the Dockerfile is)`,
    );
    const dockerfileName =
      isRecord(build) && typeof build.dockerfile === "string" ? build.dockerfile : "Dockerfile";
    assert.equal(dockerfileName, "Dockerfile", `${where}: must build the root Dockerfile`);

    const command = service.command;
    assert.ok(
      Array.isArray(command) && command.every((c) => typeof c === "string"),
      `${where}: command must be a list (exec form), got ${JSON.stringify(command)}`,
    );
    assert.equal(command[0], "start", `${where}: command must be \`start …\`, got ${command.join(" ")}`);
    const role = flag(command, "--role") ?? "all";
    assert.ok(ROLES.includes(role), `${where}: --role ${role} is not one of ${ROLES.join(", ")}`);
    const configPath = flag(command, "--config");
    assert.equal(
      configPath,
      CONFIG_PATH,
      `${where}: --config ${configPath}, but the Dockerfile's CMD uses ${CONFIG_PATH}`,
    );

    const volumes = volumesOf(service, where);
    const mount = volumes.find((v) => v.target === configPath);
    assert.ok(mount, `${where}: nothing is mounted at the --config path ${configPath}`);
    assert.ok(mount.readOnly, `${where}: the config at ${configPath} must be mounted read-only (:ro)`);
    const configFile = posix.join(dirname(file), mount.source);
    assert.ok(existsSync(join(ROOT, configFile)), `${where}: mounts ${configFile}, which does not exist`);

    const envFiles = Array.isArray(service.env_file) ? service.env_file : [service.env_file];
    assert.ok(envFiles.includes(".env"), `${where}: env_file must be .env (the secrets, see ${ENV_EXAMPLE})`);

    const configText = read(configFile);
    const configRaw = parseYaml(configFile, configText);
    for (const ref of envRefs(configRaw)) {
      assert.ok(
        envExample.has(ref),
        `${configFile} (mounted by ${where}) uses \${${ref}}, which ${ENV_EXAMPLE} does not list`,
      );
      refs.add(ref);
    }
    const env = { ...exampleEnv, ...serviceEnv(service) };
    const config = validate(`${configFile} (with the values of ${ENV_EXAMPLE})`, configText, env);

    const healthcheck = asRecord(service.healthcheck, `${where}: healthcheck`);
    const probe = Array.isArray(healthcheck.test) ? healthcheck.test.join(" ") : String(healthcheck.test);
    assert.ok(probe.includes(HEALTHZ), `${where}: the healthcheck does not probe ${HEALTHZ}: ${probe}`);
    const probed = healthcheckPort(probe, env);
    assert.equal(
      probed,
      config.server.port,
      `${where}: the healthcheck probes port ${probed}, but ${configFile} makes the gateway listen on ${config.server.port}`,
    );
    for (const port of (service.ports ?? []) as unknown[]) {
      const containerPort = Number(String(port).split("/")[0]?.split(":").at(-1));
      assert.equal(
        containerPort,
        config.server.port,
        `${where}: publishes container port ${containerPort}, but ${configFile} listens on ${config.server.port}`,
      );
    }
    const grace = service.stop_grace_period === undefined ? 10 : seconds(String(service.stop_grace_period));
    assert.ok(
      grace > DRAIN_SECONDS,
      `${where}: stop_grace_period ${service.stop_grace_period ?? "10s (default)"} leaves no margin over the ${DRAIN_SECONDS} s drain`,
    );
    assert.equal(
      service.read_only,
      true,
      `${where}: read_only must be true (the gateway writes only its store)`,
    );

    if (config.store.startsWith("sqlite:")) {
      const db = config.store.slice("sqlite:".length);
      assert.ok(
        db.startsWith("/"),
        `${configFile}: the SQLite path ${db} must be absolute (WORKDIR /app is read-only)`,
      );
      const volume = volumes.find(
        (v) => namedVolumes.includes(v.source) && `${dirname(db)}/`.startsWith(`${v.target}/`),
      );
      assert.ok(volume, `${where}: the SQLite database ${db} (${configFile}) is not on a named volume`);
    }
    const deploy = isRecord(service.deploy) ? service.deploy : {};
    const replicas = Number(deploy.replicas ?? service.scale ?? 1);
    gateways.push({ name, role, config, configFile, configRaw, replicas, volumes });
  }
  assert.ok(gateways.length > 0, `${file}: no service builds the gateway image`);
  for (const ref of refs)
    assert.ok(envExample.has(ref), `${file} uses \${${ref}}, which ${ENV_EXAMPLE} does not list`);
  return { compose, gateways, refs };
}

describe("deploy/compose.yaml (PostgreSQL, ingest + worker)", () => {
  const file = "deploy/compose.yaml";

  test("each gateway service agrees with the app: command, mounted config, env, port, health check", () => {
    checkCompose(file);
  });

  test("one ingest and one worker service, each `start --role …`", () => {
    const { gateways } = checkCompose(file);
    const roles = gateways.map((g) => g.role).sort();
    assert.deepEqual(
      roles,
      ["ingest", "worker"],
      `${file}: expected an ingest and a worker service, got ${roles}`,
    );
  });

  test("the store is the compose PostgreSQL, healthy before the gateway starts", () => {
    const { compose, gateways } = checkCompose(file);
    const services = asRecord(compose.services, file);
    for (const gateway of gateways) {
      const where = `${file}: services.${gateway.name}`;
      assert.match(
        gateway.config.store,
        /^postgres(ql)?:\/\//,
        `${where}: ${gateway.configFile} must use a postgres store`,
      );
      const url = new URL(gateway.config.store);
      const pg = asRecord(
        services[url.hostname],
        `${where}: the store's host ${url.hostname} is not a service`,
      );
      assert.match(
        String(pg.image),
        /^postgres:/,
        `${file}: services.${url.hostname} is not a postgres image`,
      );
      const pgEnv = serviceEnv(pg);
      assert.equal(
        pgEnv.POSTGRES_USER,
        url.username,
        `${file}: POSTGRES_USER differs from the store URL's user`,
      );
      assert.equal(
        pgEnv.POSTGRES_DB,
        url.pathname.slice(1),
        `${file}: POSTGRES_DB differs from the store URL's database`,
      );
      const check = asRecord(pg.healthcheck, `${file}: services.${url.hostname}.healthcheck`);
      assert.match(
        JSON.stringify(check.test),
        /pg_isready/,
        `${file}: the postgres healthcheck must use pg_isready`,
      );
      const dependsOn = asRecord(asRecord(services[gateway.name], where).depends_on, `${where}: depends_on`);
      assert.equal(
        asRecord(dependsOn[url.hostname], `${where}: depends_on.${url.hostname}`).condition,
        "service_healthy",
        `${where}: must wait for ${url.hostname} to be healthy`,
      );
      const pgVolumes = volumesOf(pg, `${file}: services.${url.hostname}`);
      const namedVolumes = isRecord(compose.volumes) ? Object.keys(compose.volumes) : [];
      assert.ok(
        pgVolumes.some((v) => namedVolumes.includes(v.source) && v.target === "/var/lib/postgresql/data"),
        `${file}: PostgreSQL's data must be on a named volume`,
      );
    }
  });
});

describe("deploy/compose.sqlite.yaml (SQLite, one process)", () => {
  const file = "deploy/compose.sqlite.yaml";

  test("each gateway service agrees with the app: command, mounted config, env, port, health check", () => {
    checkCompose(file);
  });

  test("exactly one gateway process per SQLite database, with --role all", () => {
    const { gateways } = checkCompose(file);
    const perDatabase = new Map<string, number>();
    for (const gateway of gateways) {
      const where = `${file}: services.${gateway.name}`;
      assert.match(
        gateway.config.store,
        /^sqlite:/,
        `${where}: ${gateway.configFile} must use a sqlite store`,
      );
      assert.equal(
        gateway.role,
        "all",
        `${where}: --role ${gateway.role}; with SQLite one process runs both roles (--role all)`,
      );
      assert.equal(
        gateway.replicas,
        1,
        `${where}: ${gateway.replicas} replicas; SQLite allows one process per database`,
      );
      const volume = gateway.volumes.find((v) =>
        gateway.config.store.slice("sqlite:".length).startsWith(`${v.target}/`),
      );
      const key = `${volume?.source}:${gateway.config.store}`;
      perDatabase.set(key, (perDatabase.get(key) ?? 0) + gateway.replicas);
    }
    for (const [database, processes] of perDatabase)
      assert.equal(
        processes,
        1,
        `${file}: ${processes} gateway processes on the SQLite database ${database}`,
      );
  });
});

describe("deploy/env.example", () => {
  test("lists only variables the compose files or their configs use", () => {
    const used = new Set([
      ...checkCompose("deploy/compose.yaml").refs,
      ...checkCompose("deploy/compose.sqlite.yaml").refs,
    ]);
    for (const name of envExample.keys())
      assert.ok(used.has(name), `${ENV_EXAMPLE} lists ${name}, which no compose file or config uses`);
  });
});

// ---------------------------------------------------------------------------------------------------
// deploy/helm/engage-bridge

const CHART = "deploy/helm/engage-bridge";
const template = (name: string) => read(`${CHART}/templates/${name}`);

/** The items of the first `<key>:` list in a template (`- item` lines), template directives left as is. */
function listAfter(text: string, key: string): string[] {
  const match = new RegExp(`^(\\s*)${key}:\\s*\\n((?:\\1\\s*- .*\\n)+)`, "m").exec(text);
  return (match?.[2] ?? "")
    .split("\n")
    .map((l) => l.trim().replace(/^- /, "").trim())
    .filter(Boolean);
}

/** The `path:` of an httpGet probe block. */
function probePath(text: string, probe: string): string | undefined {
  return new RegExp(`${probe}:\\s*\\n(?:\\s*#.*\\n)*\\s*httpGet:\\s*\\n\\s*path:\\s*(\\S+)`).exec(text)?.[1];
}

/** `.Values.a.b` of a `{{ … }}` expression. */
const valuePath = (expr: string | undefined) => /\.Values((?:\.\w+)+)/.exec(expr ?? "")?.[1]?.slice(1);
const valueAt = (values: Json, path: string | undefined) =>
  (path ?? "").split(".").reduce<unknown>((at, key) => (isRecord(at) ? at[key] : undefined), values);

function helmPlaceholders(refs: Iterable<string>): Record<string, string> {
  // The compose placeholders where the names are the same; any other name gets a generic value.
  return Object.fromEntries(
    [...refs].map((name) => [name, envExample.get(name) ?? "placeholder-value-0123456789abcdef"]),
  );
}

describe("deploy/helm/engage-bridge", () => {
  const chart = asRecord(parseYaml(`${CHART}/Chart.yaml`), `${CHART}/Chart.yaml`);
  const values = asRecord(parseYaml(`${CHART}/values.yaml`), `${CHART}/values.yaml`);

  test("Chart.yaml: apiVersion v2, appVersion = the gateway's version", () => {
    assert.equal(chart.apiVersion, "v2", `${CHART}/Chart.yaml: apiVersion must be v2`);
    assert.equal(
      chart.name,
      "engage-bridge",
      `${CHART}/Chart.yaml: name must be the directory name engage-bridge`,
    );
    assert.match(String(chart.version), /^\d+\.\d+\.\d+/, `${CHART}/Chart.yaml: version must be SemVer`);
    assert.equal(
      chart.appVersion,
      gatewayManifest.version,
      `${CHART}/Chart.yaml: appVersion ${chart.appVersion}, but apps/gateway/package.json is ${gatewayManifest.version}`,
    );
  });

  test("values.config validates with the app and uses PostgreSQL", () => {
    const refs = envRefs(values.config);
    const text = JSON.stringify(values.config);
    const config = validate(
      `${CHART}/values.yaml config (with placeholders for ${[...refs].join(", ")})`,
      text,
      helmPlaceholders(refs),
    );
    assert.match(
      config.store,
      /^postgres(ql)?:\/\//,
      `${CHART}/values.yaml: config.store must be PostgreSQL, got ${config.store}`,
    );
    assert.notEqual(
      config.server.trustProxy,
      false,
      `${CHART}/values.yaml: config.server.trustProxy must count the ingress proxy`,
    );
  });

  test("every ${NAME} of values.config is documented in values.yaml secretEnv (and nothing else is)", () => {
    const refs = envRefs(values.config);
    const documented = values.secretEnv;
    assert.ok(Array.isArray(documented), `${CHART}/values.yaml: secretEnv must list the config's variables`);
    for (const ref of refs)
      assert.ok(
        documented.includes(ref),
        `${CHART}/values.yaml: config uses \${${ref}}, which secretEnv does not list`,
      );
    for (const name of documented)
      assert.ok(
        refs.has(String(name)),
        `${CHART}/values.yaml: secretEnv lists ${name}, which config does not use`,
      );
    const text = read(`${CHART}/values.yaml`);
    for (const ref of refs)
      assert.match(
        text,
        new RegExp(`^#\\s+${ref}\\s+\\S`, "m"),
        `${CHART}/values.yaml: no comment describes ${ref}`,
      );
  });

  test("service.targetPort is the app's default port; security contexts are locked down", () => {
    const service = asRecord(values.service, `${CHART}/values.yaml: service`);
    assert.equal(
      service.targetPort,
      APP_DEFAULT_PORT,
      `${CHART}/values.yaml: service.targetPort ${service.targetPort}, but the app's default port is ${APP_DEFAULT_PORT}`,
    );
    const container = asRecord(values.securityContext, `${CHART}/values.yaml: securityContext`);
    assert.equal(
      container.readOnlyRootFilesystem,
      true,
      `${CHART}/values.yaml: securityContext.readOnlyRootFilesystem must be true`,
    );
    assert.equal(
      container.allowPrivilegeEscalation,
      false,
      `${CHART}/values.yaml: allowPrivilegeEscalation must be false`,
    );
    assert.deepEqual(
      asRecord(container.capabilities, `${CHART}/values.yaml: securityContext.capabilities`).drop,
      ["ALL"],
      `${CHART}/values.yaml: capabilities must drop ALL`,
    );
    const pod = asRecord(values.podSecurityContext, `${CHART}/values.yaml: podSecurityContext`);
    assert.equal(
      pod.runAsNonRoot,
      true,
      `${CHART}/values.yaml: podSecurityContext.runAsNonRoot must be true`,
    );
    assert.equal(
      asRecord(pod.seccompProfile, `${CHART}/values.yaml: podSecurityContext.seccompProfile`).type,
      "RuntimeDefault",
      `${CHART}/values.yaml: seccompProfile must be RuntimeDefault`,
    );
    assert.equal(
      pod.runAsUser,
      RUNTIME_UID,
      `${CHART}/values.yaml: runAsUser ${pod.runAsUser}, but the Dockerfile's USER is ${RUNTIME_UID}`,
    );
    assert.ok(
      Number(values.terminationGracePeriodSeconds) > DRAIN_SECONDS,
      `${CHART}/values.yaml: terminationGracePeriodSeconds must exceed the ${DRAIN_SECONDS} s drain`,
    );
  });

  const configMapKey = /^\s+([\w.-]+):\s*\|\s*\n\s*\{\{-?\s*toYaml \.Values\.config\b/m.exec(
    template("configmap.yaml"),
  )?.[1];

  for (const role of ["ingest", "worker"]) {
    const name = `deployment-${role}.yaml`;
    const where = `${CHART}/templates/${name}`;
    test(`${name}: start --role ${role} with the mounted config, probes, port and security`, () => {
      const text = template(name);
      const args = listAfter(text, "args");
      assert.equal(args[0], "start", `${where}: args must start with \`start\`, got ${args.join(" ")}`);
      assert.equal(flag(args, "--role"), role, `${where}: --role ${flag(args, "--role")}, expected ${role}`);
      const configPath = flag(args, "--config");
      assert.equal(
        configPath,
        CONFIG_PATH,
        `${where}: --config ${configPath}, but the Dockerfile's CMD uses ${CONFIG_PATH}`,
      );

      const mountPath = /- name: config\s*\n\s*mountPath:\s*(\S+)/.exec(text)?.[1];
      assert.ok(
        /- name: config\s*\n\s*configMap:/.test(text),
        `${where}: the config volume is not the ConfigMap`,
      );
      assert.equal(
        posix.join(mountPath ?? "", configMapKey ?? ""),
        configPath,
        `${where}: the ConfigMap key ${configMapKey} is mounted under ${mountPath}, but --config is ${configPath}`,
      );

      assert.equal(probePath(text, "readinessProbe"), READYZ, `${where}: readinessProbe must get ${READYZ}`);
      assert.equal(probePath(text, "livenessProbe"), HEALTHZ, `${where}: livenessProbe must get ${HEALTHZ}`);

      const containerPort = valuePath(/containerPort:\s*(\{\{.*?\}\})/.exec(text)?.[1]);
      const portEnv = valuePath(/- name: PORT\s*\n\s*value:\s*(\{\{.*?\}\})/.exec(text)?.[1]);
      assert.ok(containerPort, `${where}: containerPort must come from a value`);
      assert.equal(
        portEnv,
        containerPort,
        `${where}: env PORT comes from .Values.${portEnv}, containerPort from .Values.${containerPort}`,
      );
      assert.equal(
        valueAt(values, containerPort),
        APP_DEFAULT_PORT,
        `${where}: containerPort defaults to ${valueAt(values, containerPort)}, the app's default port is ${APP_DEFAULT_PORT}`,
      );
      assert.match(
        text,
        /- name: http\s*\n\s*containerPort:/,
        `${where}: the container port must be named http`,
      );

      assert.match(
        text,
        /securityContext:\s*\n\s*\{\{-?\s*toYaml \.Values\.securityContext\b/,
        `${where}: no container securityContext`,
      );
      assert.match(
        text,
        /securityContext:\s*\n\s*\{\{-?\s*toYaml \.Values\.podSecurityContext\b/,
        `${where}: no pod securityContext`,
      );
      assert.match(
        text,
        /- name: tmp\s*\n\s*mountPath:\s*\/tmp\b/,
        `${where}: no writable /tmp (read-only root filesystem)`,
      );
      assert.match(text, /- name: tmp\s*\n\s*emptyDir:/, `${where}: /tmp must be an emptyDir`);
      assert.match(
        text,
        /envFrom:\s*\n(?:\s*#.*\n)*\s*- secretRef:/,
        `${where}: the secrets must come from envFrom secretRef`,
      );
      assert.match(
        text,
        /checksum\/config:.*configmap\.yaml.*sha256sum/,
        `${where}: no checksum/config annotation`,
      );
      assert.match(text, /terminationGracePeriodSeconds:/, `${where}: no terminationGracePeriodSeconds`);
      assert.match(
        text,
        new RegExp(`resources:\\s*\\n\\s*\\{\\{-?\\s*toYaml \\.Values\\.${role}\\.resources`),
        `${where}: resources must come from .Values.${role}.resources`,
      );
    });
  }

  test("service.yaml selects the ingest pods only; the ConfigMap renders values.config", () => {
    const service = template("service.yaml");
    assert.match(
      service,
      /selector:\s*\n\s*\{\{-?\s*include "engage-bridge\.ingestSelectorLabels"/,
      `${CHART}/templates/service.yaml: must select the ingest pods`,
    );
    assert.match(
      service,
      /targetPort:\s*http\b/,
      `${CHART}/templates/service.yaml: targetPort must be the http port`,
    );
    assert.match(
      template("_helpers.tpl"),
      /define "engage-bridge\.ingestSelectorLabels"[\s\S]*?app\.kubernetes\.io\/component: ingest/,
      `${CHART}/templates/_helpers.tpl: ingestSelectorLabels must include component: ingest`,
    );
    assert.equal(
      configMapKey,
      posix.basename(CONFIG_PATH ?? ""),
      `${CHART}/templates/configmap.yaml: key ${configMapKey}, expected ${posix.basename(CONFIG_PATH ?? "")}`,
    );
  });

  test("helm lint and helm template agree", (t) => {
    const helm = process.env.PATH?.split(delimiter)
      .map((dir) => join(dir, "helm"))
      .find((file) => existsSync(file) && statSync(file).isFile());
    if (!helm) {
      t.skip("helm is not on PATH: helm lint and helm template not run");
      return;
    }
    const run = (...args: string[]) => spawnSync(helm, args, { cwd: ROOT, encoding: "utf8" });
    const lint = run("lint", "--strict", CHART);
    assert.equal(lint.status, 0, `helm lint ${CHART}:\n${lint.stdout}${lint.stderr}`);
    {
      const rendered = run(
        "template",
        "eb",
        CHART,
        "--set",
        "ingress.enabled=true,ingest.autoscaling.enabled=true,worker.replicaCount=2",
      );
      assert.equal(rendered.status, 0, `helm template ${CHART}:\n${rendered.stderr}`);
      const parsed = yaml.parseAllDocuments(rendered.stdout);
      const docs = (Array.isArray(parsed) ? parsed : [parsed]).map((d) => d.toJS()).filter(isRecord);
      const kinds = docs.map((d) => d.kind);
      for (const kind of [
        "ConfigMap",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ServiceAccount",
      ])
        assert.ok(kinds.includes(kind), `helm template ${CHART}: no ${kind} rendered`);
      const configMap = docs.find((d) => d.kind === "ConfigMap");
      const configText = String(
        asRecord(configMap?.data, "ConfigMap data")[posix.basename(CONFIG_PATH ?? "")],
      );
      validate(`${CHART} rendered ConfigMap`, configText, helmPlaceholders(envRefs(values.config)));
      const service = docs.find((d) => d.kind === "Service");
      const selector = asRecord(asRecord(service?.spec, "Service spec").selector, "Service selector");
      for (const doc of docs.filter((d) => d.kind === "Deployment")) {
        const podTemplate = asRecord(asRecord(doc.spec, "spec").template, "template");
        const labels = asRecord(asRecord(podTemplate.metadata, "metadata").labels, "labels");
        const pod = asRecord(podTemplate.spec, "pod spec");
        const [container] = pod.containers as Json[];
        const c = asRecord(container, "container");
        const args = c.args as string[];
        const role = flag(args, "--role");
        const selected = Object.entries(selector).every(([k, v]) => labels[k] === v);
        assert.equal(selected, role === "ingest", `rendered Service selects the ${role} pods: ${selected}`);
        const port = asRecord((c.ports as Json[])[0], "port");
        const env = (c.env as Json[]).find((e) => e.name === "PORT");
        assert.equal(
          String(env?.value),
          String(port.containerPort),
          `rendered ${role}: PORT ≠ containerPort`,
        );
        assert.equal(asRecord(c.securityContext, "securityContext").readOnlyRootFilesystem, true);
      }
      const sqlite = run("template", "eb", CHART, "--set", "config.store=sqlite:/data/x.db");
      assert.notEqual(sqlite.status, 0, `helm template ${CHART} accepts a SQLite store; it must refuse it`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// deploy/systemd/engage-bridge.service

describe("deploy/systemd/engage-bridge.service", () => {
  const file = "deploy/systemd/engage-bridge.service";
  const unit = new Map<string, string[]>();
  let section = "";
  for (const raw of read(file).split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? "";
      continue;
    }
    const [key = "", ...rest] = line.split("=");
    const id = `${section}.${key.trim()}`;
    unit.set(id, [...(unit.get(id) ?? []), rest.join("=").trim()]);
  }
  const one = (key: string) => unit.get(`Service.${key}`)?.at(-1);

  test("ExecStart runs the deploy folder's CLI with node: start --config FILE", () => {
    const [node, ...rest] = (one("ExecStart") ?? "").split(/\s+/);
    assert.match(node ?? "", /\/node$/, `${file}: ExecStart must run node, got ${node}`);
    assert.deepEqual(
      rest.slice(0, SERVER_NODE_FLAGS.length),
      SERVER_NODE_FLAGS,
      `${file}: ExecStart must pass node the server's flags (SERVER_NODE_FLAGS, apps/gateway/src/heap-tuning.ts)`,
    );
    // From here on as if node had no flags: exec[1] is the CLI.
    const exec = [node ?? "", ...rest.slice(SERVER_NODE_FLAGS.length)];
    assert.equal(
      exec[1],
      posix.join("/opt/engage-bridge", BIN),
      `${file}: ExecStart runs ${exec[1]}, but the deploy folder (copied to /opt/engage-bridge) has the CLI at ${BIN}`,
    );
    assert.equal(exec[2], "start", `${file}: ExecStart must run \`start\``);
    assert.ok(
      flag(exec, "--config")?.startsWith("/"),
      `${file}: ExecStart must pass --config with an absolute path`,
    );
    const role = flag(exec, "--role") ?? "all";
    assert.equal(
      role,
      "all",
      `${file}: one unit per SQLite database runs both roles (--role all), got ${role}`,
    );
  });

  test("NODE_ENV=production, KillSignal=SIGTERM, TimeoutStopSec ≥ the drain, non-root, restarts", () => {
    assert.ok(
      (unit.get("Service.Environment") ?? []).some((e) => e.split(/\s+/).includes("NODE_ENV=production")),
      `${file}: Environment=NODE_ENV=production is missing`,
    );
    assert.equal(one("KillSignal"), "SIGTERM", `${file}: KillSignal must be SIGTERM`);
    const timeout = seconds(one("TimeoutStopSec") ?? "90s");
    assert.ok(
      timeout >= DRAIN_SECONDS,
      `${file}: TimeoutStopSec ${timeout} s is shorter than the ${DRAIN_SECONDS} s drain`,
    );
    const user = one("User");
    assert.ok(
      user && user !== "root" && user !== "0",
      `${file}: User= must name a non-root user, got ${user}`,
    );
    assert.equal(one("Restart"), "on-failure", `${file}: Restart must be on-failure`);
    assert.ok(
      unit.get("Install.WantedBy")?.includes("multi-user.target"),
      `${file}: WantedBy=multi-user.target is missing`,
    );
  });

  test("the state directory is where deploy/engage-bridge.sqlite.yaml keeps its database, and writable", () => {
    const state = one("StateDirectory");
    const dir = `/var/lib/${state}`;
    assert.equal(one("WorkingDirectory"), dir, `${file}: WorkingDirectory must be the StateDirectory ${dir}`);
    assert.equal(
      one("StateDirectoryMode"),
      "0700",
      `${file}: StateDirectoryMode must be 0700 (the store's directory mode)`,
    );
    assert.equal(one("ProtectSystem"), "strict", `${file}: ProtectSystem must be strict`);
    assert.ok(
      (one("ReadWritePaths") ?? "").split(/\s+/).includes(dir),
      `${file}: ReadWritePaths must include ${dir}`,
    );
    const config = validate(
      "deploy/engage-bridge.sqlite.yaml",
      read("deploy/engage-bridge.sqlite.yaml"),
      exampleEnv,
    );
    assert.ok(
      config.store.startsWith(`sqlite:${dir}/`),
      `deploy/engage-bridge.sqlite.yaml: store ${config.store} is outside the unit's writable state directory ${dir}`,
    );
  });
});
