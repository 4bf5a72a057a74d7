import type { UserConfig } from "tsdown";

type ChunkNames = string | ((chunk: { name: string }) => string) | undefined;

/**
 * The build shared by the publishable packages: ESM (`dist/*.js`) and CommonJS (`dist/*.cjs`) side
 * by side, their declarations under `dist/types/` (`.d.ts` for ESM, `.d.cts` for CommonJS),
 * dependencies left external, no source maps (tsconfig.build.json turns them off; none is referenced).
 *
 * Each entry is one file (plus shared chunks, named without hashes). Declarations live in their own
 * directory so that the packed tarball lists each `.js` next to its `.cjs` twin and each `.d.ts` next
 * to its `.d.cts` twin: gzip then stores each pair almost once (core's tarball has a size budget).
 * JSDoc stays in the declarations (editors show it) and is dropped from the JavaScript.
 */
export function packageBuild(entry: string[], extra: UserConfig = {}): UserConfig {
  return {
    entry,
    tsconfig: "tsconfig.build.json",
    format: ["esm", "cjs"],
    platform: "node",
    target: "node22.13",
    fixedExtension: false,
    hash: false,
    dts: true,
    sourcemap: false,
    clean: true,
    // CommonJS is shipped on purpose (see the packages' `exports`); no need to warn about it.
    checks: { legacyCjs: false, bundlerTimings: false },
    ...extra,
    outputOptions(options, _format, { cjsDts }) {
      // The CommonJS declarations come from a build of their own (cjsDts): every chunk is one.
      const underTypes =
        (names: ChunkNames) =>
        (chunk: { name: string }): string => {
          const name = typeof names === "function" ? names(chunk) : (names ?? "[name].js");
          return cjsDts || chunk.name.endsWith(".d") ? `types/${name}` : name;
        };
      return {
        ...options,
        ...(typeof extra.outputOptions === "object" ? extra.outputOptions : {}),
        entryFileNames: underTypes(options.entryFileNames as ChunkNames),
        chunkFileNames: underTypes(options.chunkFileNames as ChunkNames),
        comments: { legal: true, annotation: true, jsdoc: false },
      };
    },
  };
}
