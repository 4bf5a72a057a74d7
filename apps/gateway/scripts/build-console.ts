/**
 * Builds the operator console (console/ → dist/console/): esbuild bundles console/app.js, the entry
 * point, with the modules it imports from console/src/ and with uPlot (minified, one ES module), and
 * console/app.css with uPlot's styles, and copies index.html. No source maps, nothing fetched at run
 * time: the gateway serves these three files under /admin/.
 *
 *   node scripts/build-console.ts            (part of the gateway's `build`)
 *
 * Vitest runs it once before the gateway's tests (`setup`, see vitest.config.ts), so tests that run
 * from src/ find a console that matches the sources.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

export const GATEWAY_DIR = fileURLToPath(new URL("../", import.meta.url));
export const CONSOLE_SOURCE_DIR = join(GATEWAY_DIR, "console");
export const CONSOLE_OUT_DIR = join(GATEWAY_DIR, "dist", "console");

/** The files the gateway serves (see src/http/console.ts). */
export const CONSOLE_FILES = ["index.html", "app.js", "app.css"] as const;

/** Writes through a temporary file and a rename: a gateway starting meanwhile reads whole files. */
function writeAtomically(file: string, contents: string | Uint8Array): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, file);
}

/** Builds the console into `outDir` (default dist/console/); returns the files written and their sizes. */
export async function buildConsole(outDir = CONSOLE_OUT_DIR): Promise<Record<string, number>> {
  const result = await build({
    absWorkingDir: GATEWAY_DIR,
    entryPoints: {
      app: join(CONSOLE_SOURCE_DIR, "app.js"),
      "app-style": join(CONSOLE_SOURCE_DIR, "app.css"),
    },
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    sourcemap: false,
    legalComments: "eof",
    charset: "utf8",
    outdir: "out",
    write: false,
    logLevel: "silent",
  });
  if (result.errors.length > 0) throw new Error(`console build failed: ${result.errors[0]?.text}`);
  const pick = (suffix: string) => {
    const file = result.outputFiles.find((f) => f.path.endsWith(suffix));
    if (!file) throw new Error(`console build wrote no ${suffix}`);
    return file.contents;
  };
  const files: Record<string, Uint8Array> = {
    "app.js": pick("/app.js"),
    "app.css": pick("/app-style.css"),
    "index.html": readFileSync(join(CONSOLE_SOURCE_DIR, "index.html")),
  };
  mkdirSync(outDir, { recursive: true });
  // The page last: it names the other two.
  for (const name of ["app.js", "app.css", "index.html"] as const) {
    writeAtomically(join(outDir, name), files[name] as Uint8Array);
  }
  return Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, bytes.byteLength]));
}

/** Vitest's global setup (vitest.config.ts): the console is built before any test starts a gateway. */
export async function setup(): Promise<void> {
  await buildConsole();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizes = await buildConsole(process.argv[2]);
  const summary = Object.entries(sizes)
    .map(([name, size]) => `${name} ${(size / 1024).toFixed(1)} kB`)
    .join(", ");
  process.stdout.write(`build-console: ${summary}\n`);
}
