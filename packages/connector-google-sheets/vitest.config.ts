import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Tests run whole deliveries (1,200 rows, the connector's own 1 s pauses before re-reading) against
    // the fake Google; a busy 2-core CI machine running every package at once needs headroom.
    testTimeout: 30_000,
  },
});
