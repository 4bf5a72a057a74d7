import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // These tests start real servers and child processes; a busy 2-core CI machine needs headroom.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Builds the operator console into dist/console/ first: the gateway serves it from there, also
    // when the tests run it from src/.
    globalSetup: ["./scripts/build-console.ts"],
  },
});
