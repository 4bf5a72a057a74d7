import { defineConfig } from "tsdown";
import { packageBuild } from "../../tsdown.base.ts";

// The connector is both a named and the default export: in CommonJS the default is `exports.default`.
export default defineConfig(
  packageBuild(["src/index.ts", "src/testing.ts"], { outputOptions: { exports: "named" } }),
);
