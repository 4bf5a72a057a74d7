import { defineConfig } from "tsdown";
import { packageBuild } from "../../tsdown.base.ts";

// `hubspot` is both a named and the default export: in CommonJS the default is `exports.default`.
export default defineConfig(packageBuild(["src/index.ts"], { outputOptions: { exports: "named" } }));
