// `pnpm build:deploy`: writes the self-contained gateway to dist/gateway/, the one artifact every
// deployment uses (the Dockerfile, the compose files, the Helm chart's image, a plain VM):
//
//   node dist/gateway/bin/engage-bridge.js start --config FILE
//
// 1. builds the workspace (turbo; `--skip-build` reuses dist/ as it is);
// 2. `pnpm deploy --prod` of @engage-bridge/gateway with a hoisted (flat, symlink-free) node_modules:
//    the gateway's `files` (bin, compiled JS, the config JSON Schema) and its production dependencies,
//    workspace packages copied as packed (their compiled dist only);
// 3. removes pnpm's bookkeeping (lockfiles, state files), which names the build machine's paths, and
//    rewrites workspace dependencies in package.json to plain versions;
// 4. checks the result: no absolute path of this machine in any file or file name, no TypeScript
//    sources, tests, source maps or benches of ours, and `--version` runs with plain node from a copy
//    of the folder elsewhere.
//
// Exits 1 when a check fails.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { workspaceManifests } from "./workspaces.ts";

const root = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const target = join(root, "dist", "gateway");
const say = (line: string) => process.stdout.write(`${line}\n`);
const fail = (message: string): never => {
  process.stderr.write(`build:deploy: ${message}\n`);
  process.exit(1);
};

function run(command: string, args: string[], cwd = root): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (result.status !== 0)
    fail(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  [key: string]: unknown;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;

/** Workspace package name → version, to replace the `file:` specifiers `pnpm deploy` writes. */
const workspaceVersions = () =>
  new Map(workspaceManifests<Manifest>(root).map(({ manifest }) => [manifest.name, manifest.version]));

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    yield path;
    if (entry.isDirectory()) yield* walk(path);
  }
}

if (!process.argv.includes("--skip-build")) {
  say("build:deploy: building the workspace");
  run("pnpm", [
    "exec",
    "turbo",
    "run",
    "build",
    "--filter=@engage-bridge/gateway...",
    "--output-logs=errors-only",
  ]);
}

rmSync(target, { recursive: true, force: true });
say(`build:deploy: pnpm deploy --prod → ${relative(root, target)}/`);
run("pnpm", [
  "--filter",
  "@engage-bridge/gateway",
  "deploy",
  "--prod",
  "--config.node-linker=hoisted",
  "--config.confirm-modules-purge=false",
  target,
]);

// pnpm's bookkeeping: needed to re-install in place, never to run; it records this machine's paths.
for (const file of [
  "pnpm-lock.yaml",
  "node_modules/.modules.yaml",
  "node_modules/.pnpm",
  "node_modules/.pnpm-workspace-state-v1.json",
  "node_modules/.package-lock.json",
]) {
  rmSync(join(target, file), { recursive: true, force: true });
}

const versions = workspaceVersions();
const manifestFile = join(target, "package.json");
const manifest = readJson<Manifest>(manifestFile);
for (const [name, spec] of Object.entries(manifest.dependencies ?? {})) {
  const version = versions.get(name);
  if (version && manifest.dependencies) manifest.dependencies[name] = version;
  else if (spec.includes("file:"))
    fail(`dependency ${name} is a local path (${spec}) and not a workspace package`);
}
delete manifest.devDependencies;
delete manifest.scripts;
writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);

// Checks.
const problems: string[] = [];
const encodedRoot = root.replace(/^\//, "").replaceAll("/", "+");
const ours = /node_modules\/@engage-bridge\/|^(bin|dist)\//;
let files = 0;
for (const path of walk(target)) {
  const rel = relative(target, path);
  if (rel.includes(encodedRoot) || path.slice(target.length).includes(root))
    problems.push(`${rel}: a file name holds this machine's path`);
  const isOurs = ours.test(rel) || !rel.includes("node_modules");
  if (isOurs && /\.(c|m)?ts$/.test(rel) && !/\.d\.(c|m)?ts$/.test(rel))
    problems.push(`${rel}: TypeScript source`);
  if (isOurs && /\.test\.|(^|\/)(test-support|bench|src)\//.test(rel))
    problems.push(`${rel}: test, bench or source file`);
  if (isOurs && rel.endsWith(".map")) problems.push(`${rel}: source map`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    continue; // a directory
  }
  files += 1;
  if (text.includes(root)) problems.push(`${rel}: holds this machine's path ${root}`);
}
if (problems.length > 0) fail(`the artifact is not self-contained:\n  ${problems.join("\n  ")}`);

// It runs with plain node from anywhere: a copy outside the repository.
const scratch = mkdtempSync(join(tmpdir(), "engage-bridge-artifact-"));
try {
  cpSync(target, scratch, { recursive: true, verbatimSymlinks: true });
  const version = run(
    process.execPath,
    [join(scratch, "bin", "engage-bridge.js"), "--version"],
    scratch,
  ).trim();
  if (version !== manifest.version)
    fail(`--version printed ${JSON.stringify(version)}, expected ${manifest.version}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
say(`build:deploy: ${relative(root, target)}/ ready (${files} files, version ${manifest.version})`);
say(`  run it with: node ${relative(root, target)}/bin/engage-bridge.js start --config FILE`);
