import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real processes on loopback; each bounds its own waits.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: run test files two at a time so timing-sensitive process tests are not starved.
    maxWorkers: 2,
    reporters: ["default", "./test/summary-reporter.ts"],
    setupFiles: ["./test/setup-fast-check.ts"],
  },
});
