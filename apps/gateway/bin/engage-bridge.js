#!/usr/bin/env node
// Runs the built CLI. `pnpm install` builds the workspace (root `prepare`); `pnpm build` rebuilds it.
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
  console.error("engage-bridge is not built yet: run `pnpm build` at the repository root.");
  process.exit(1);
}
await import(cli.href);
